"""The chosen model as an MLflow model: saved, loaded back, and without MLflow's environment
check (its requirements are this environment's own versions)."""

import numpy as np
import pytest
from mlflow.utils import environment
from sklearn.datasets import load_iris
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from leantune.errors import LeantuneError
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


class _Planted:
    """Unpickling this creates a file: what a crafted model.pkl could do with os.system."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _tamper_to_pickle(model_dir, marker):
    """Make `model_dir` say cloudpickle, beside a pickle that would create `marker`."""
    import pickle

    import yaml

    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"]["serialization_format"] = "cloudpickle"
    mlmodel["flavors"]["sklearn"]["pickled_model"] = "model.pkl"
    (model_dir / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    (model_dir / "model.pkl").write_bytes(pickle.dumps(_Planted(marker)))


def _saved(tmp_path):
    X, y = load_iris(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), SGDClassifier(random_state=0)).fit(X, y)
    return save_model(pipeline, tmp_path / "model", X[:5])


def test_a_model_directory_tampered_to_pickle_is_refused_and_runs_nothing(tmp_path):
    path = _saved(tmp_path)
    marker = tmp_path / "planted-code-ran"
    _tamper_to_pickle(path, marker)

    with pytest.raises(LeantuneError) as refused:
        load_model(path)

    assert not marker.exists()
    [line] = refused.value.problems
    assert "serialization_format must be 'skops'" in line and "got 'cloudpickle'" in line
    assert "trust=True" in line


def test_trust_is_the_explicit_opt_in_for_a_directory_one_trusts(tmp_path):
    path = _saved(tmp_path)
    marker = tmp_path / "trusted-code-ran"
    _tamper_to_pickle(path, marker)

    load_model(path, trust=True)  # the planted object is a file handle: what it says, it does

    assert marker.exists()


def test_a_skops_file_with_a_foreign_type_is_refused(tmp_path):
    import collections

    import skops.io

    path = _saved(tmp_path)
    # An OrderedDict subclass from another package stands in for any class skops would
    # reconstruct; it is not scikit-learn's nor leantune's.
    skops.io.dump({"m": collections.Counter(a=1)}, path / "model.skops")

    with pytest.raises(LeantuneError, match="holds types beyond scikit-learn's"):
        load_model(path)


def test_a_model_file_outside_the_model_directory_is_refused(tmp_path):
    import yaml

    path = _saved(tmp_path)
    mlmodel = yaml.safe_load((path / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"]["pickled_model"] = "../elsewhere.skops"
    (path / "MLmodel").write_text(yaml.safe_dump(mlmodel))

    with pytest.raises(LeantuneError, match="pickled_model must name a file in the model"):
        load_model(path)
