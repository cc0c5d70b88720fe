"""The model adapters: one interface over the SGD built-ins, the minibatch backend and any
scikit-learn estimator with partial_fit named by import path."""

import math

import numpy as np
import pytest

from leantune.metrics import Targets
from leantune.models import EstimatorModel, MiniBatchModel, SGDModel, get_adapter


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def _mlp(**params):
    return EstimatorModel(
        "mlp",
        "sklearn.neural_network.MLPClassifier",
        "classification",
        {"hidden_layer_sizes": [4], **params},
        {"batch_size": "batch_size", "alpha": "alpha", "learning_rate": "learning_rate_init"},
    )


def test_the_built_ins_keep_their_adapter_per_backend():
    assert isinstance(get_adapter("logistic"), SGDModel)
    assert isinstance(get_adapter("svm", "minibatch"), MiniBatchModel)
    assert get_adapter("svm", "minibatch").windowed and not get_adapter("svm").windowed
    mlp = _mlp()
    assert get_adapter("mlp", "sklearn", {"mlp": mlp}) is mlp
    with pytest.raises(ValueError, match="model must be one of linear, logistic, svm, mlp"):
        get_adapter("tree", "sklearn", {"mlp": mlp})


def test_an_estimator_by_path_gets_its_axes_as_constructor_arguments():
    config = {"model": "mlp", "batch_size": 16, "learning_rate": 0.05, "alpha": 0.001}
    estimator = _mlp().make(config, seed=7, batch_size=16)
    params = estimator.get_params()
    assert (params["learning_rate_init"], params["alpha"], params["batch_size"]) == (0.05, 1e-3, 16)
    assert params["random_state"] == 7 and params["hidden_layer_sizes"] == [4]


def test_its_losses_come_from_its_own_outputs(blobs):
    X, y = blobs
    model, targets = _mlp(), Targets("classification", 1)
    config = {"batch_size": 32, "learning_rate": 0.05, "alpha": 1e-4}
    estimator = model.make(config, seed=0, batch_size=32)
    rows, zero, one = np.arange(len(y)), np.zeros(4), np.ones(4)
    # Untrained: uniform probabilities, so the log loss of two classes.
    assert model.step_loss(estimator, X[:32], y[:32], targets) == pytest.approx(math.log(2))
    assert model.score(None, X, y, rows, zero, one, targets)["val_loss"] == pytest.approx(
        math.log(2)
    )
    for start in range(0, 96, 32):
        model.step(estimator, X[start : start + 32], y[start : start + 32], np.arange(2))
    scores = model.score(estimator, X, y, rows, zero, one, targets)
    proba = estimator.predict_proba(X)[np.arange(len(y)), y]
    assert scores["val_loss"] == pytest.approx(-np.log(proba).mean())
    assert scores["val_accuracy"] == pytest.approx((estimator.predict(X) == y).mean())
    assert model.diverged(estimator) is None and model.weight_norm(estimator) > 0
    estimator.coefs_[0][0, 0] = np.nan
    assert model.diverged(estimator) == "weights are not finite"


def test_without_predict_proba_the_hinge_of_decision_function_is_the_loss(blobs):
    X, y = blobs
    model = EstimatorModel(
        "sgd", "sklearn.linear_model.SGDClassifier", "classification", {"loss": "hinge"}
    )
    estimator = model.make({}, seed=0, batch_size=32)
    targets = Targets("classification", 1)
    model.step(estimator, X, y, np.arange(2))
    margins = estimator.decision_function(X) * (2 * y - 1)
    assert model.step_loss(estimator, X, y, targets) == pytest.approx(
        np.maximum(0, 1 - margins).mean()
    )


def test_a_regressor_by_path_is_scored_on_its_predictions(blobs):
    X, _ = blobs
    y = X @ np.array([1.0, -2.0, 0.5, 0.0])
    model = EstimatorModel(
        "sgdr", "sklearn.linear_model.SGDRegressor", "regression", {}, {"alpha": "alpha"}
    )
    estimator = model.make({"alpha": 1e-4}, seed=0, batch_size=32)
    targets, rows = Targets("regression", 1), np.arange(len(y))
    assert model.step_loss(estimator, X, y, targets) == pytest.approx(0.5 * (y**2).mean())
    model.step(estimator, X, y)
    scores = model.score(estimator, X, y, rows, np.zeros(4), np.ones(4), targets)
    assert scores["val_rmse"] == pytest.approx(np.sqrt(((estimator.predict(X) - y) ** 2).mean()))
    assert model.size_bytes(estimator) > 0 and model.predict(estimator, X).shape == (len(y),)
