"""Issue 24: a study file, its overrides and its data header are bounded before they are parsed
in full (no hang, no RecursionError), and inputs once wrongly refused are accepted."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from leantune import SpecError, load_spec
from leantune.spec import dump_spec
from leantune.testing import tiny_spec

REFUSED = Path(__file__).parent / "refused"
# The cases that hung or overflowed the stack before: each must end within a generous bound.
BOUNDED = [*sorted(REFUSED.glob("bound-*.yaml")), REFUSED / "data-wide-header.yaml"]
DOES_NOT_HANG_S = 60  # a "does not hang" bound, far above the second each takes


def _validate(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leantune", "validate", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=DOES_NOT_HANG_S,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "300"},
    )


def _one_line_refusal(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert expected in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("study", BOUNDED, ids=lambda p: p.stem)
def test_a_bounded_case_is_refused_in_a_subprocess_without_hanging(study, tmp_path):
    (tmp_path / study.name).write_text(study.read_text())
    for line in study.read_text().splitlines()[1:3]:
        if line.startswith("# data: "):
            name = line.removeprefix("# data: ")
            (tmp_path / name).write_bytes((REFUSED / "data" / name).read_bytes())
    before = sorted(p.name for p in tmp_path.iterdir())

    result = _validate(tmp_path, study.name)

    _one_line_refusal(result, study.read_text().splitlines()[0].removeprefix("# expect: "))
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_study_file_past_one_mib_is_refused_unread(tmp_path):
    study = tmp_path / "big.yaml"
    # A list of a million items: one value short of nothing, two MiB of text.
    study.write_text("name: bad\nsearch:\n  space:\n    alpha: [" + ",1" * 1_000_000 + "]\n")
    _one_line_refusal(_validate(tmp_path, "big.yaml"), "a study file may be at most 1024 KiB")


def test_a_data_header_of_a_million_columns_is_refused_before_the_parse(tmp_path):
    with gzip.open(tmp_path / "wide.csv.gz", "wt") as data:
        data.write(",".join(f"c{i}" for i in range(1_000_000)) + ",y\n")
        data.write(",".join(["1"] * 1_000_000) + ",0\n")
    (tmp_path / "study.yaml").write_text(
        yaml.safe_dump({"name": "wide", "dataset": {"path": "wide.csv.gz", "target": "y"}})
        + "model: logistic\n"
    )
    _one_line_refusal(_validate(tmp_path, "study.yaml"), "has 1,000,001")


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (".=x", "--set '.=x': KEY must be field names joined by dots"),
        ("training..epochs=2", "got 'training..epochs', which has an empty name"),
        ("model=[", "--set 'model=[': not valid YAML"),
        ("name={a: [}", "not valid YAML"),
        ("search.space.alpha=" + "[" * 5000 + "]" * 5000, "nest at most 64 deep"),
    ],
)
def test_a_malformed_override_is_refused_naming_itself(override, expected):
    [line] = _problems(tiny_spec(), [override])
    assert expected in line


def _problems(source, overrides=()):
    with pytest.raises(SpecError) as error:
        load_spec(source, overrides)
    return error.value.problems


def test_a_merge_key_then_the_same_key_overrides_the_merged_value(tmp_path):
    study = tmp_path / "merged.yaml"
    study.write_text(
        textwrap.dedent(
            """
            name: merged
            dataset: {source: sklearn, name: iris}
            model: [logistic]
            validation: &checks {test_size: 0.3, cv_folds: 3}
            training:
              <<: {epochs: 1, report_every: 10}
              epochs: 2
            """
        )
    )
    spec = load_spec(study)
    assert (spec.training.epochs, spec.training.report_every) == (2, 10)


def test_a_key_given_twice_beside_a_merge_is_still_refused(tmp_path):
    study = tmp_path / "twice.yaml"
    study.write_text("name: t\ntraining:\n  <<: {epochs: 1}\n  epochs: 2\n  epochs: 3\n")
    [line] = _problems(study)
    assert "key 'epochs' is given twice, at line 4 and line 5" in line


@pytest.mark.parametrize("text", ["[1e-4]", "[1E-4, 3e-2]", "[2.5e-3]", "[1e+0]"])
def test_an_exponent_without_a_dot_is_a_number(tmp_path, text):
    # YAML 1.1 reads `1e-4` as text; the study file reads it as YAML 1.2 and people do.
    study = tmp_path / "alpha.yaml"
    study.write_text(f"name: t\ndataset: {{name: iris}}\nmodel: logistic\n"
                     f"search: {{space: {{alpha: {text}}}}}\n")  # fmt: skip
    from_file = load_spec(study).search.space.alpha.values
    from_override = load_spec(tiny_spec(), [f"search.space.alpha={text}"]).search.space.alpha
    assert from_file == from_override.values == tuple(map(float, text.strip("[]").split(",")))


def test_an_estimator_module_that_fails_on_import_is_one_line(tmp_path, monkeypatch, capfd):
    (tmp_path / "leantune_planted_module.py").write_text(
        "print('printed on import')\nraise RuntimeError('planted failure')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    model = {"name": "m", "estimator": "leantune_planted_module.Model"}

    [line] = _problems(tiny_spec(model=[model]))

    assert "importing module 'leantune_planted_module' failed: RuntimeError: planted" in line
    assert "printed on import" not in capfd.readouterr().out


def test_a_password_is_redacted_in_the_dumped_spec_but_kept_for_connecting():
    uri = "postgresql://alice:Hunter2@127.0.0.1:9/db"
    spec = load_spec(tiny_spec(tracking={"uri": uri}))

    assert spec.tracking_uri == uri  # what the tracker connects with
    assert "Hunter2" not in dump_spec(spec)
    assert "alice:***@" in dump_spec(spec)
    assert load_spec(spec, ["training.epochs=2"]).tracking_uri == uri  # overrides keep it
