"""The chosen model as an MLflow model: saved, loaded back, and without MLflow's environment
check (its requirements are this environment's own versions)."""

import numpy as np
from mlflow.utils import environment
from sklearn.datasets import load_iris
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from leantune.tracking import load_model, save_model


def test_a_saved_model_loads_back_and_mlflow_does_not_check_the_environment(tmp_path, monkeypatch):
    X, y = load_iris(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), SGDClassifier(random_state=0)).fit(X, y)
    checked = []

    def check(requirements):
        checked.append(requirements)

    monkeypatch.setattr(environment, "warn_dependency_requirement_mismatches", check)
    path = save_model(pipeline, tmp_path / "model", X[:5])

    assert checked == []
    assert environment.warn_dependency_requirement_mismatches is check  # put back
    assert np.array_equal(load_model(path).predict(X), pipeline.predict(X))
    assert "scikit-learn==" in (path / "requirements.txt").read_text()
