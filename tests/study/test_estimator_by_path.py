"""A regressor by import path on the real engine, and by-path mistakes refused before start.

(A classifier by path runs in tests/study/test_objective.py, beside a built-in model.)
"""

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import leantune
from leantune.cli import app
from leantune.testing import tiny_spec

MLP_REGRESSOR = {
    "name": "mlpr",
    "estimator": "sklearn.neural_network.MLPRegressor",
    "params": {"hidden_layer_sizes": [8]},
}


@pytest.mark.slow
def test_a_regressor_by_path_trains_is_scored_picked_and_refit(ray_session, tmp_path):
    spec = tiny_spec(
        dataset={"source": "sklearn", "name": "diabetes"},
        model=[MLP_REGRESSOR],
        search={"space": {"batch_size": [64], "learning_rate": [0.01], "alpha": [1e-4]}},
        constraints={"val_rmse": {"max": 1e6}},
        output={"dir": str(tmp_path / "run"), "report": False},
    )
    result = leantune.run(leantune.load_spec(spec), show_progress=False)
    trials = pd.read_csv(tmp_path / "run" / "trials.csv")
    (trial,) = trials.itertuples()
    assert trial.model == "mlpr" and trial.status == "feasible"
    assert trial.cv_val_rmse == pytest.approx(trial.cv_score_mean) and trial.cv_val_rmse > 0
    assert trial.inference_latency_ms > 0 and trial.model_size_kb > 0
    assert result.best_config["model"] == "mlpr"
    assert result.summary["best"]["cv_metric"] == "val_rmse"
    # The refit pipeline predicts raw feature rows, as a built-in's does.
    assert result.best_estimator.predict([[0.0] * 10]).shape == (1,)


def _refused(tmp_path, monkeypatch, model):
    study = tmp_path / "study.yaml"
    spec = tiny_spec(model=[model], output={"dir": str(tmp_path / "run"), "report": False})
    study.write_text(yaml.safe_dump(spec))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", str(study)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.yaml"]  # nothing written
    return result.output


def test_a_bad_import_path_is_refused_before_start(tmp_path, monkeypatch):
    output = _refused(
        tmp_path, monkeypatch, {"name": "mlp", "estimator": "sklearn.neural_network.MLPClassifer"}
    )
    assert (
        "model[0].estimator: module 'sklearn.neural_network' has no class 'MLPClassifer'; "
        "got 'sklearn.neural_network.MLPClassifer'" in " ".join(output.split())
    )


def test_a_bad_constructor_argument_is_refused_before_start(tmp_path, monkeypatch):
    model = {**MLP_REGRESSOR, "estimator": "sklearn.neural_network.MLPClassifier"}
    model["params"] = {"hidden_layer_size": [8]}
    output = " ".join(_refused(tmp_path, monkeypatch, model).split())
    assert "model[0]: params.hidden_layer_size: is not a constructor argument of" in output
    assert "(did you mean 'hidden_layer_sizes'?); allowed: activation, alpha," in output


@pytest.mark.parametrize(
    "estimator",
    ["sklearn.linear_model.PassiveAggressiveClassifier", "sklearn.linear_model.Perceptron"],
)
@pytest.mark.parametrize(
    "learning_rate", ["absent", [0.01], 0.01], ids=["absent", "one-value list", "scalar"]
)
def test_an_estimator_without_a_step_size_runs_with_the_axis_fixed_or_absent(
    tmp_path, estimator, learning_rate
):
    space = {"batch_size": [16, 32]}
    if learning_rate != "absent":
        space["learning_rate"] = learning_rate
    spec = tiny_spec(
        dataset={"source": "sklearn", "name": "iris"},
        model=[{"name": "m", "estimator": estimator}],
        search={"space": space},
        validation={"cv_folds": 2},
        resources={"backend": "in-process"},
        output={"dir": str(tmp_path / "run"), "report": False},
    )
    result = leantune.run(leantune.load_spec(spec), show_progress=False)
    statuses = result.summary["status_counts"]
    assert statuses["failed"] == 0 and statuses["feasible"] >= 1
    # PassiveAggressive takes no step size: its configs do not repeat once per value of it.
    if "Passive" in estimator:
        assert len(result.trials) == 2


def test_a_shipped_model_larger_than_its_trials_is_replaced_by_the_next_config(tmp_path):
    """An MLP's pickle grows with its loss curve (a float per partial_fit call): refit on the
    whole training part it makes more calls than in any fold, so it can break a size limit its
    trial met. The shipped model is measured as it ships, and the next config refit."""

    def study(out, size_kb):
        spec = tiny_spec(
            dataset={"source": "sklearn", "name": "breast_cancer"},
            model=[
                {
                    **MLP_REGRESSOR,
                    "name": "mlp",
                    "estimator": "sklearn.neural_network.MLPClassifier",
                }
            ],
            search={"space": {"batch_size": [1, 64], "learning_rate": [0.01, 0.001]}},
            validation={"cv_folds": 2},
            constraints={"model_size_kb": size_kb},
            resources={"backend": "in-process"},
            output={"dir": str(tmp_path / out), "report": False},
        )
        return leantune.run(leantune.load_spec(spec), show_progress=False)

    free = study("free", 1e6)
    trials = free.trials.set_index("trial_id")
    best = free.summary["best"]
    trial_kb = float(trials.loc[best["trial_id"], "model_size_kb"])
    shipped_kb = best["model_size_bytes"] / 1024
    assert shipped_kb > trial_kb  # batch 1: ~80 more partial_fit calls, each a float
    # A limit between the two: the trial met it, its shipped model does not.
    limited = study("limited", (trial_kb + shipped_kb) / 2)
    rejected = limited.summary["shipped_rejected"]
    assert rejected and rejected[0]["config"] == best["config"]
    assert "model_size_kb" in rejected[0]["broken"]
    chosen = limited.summary["best"]
    if chosen is not None:
        assert chosen["model_size_bytes"] / 1024 <= (trial_kb + shipped_kb) / 2
        assert chosen["shipped"]["model_size_kb"]["met"]
