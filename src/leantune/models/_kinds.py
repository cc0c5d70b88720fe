"""The built-in SGD models (their kinds, losses and size), below the adapters that train them."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np

from leantune.metrics._ml import LossFunction

BACKENDS = ("sklearn", "minibatch")


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
