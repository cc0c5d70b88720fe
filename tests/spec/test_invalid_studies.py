"""A corpus of invalid study files (tests/spec/invalid): each is refused by `leantune run` with
exit code 2 and a line naming the field, before Ray starts and before any file or database
exists. Every example in examples/ is accepted (tests/cli/test_cli.py runs them)."""

import shutil
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leantune.cli import app

CORPUS = sorted((Path(__file__).parent / "invalid").glob("*.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must say what error it expects"
    return first.removeprefix("# expect: ")


def test_the_corpus_covers_at_least_twenty_mistakes():
    assert len(CORPUS) >= 20


@pytest.fixture
def nothing_may_start(monkeypatch):
    """Fail loudly if a refused study gets as far as Ray, Tune or the MLflow store."""

    def refuse(what):
        def started(*args, **kwargs):
            raise AssertionError(f"{what} was reached for an invalid study")

        return started

    monkeypatch.setattr("ray.init", refuse("ray.init"))
    monkeypatch.setattr("leantune.study._runner.start_ray", refuse("Ray"))
    monkeypatch.setattr("leantune.study._runner.run_search", refuse("the search"))
    monkeypatch.setattr("leantune.study._runner.open_tracker", refuse("the MLflow store"))
    # `leantune run` installs a SIGTERM handler once the spec loads; keep pytest's own.
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


@pytest.mark.parametrize("study", CORPUS, ids=lambda p: p.stem)
def test_an_invalid_study_is_refused_naming_the_field_and_creates_nothing(
    study, tmp_path, monkeypatch, nothing_may_start
):
    monkeypatch.chdir(tmp_path)
    shutil.copy(study, tmp_path / study.name)
    result = CliRunner().invoke(app, ["run", study.name])
    assert result.exit_code == 2, result.output
    assert _expected(study) in result.output
    assert "error:" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [study.name]  # no run dir, no store
