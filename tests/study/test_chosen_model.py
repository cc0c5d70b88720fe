"""The chosen model a user ships: a Pipeline on raw rows, saved as an MLflow model in the run
directory and on the study's parent run, and read back by `leantune.load`."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.pipeline import Pipeline

import leantune
from leantune.study import prepare_study
from leantune.testing import tiny_spec
from leantune.tracking import load_model

pytestmark = pytest.mark.slow

SPEC = tiny_spec(
    search={"space": {"batch_size": [32, 128], "learning_rate": [0.01], "alpha": [0.0001]}},
    training={"epochs": 2, "report_every": 10, "seed": 0},
    output={"dir": "run", "report": False},
    # The chosen model, not Ray: trials run in this process.
    resources={"backend": "in-process"},
)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("chosen")
    spec = leantune.load_spec(SPEC, [f"output.dir={root / 'run'}"])
    result = leantune.run(spec, show_progress=False)
    prepared = prepare_study(leantune.load_spec(SPEC))
    data, refit = prepared.dataset, prepared.splits.refit
    # Raw (unscaled) held-out rows, as an application would send them.
    return result, root / "run", data.X[refit.val_idx], data.y[refit.val_idx]


def test_the_best_estimator_is_a_pipeline_that_predicts_on_raw_rows(finished):
    result, _, X_test, y_test = finished
    model = result.best_estimator
    assert isinstance(model, Pipeline)
    accuracy = float(np.mean(model.predict(X_test) == y_test))
    assert accuracy == pytest.approx(result.summary["best"]["test"]["test_accuracy"])
    assert result.best_score == result.summary["best"]["cv_score_mean"]
    assert result.best_config == result.summary["best"]["config"]


def test_the_model_is_an_mlflow_model_in_the_run_directory(finished):
    _, run_dir, _, _ = finished
    mlmodel = yaml.safe_load((run_dir / "model" / "MLmodel").read_text())
    assert {"sklearn", "python_function"} <= set(mlmodel["flavors"])
    assert "inputs" in mlmodel["signature"] and "outputs" in mlmodel["signature"]
    assert mlmodel.get("saved_input_example_info")


def test_load_reads_the_same_result_back_from_the_run_directory(finished):
    result, run_dir, X_test, _ = finished
    loaded = leantune.load(run_dir)
    assert type(loaded) is type(result)
    assert loaded.best_config == result.best_config
    assert loaded.best_score == result.best_score
    assert len(loaded.trials) == len(result.trials)
    np.testing.assert_array_equal(
        loaded.best_estimator.predict(X_test), result.best_estimator.predict(X_test)
    )
    assert repr(loaded).startswith("StudyResult('tiny', 2 trials, best val_accuracy=")


def test_the_model_loads_from_the_mlflow_parent_run(finished):
    result, _, X_test, _ = finished
    uri = f"runs:/{result.summary['mlflow_parent_run_id']}/model"
    model = load_model(uri, result.summary["tracking_uri"])
    np.testing.assert_array_equal(model.predict(X_test), result.best_estimator.predict(X_test))


def test_trials_parquet_keeps_its_types(finished):
    _, run_dir, _, _ = finished
    trials = pd.read_parquet(run_dir / "trials.parquet")
    assert str(trials["started_at"].dtype) == "datetime64[ns, UTC]"
    assert (trials["ended_at"] >= trials["started_at"]).all()
    assert str(trials["stop_step"].dtype) == "Int64"
    assert str(trials["error"].dtype) == "string"
    assert str(trials["batch_size"].dtype) == "int64"
    assert str(trials["learning_rate"].dtype) == "float64"


def test_a_moved_run_directory_still_opens(finished, tmp_path):
    _, run_dir, X_test, _ = finished
    moved = tmp_path / "elsewhere"
    shutil.copytree(run_dir, moved)
    loaded = leantune.load(moved)
    assert loaded.run_dir == moved
    assert loaded.best_estimator.predict(X_test[:3]).shape == (3,)


def test_every_column_of_the_run_directory_is_in_its_column_dictionary(finished):
    _, run_dir, _, _ = finished
    doc = (Path(__file__).resolve().parents[2] / "docs" / "run-directory.md").read_text()
    axes = {"model", "batch_size", "learning_rate", "alpha"}
    trials = set(pd.read_parquet(run_dir / "trials.parquet").columns) - axes
    reports = set(pd.read_parquet(run_dir / "reports.parquet").columns)
    missing = sorted(c for c in trials | reports if f"`{c}`" not in doc)
    assert not missing, f"add these columns to docs/run-directory.md: {missing}"
