"""The SGD models leantune tunes, and their losses computed straight from decision values.

Two backends train them:
- `sklearn` (the default, the defining study's system): mini-batch `partial_fit`. scikit-learn's
  SGD updates the weights once per *sample* inside a call, so the batch size changes call
  overhead and step time, not what is learned (with the same row order, any batch size gives
  the same weights).
- `minibatch`: true mini-batch SGD (one update per batch, the gradient averaged over it) in a
  compiled kernel that runs a whole report window per call, so batch size changes what is
  learned. See `leantune.models._minibatch`.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

LossFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]

BACKENDS = ("sklearn", "minibatch")
# The minibatch estimators load numba (about a second): imported on first use only.
_LAZY = {"MiniBatchSGDClassifier", "MiniBatchSGDRegressor", "TrainingDiverged"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from leantune.models import _minibatch

        return getattr(_minibatch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def squared_loss(decision: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-row 0.5·(y − f(x))², scikit-learn's SquaredLoss."""
    return 0.5 * (target - decision) ** 2


def log_loss(decision: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Per-row (and per one-vs-rest class) log(1 + exp(−s·f(x))), stable for large margins."""
    return np.logaddexp(0.0, -signs * decision)


def hinge_loss(decision: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Per-row (and per one-vs-rest class) max(0, 1 − s·f(x))."""
    return np.maximum(0.0, 1.0 - signs * decision)


@dataclass(frozen=True)
class ModelKind:
    """One tunable model: how to build it and which loss it minimizes."""

    name: str
    task: str
    sklearn_loss: str
    loss: LossFunction

    def make(
        self,
        *,
        learning_rate: float,
        alpha: float,
        seed: int,
        backend: str = "sklearn",
        batch_size: int = 32,
    ) -> Any:
        """A fresh estimator; `batch_size` matters to the minibatch backend only (its steps)."""
        if backend == "minibatch":
            from leantune.models import _minibatch

            kind = (
                _minibatch.MiniBatchSGDRegressor
                if self.task == "regression"
                else _minibatch.MiniBatchSGDClassifier
            )
            return kind(
                self.sklearn_loss,
                alpha=alpha,
                eta0=learning_rate,
                batch_size=batch_size,
                shuffle=False,
                random_state=seed,
            )
        if backend != "sklearn":
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
        # Here, not at the top: the spec reads this module, and `validate`, `schema` and
        # `datasets` load no scikit-learn (most of a second).
        from sklearn.linear_model import SGDClassifier, SGDRegressor

        # shuffle=False: leantune orders the rows itself (seeded, per epoch), so a step is
        # exactly the batch it was given. Constant schedule: eta0 is the learning rate.
        options = dict(
            loss=self.sklearn_loss,
            penalty="l2",
            alpha=alpha,
            learning_rate="constant",
            eta0=learning_rate,
            shuffle=False,
            random_state=seed,
        )
        if self.task == "regression":
            return SGDRegressor(**options)
        return SGDClassifier(**options)


MODELS: dict[str, ModelKind] = {
    "linear": ModelKind("linear", "regression", "squared_error", squared_loss),
    "logistic": ModelKind("logistic", "classification", "log_loss", log_loss),
    "svm": ModelKind("svm", "classification", "hinge", hinge_loss),
}


def get_model(name: str) -> ModelKind:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {name!r}") from None


def weights(estimator: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(coef as n_outputs × n_features, intercept as n_outputs), or None before the first fit."""
    coef = getattr(estimator, "coef_", None)
    if coef is None:
        return None
    return np.atleast_2d(coef), np.atleast_1d(estimator.intercept_)


def model_size_bytes(estimator: Any) -> int:
    """Size of the pickled model: what an application would ship."""
    try:
        return len(pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, AttributeError, TypeError):
        # A training function's model whose class lives in a script pickles by value only.
        import cloudpickle

        return len(cloudpickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL))


# The adapters read the names above: imported last.
from leantune.models._adapter import (  # noqa: E402
    EstimatorModel,
    FunctionModel,
    MiniBatchModel,
    ModelAdapter,
    SGDModel,
    constructor_arguments,
    get_adapter,
    load_estimator,
    task_of,
)

__all__ = [
    "BACKENDS",
    "MODELS",
    "EstimatorModel",
    "FunctionModel",
    "LossFunction",
    "MiniBatchModel",
    "ModelAdapter",
    "ModelKind",
    "SGDModel",
    "constructor_arguments",
    "get_adapter",
    "get_model",
    "hinge_loss",
    "load_estimator",
    "log_loss",
    "model_size_bytes",
    "squared_loss",
    "task_of",
    "weights",
]
