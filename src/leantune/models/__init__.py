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

from typing import Any

from leantune.models._adapter import (
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
from leantune.models._kinds import (
    BACKENDS,
    MODELS,
    LossFunction,
    ModelKind,
    get_model,
    hinge_loss,
    log_loss,
    model_size_bytes,
    squared_loss,
    weights,
)

# The minibatch estimators load numba (about a second): imported on first use only.
_LAZY = {"MiniBatchSGDClassifier", "MiniBatchSGDRegressor", "TrainingDiverged"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from leantune.models import _minibatch

        return getattr(_minibatch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
