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
