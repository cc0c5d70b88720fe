"""`leantune study thesis`: the original study's setup as a preset, and its results chapter."""

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from leantune import LeantuneError, load_spec
from leantune.cli import app
from leantune.study._thesis import GRID, ThesisOptions, run_thesis, thesis_spec

TINY_GRID = {"batch_size": [2, 32], "learning_rate": [0.01], "alpha": [0.0001]}


def test_each_set_gets_the_models_of_its_task_the_thesis_grid_and_protocol(tmp_path):
    options = ThesisOptions(subsample=500, folds=3, max_train_seconds=7)
    regression = load_spec(
        thesis_spec("529_pollen", "regression", options, tmp_path, synthetic=False)
    )
    classification = load_spec(
        thesis_spec("kddcup", "classification", options, tmp_path, synthetic=False)
    )
    assert regression.model == ["linear"]
    assert classification.model == ["logistic", "svm"]
    space = classification.search.space
    assert space.batch_size.model_dump() == {"pow2": [1, "max"]}
    assert space.learning_rate.model_dump() == {"pow10": [-4, -1]}
    assert space.alpha.model_dump() == GRID["alpha"]
    assert classification.validation.test_size == 0.3
    assert classification.validation.cv_folds == 3
    assert classification.training.report_every == 100
    assert classification.resources.cpus_per_trial == 1
    assert classification.constraints.train_time_s == 7
    assert classification.dataset.subsample.rows == 500
    synthetic = load_spec(thesis_spec("mnist", "classification", options, tmp_path, synthetic=True))
    assert synthetic.dataset.source == "synthetic" and synthetic.name == "thesis-mnist-synthetic"


def test_the_command_reruns_exactly_what_was_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("LEANTUNE_PMLB_CACHE", raising=False)
    options = ThesisOptions(datasets=("diabetes", "kddcup"), subsample=0, compare_stopping=True)
    assert options.command(tmp_path / "out") == (
        "leantune study thesis --datasets diabetes,kddcup --train-time-s 2 --subsample 0 "
        f"--cv-folds 5 --seed 0 --compare-stopping --output-dir {tmp_path / 'out'}"
    )
    assert options.rows is None


def test_the_backend_reaches_every_sets_training_and_the_command(tmp_path, monkeypatch):
    monkeypatch.delenv("LEANTUNE_PMLB_CACHE", raising=False)
    options = ThesisOptions(datasets=("kddcup",), subsample=0, backend="minibatch")
    spec = load_spec(thesis_spec("kddcup", "classification", options, tmp_path, synthetic=False))
    assert spec.training.backend == "minibatch"
    assert "--seed 0 --backend minibatch --output-dir" in options.command(tmp_path)
    default = thesis_spec("kddcup", "classification", ThesisOptions(), tmp_path, synthetic=False)
    assert load_spec(default).training.backend == "sklearn"
    assert "--backend" not in ThesisOptions().command(tmp_path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"datasets": ("mnist", "iris")}, "--datasets: must be a comma-separated list of mnist"),
        ({"datasets": ("mnist", "mnist")}, "--datasets: names a set twice"),
        ({"max_train_seconds": 0}, "--train-time-s: must be a number > 0; got 0"),
        ({"subsample": -1}, "--subsample: must be a row count >= 0"),
        ({"folds": 0}, "--cv-folds: must be an integer >= 1; got 0"),
        ({"backend": "torch"}, "--backend: must be one of sklearn, minibatch; got torch"),
    ],
)
def test_bad_budgets_name_the_option_and_what_was_given(options, message):
    with pytest.raises(LeantuneError, match=message):
        ThesisOptions(**options)


def test_the_cli_turns_a_bad_option_into_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(
        app, ["study", "thesis", "--datasets", "mnist,irsi", "--output-dir", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    assert "--datasets: must be a comma-separated list" in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def offline_cache(tmp_path, shared_pmlb, monkeypatch):
    """A cache with real diabetes, and only the summary of mnist (no data file), offline."""
    cache = tmp_path / "cache"
    shutil.copytree(shared_pmlb / "diabetes", cache / "diabetes")
    (cache / "mnist").mkdir(parents=True)
    # mnist's own summary, shrunk: the stand-in is generated at the size it says.
    summary = (shared_pmlb / "mnist" / "summary_stats.tsv").read_text()
    (cache / "mnist" / "summary_stats.tsv").write_text(summary.replace("\t70000\t", "\t400\t"))
    monkeypatch.setenv("LEANTUNE_PMLB_URL", "http://127.0.0.1:9")  # refuses at once
    return cache


@pytest.mark.slow
def test_a_tiny_thesis_runs_real_sets_skips_missing_ones_and_writes_the_chapter(
    ray_session, offline_cache, tmp_path, parsed
):
    out = tmp_path / "thesis"
    result = run_thesis(
        ThesisOptions(
            datasets=("mnist", "diabetes"),
            subsample=150,
            folds=2,
            max_train_seconds=30,
            compare_stopping=True,
            cache_dir=offline_cache,
            output_dir=out,
            grid=TINY_GRID,
        ),
        show_progress=False,
    )
    mnist, diabetes = result.outcomes
    assert (mnist.status, diabetes.status, diabetes.data) == ("skipped", "ran", "real")
    assert "mnist: not available offline" in mnist.reason
    assert (out / "diabetes" / "stopped" / "report.html").is_file()
    assert not (out / "mnist").exists()
    thesis = json.loads((out / "thesis.json").read_text())
    assert thesis["command"] == result.command and "--compare-stopping" in result.command
    summary = json.loads((out / "diabetes" / "stopped" / "summary.json").read_text())
    assert summary["dataset"]["subsample"] == {
        "rows": 150,
        "of_rows": 768,
        "seed": 0,
        "stratified": True,
    }

    chapter = parsed(out / "results.html")
    assert {
        "data",
        "rq1_spearman_all",
        "rq2_all",
        "diabetes-rq2_arms",
        "diabetes-rq1_spearman",
        "diabetes-chosen_config",
    } <= set(chapter.tables)
    assert {
        "rq1_spearman_all",
        "diabetes-rq1_effect_batch_size",
        "diabetes-rq2_arm_costs",
        "diabetes-curves",
    } <= set(chapter.figures)
    text = (out / "results.md").read_text()
    assert result.command in text
    assert "real PMLB, subsample 150 of 768 rows (seed 0)" in text
    assert "mnist: not available offline" in text
    data = pd.read_csv(out / "results" / "data.csv")
    assert list(data["dataset"]) == ["mnist", "diabetes"]


@pytest.mark.slow
def test_synthetic_missing_runs_the_labelled_stand_in(
    ray_session, offline_cache, tmp_path, monkeypatch
):
    import leantune.study._thesis as thesis

    monkeypatch.setattr(thesis, "GRID", TINY_GRID)  # the CLI has no grid option
    out = tmp_path / "thesis"
    result = CliRunner().invoke(
        app,
        [
            "study",
            "thesis",
            "--datasets",
            "mnist",
            "--synthetic-missing",
            "--subsample",
            "100",
            "--folds",
            "2",
            "--max-train-seconds",
            "30",
            "--cache-dir",
            str(offline_cache),
            "--output-dir",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "mnist: ran: synthetic data" in result.output
    assert "SYNTHETIC stand-in" in result.output
    summary = json.loads((out / "mnist" / "summary.json").read_text())
    assert summary["dataset"]["synthetic"] is True
    text = (out / "results.html").read_text()
    assert "SYNTHETIC DATA: mnist ran on seeded synthetic stand-ins" in text
