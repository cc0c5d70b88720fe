"""A corpus of invalid study files (tests/spec/invalid, tests/spec/refused): each is refused by
`leantune validate` and by `leantune run` with exit code 2 and a line naming the field, before
Ray starts and before any file or database exists. Every example in examples/ is accepted
(tests/cli/test_cli.py runs them).

A file's first line is `# expect: TEXT`, the text its error line must hold (printed literally:
no Rich markup may eat a bracket). Below it, `# data: NAME` copies refused/data/NAME next to
the study, `# fifo: NAME` puts a named pipe there, and `# secret: TEXT` is a password the file
holds, which no output may show (issue 24).
"""

import os
import shutil
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leantune.cli import app

HERE = Path(__file__).parent
CORPUS = sorted((HERE / "invalid").glob("*.yaml"))
# The hardening corpus (issue 12): bad input found by trying leantune as a new user would.
REFUSED = sorted((HERE / "refused").glob("*.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must say what error it expects"
    return first.removeprefix("# expect: ")


def _setup(study: Path, directory: Path) -> None:
    """Place the study file, and the data files its header asks for, in `directory`."""
    shutil.copy(study, directory / study.name)
    for line in study.read_text().splitlines()[1:]:
        if line.startswith("# data: "):
            name = line.removeprefix("# data: ")
            shutil.copy(study.parent / "data" / name, directory / name)
        elif line.startswith("# fifo: "):
            os.mkfifo(directory / line.removeprefix("# fifo: "))


def test_the_corpus_covers_at_least_twenty_mistakes():
    assert len(CORPUS) >= 20


def test_the_hardening_corpus_covers_at_least_forty_more():
    assert len(REFUSED) >= 40
    assert not {p.name for p in REFUSED} & {p.name for p in CORPUS}


@pytest.fixture
def nothing_may_start(monkeypatch):
    """Fail loudly if a refused study gets as far as Ray, Tune or the MLflow store."""

    def refuse(what):
        def started(*args, **kwargs):
            raise AssertionError(f"{what} was reached for an invalid study")

        return started

    monkeypatch.setattr("ray.init", refuse("ray.init"))
    monkeypatch.setattr("leantune.study._runner.start_ray", refuse("Ray"))
    monkeypatch.setattr("leantune.study._search.run_search", refuse("the search"))
    monkeypatch.setattr("leantune.study._runner.open_tracker", refuse("the MLflow store"))
    # `leantune run` installs a SIGTERM handler once the spec loads; keep pytest's own.
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("study", CORPUS + REFUSED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_an_invalid_study_is_refused_naming_the_field_and_creates_nothing(
    study, command, tmp_path, monkeypatch, nothing_may_start
):
    monkeypatch.chdir(tmp_path)
    _setup(study, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(app, [command, study.name])
    assert result.exit_code == 2, result.output
    assert _expected(study) in " ".join(result.output.split())  # the console may wrap lines
    assert "error:" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no run dir, no store
    for secret in _headers(study, "# secret: "):
        assert secret not in result.output


def _headers(study: Path, prefix: str) -> list[str]:
    return [
        line.removeprefix(prefix)
        for line in study.read_text().splitlines()[1:4]
        if line.startswith(prefix)
    ]


def test_a_binary_study_file_is_refused_in_one_line(tmp_path, monkeypatch, nothing_may_start):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "study.yaml").write_bytes(b"name: bad\n\xff\xfe\x00\x01" + bytes(range(128, 256)))
    for command in ("validate", "run"):
        result = CliRunner().invoke(app, [command, "study.yaml"])
        assert result.exit_code == 2, result.output
        assert "study.yaml: a study file must be UTF-8 text (YAML); got byte 0xff" in result.output
        assert "Traceback" not in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["study.yaml"]


def test_a_study_file_that_is_a_fifo_is_refused_not_read(tmp_path, monkeypatch, nothing_may_start):
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "study.yaml")  # reading it would block until a writer came
    result = CliRunner().invoke(app, ["validate", "study.yaml"])
    assert result.exit_code == 2, result.output
    assert "study.yaml: study file is not a regular file" in result.output
