"""The `leantune` command as a user runs it: a real process, real exit codes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leantune import load_spec
from leantune.cli import app

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def leantune(*args, cwd, env=None):
    return subprocess.run(
        [sys.executable, "-m", "leantune", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_a_bad_study_file_exits_2_naming_each_field_without_a_traceback(tmp_path):
    study = tmp_path / "bad.yaml"
    study.write_text(
        "name: bad\n"
        "dataset: {source: sklearn, name: iris}\n"
        "model: [logistic]\n"
        "training: {report_every: 0, epoch: 2}\n"
    )
    result = leantune("run", str(study), cwd=tmp_path)
    assert result.returncode == 2
    assert "training.report_every: must be greater than 0; got 0" in result.stderr
    assert "training.epoch: unknown key (did you mean 'epochs'?)" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]  # nothing created


def test_validate_accepts_a_good_file_and_counts_the_grid():
    result = CliRunner().invoke(app, ["validate", str(REPO / "examples" / "quickstart.yaml")])
    assert result.exit_code == 0, result.output
    assert "32 configs" in result.output and "× 3 folds" in result.output


def test_data_dependent_mistakes_are_user_errors_too():
    result = CliRunner().invoke(
        app,
        [
            "validate",
            str(REPO / "examples" / "quickstart.yaml"),
            "--set",
            "search.space.batch_size=[100000]",
        ],
    )
    assert result.exit_code == 2
    assert "search.space.batch_size: must be <= the training fold size" in result.output


def test_an_unreachable_dataset_is_a_clear_error(tmp_path, monkeypatch):
    study = tmp_path / "mnist.yaml"
    study.write_text("name: m\ndataset: {source: pmlb, name: mnist}\nmodel: logistic\n")
    monkeypatch.setenv("LEANTUNE_PMLB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LEANTUNE_PMLB_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(app, ["validate", str(study)])
    assert result.exit_code == 2
    assert "not in the local cache and could not be downloaded" in result.output
    assert "Traceback" not in result.output


def test_ui_refuses_a_directory_that_is_not_a_run(tmp_path):
    result = CliRunner().invoke(app, ["ui", str(tmp_path)])
    assert result.exit_code == 2
    assert "holds no MLflow store" in result.output


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates(example, monkeypatch):
    spec = load_spec(example)
    if spec.dataset.source == "pmlb":
        shared = REPO.parent / "shared" / "datasets" / "pmlb"
        if not shared.is_dir():
            pytest.skip(f"{example.name} needs the PMLB cache at {shared}")
        monkeypatch.setenv("LEANTUNE_PMLB_CACHE", str(shared))
    result = CliRunner().invoke(app, ["validate", str(example)])  # prepares the data too
    assert result.exit_code == 0, result.output
    assert "ok:" in result.output and " 0 configs" not in result.output


def test_version_and_exit_codes_are_in_the_command_itself():
    from leantune import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"leantune {__version__}"
    help_text = " ".join(CliRunner().invoke(app, ["--help"]).output.split())
    assert "Exit codes: 0 done; 2 a problem with the input" in help_text
    assert "130 interrupted" in help_text


def test_thesis_options_are_named_as_the_spec_keys_and_the_old_names_still_work(tmp_path):
    help_text = CliRunner().invoke(app, ["study", "thesis", "--help"], terminal_width=200).output
    assert "--train-time-s" in help_text and "--cv-folds" in help_text
    assert "--memory-mb" in help_text and "--max-train-seconds" not in help_text
    # an old name is still read: its bad value is reported under the option's new name
    result = CliRunner().invoke(
        app, ["study", "thesis", "--max-train-seconds", "0", "--output-dir", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    assert "--train-time-s: must be a number > 0; got 0.0" in result.output


def test_the_command_leaves_without_teardown_yet_runs_exit_handlers_and_flushes(tmp_path):
    # `leantune` skips unloading its libraries at exit (about a second after a study), so
    # what a normal exit does that matters must still happen: exit handlers, flushed output,
    # the command's own exit code.
    probe = (
        "import atexit, pathlib, sys\n"
        "atexit.register(lambda: pathlib.Path('handled').write_text('yes'))\n"
        "from leantune.cli import main\n"
        "sys.argv = ['leantune', *sys.argv[1:]]\n"
        "main()\n"
    )
    good = REPO / "examples" / "quickstart.yaml"
    ran = subprocess.run(
        [sys.executable, "-c", probe, "validate", str(good)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("ok: breast_cancer")
    assert (tmp_path / "handled").read_text() == "yes"

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ndataset: {source: sklearn, name: iris}\nmodel: [logistic]\n")
    ran = subprocess.run(
        [sys.executable, "-c", probe, "validate", str(bad), "--set", "training.epochs=0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 2
    assert "training.epochs" in ran.stderr
