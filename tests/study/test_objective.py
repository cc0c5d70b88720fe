"""A real tiny study with an objective on a system metric and a quality floor, over a built-in
model and a scikit-learn estimator by import path (an MLP)."""

import json

import pandas as pd
import pytest

import leantune
from leantune.testing import tiny_spec

pytestmark = pytest.mark.slow

MLP = {
    "name": "mlp",
    "estimator": "sklearn.neural_network.MLPClassifier",
    "params": {"hidden_layer_sizes": [8]},
}
# On breast_cancer (seed 0, 2 folds, batch 128) learning rate 0.1 gives a mean CV accuracy of
# 0.97 (logistic) and 0.94 (mlp), 1e-5 only 0.93 and 0.60: the floor at 0.935 splits them.
SPEC = tiny_spec(
    model=["logistic", MLP],
    search={"space": {"batch_size": [128], "learning_rate": [0.1, 1e-5], "alpha": [1e-4]}},
    objective={"metric": "inference_latency_ms", "mode": "min"},
    constraints={"val_accuracy": {"min": 0.935}, "train_time_s": 600},
    # The pipeline's logic, not Ray's: trials run in this process.
    resources={"backend": "in-process"},
)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("objective") / "run"
    spec = leantune.load_spec(SPEC, [f"output.dir={run_dir}"])
    return leantune.run(spec, show_progress=False), run_dir


def test_a_trial_under_the_floor_runs_to_its_end_and_is_infeasible(finished):
    _, run_dir = finished
    trials = pd.read_csv(run_dir / "trials.csv")
    under, over = trials[trials["learning_rate"] == 1e-5], trials[trials["learning_rate"] == 0.1]
    assert set(under["model"]) == set(over["model"]) == {"logistic", "mlp"}
    assert (under["status"] == "infeasible").all()
    assert (under["stop_label"] == "val_accuracy floor").all()
    assert (under["cv_val_accuracy"] < 0.935).all()
    assert (under["stop_value"] == under["cv_val_accuracy"]).all()
    assert (under["steps_done"] == under["steps_planned"]).all()  # never stopped early
    assert (over["status"] == "feasible").all() and (over["cv_val_accuracy"] >= 0.935).all()


def test_the_pick_is_the_feasible_trial_with_the_lowest_latency(finished):
    result, run_dir = finished
    trials = pd.read_csv(run_dir / "trials.csv")
    feasible = trials[trials["status"] == "feasible"]
    fastest = feasible.loc[feasible["inference_latency_ms"].idxmin()]
    assert result.best_config["model"] == fastest["model"]
    assert result.best_config["learning_rate"] == fastest["learning_rate"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["objective"] == {"metric": "inference_latency_ms", "mode": "min"}
    assert summary["quality_constraints"] == {"val_accuracy": {"min": 0.935}}
    assert summary["constraints"] == {"train_time_s": 600}
    assert summary["best"]["objective_value"] == pytest.approx(fastest["inference_latency_ms"])


def test_the_pareto_front_and_the_summary_follow_the_objective(finished):
    from rich.console import Console

    from leantune.cli._summary import print_summary
    from leantune.report._frontier import pareto_frame, trade_off_metrics
    from leantune.report._run import load_run

    result, run_dir = finished
    run = load_run(run_dir)
    assert trade_off_metrics(run) == ["inference_latency_ms", "train_time_s"]
    frame = pareto_frame(run)
    chosen = frame[frame["chosen"]]
    assert len(chosen) == 1 and bool(chosen["front_inference_latency_ms"].iloc[0])
    console = Console(record=True, width=200)
    print_summary(result.summary, console)
    text = console.export_text()
    assert "objective: minimize inference_latency_ms" in text
    assert "val_accuracy ≥ 0.935" in text
    assert "Broke a limit (not stopped) (2): 2 by val_accuracy floor" in text


def test_the_estimator_by_path_is_named_with_its_axes_and_loss_source(finished):
    result, _ = finished
    mlp = result.summary["estimators"]["mlp"]
    assert mlp["estimator"] == "sklearn.neural_network.MLPClassifier"
    assert mlp["axes"] == {
        "batch_size": "batch_size",
        "alpha": "alpha",
        "learning_rate": "learning_rate_init",
    }
    assert "predict_proba" in mlp["losses"]
