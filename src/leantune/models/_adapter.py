"""The model adapters: what the trial loop needs of a model, one class per kind.

The loop builds a fresh estimator per fold, steps it one batch at a time, scores it, reads its
step loss, asks whether it diverged, and times and sizes it. It does all of that through a
`ModelAdapter`, so it knows nothing of linear weights:

- `SGDModel`: the built-ins (linear, logistic, svm) on scikit-learn's SGD. Losses come from the
  weights through numpy (the step-loss shortcut: cheaper than a predict call at small batches).
- `MiniBatchModel`: the same built-ins on the compiled mini-batch backend (a window a call).
- `EstimatorModel`: any scikit-learn estimator with `partial_fit`, by import path. Losses and
  scores come from its own outputs (`predict_proba`, else `decision_function`, else
  `predict`), so the step loss costs a forward pass on the batch (kept out of the step time).
"""

from __future__ import annotations

import importlib
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from leantune.models._kinds import MODELS, ModelKind, weights

# Validation rows are scored in chunks of about this many bytes (a scaled copy per chunk).
_CHUNK_BYTES = 2**20
# Probabilities are clipped here before the log, as scikit-learn's log_loss does.
_EPS = 1e-15


class ModelAdapter(ABC):
    """One kind of model as the trial loop sees it."""

    name: str
    task: str
    windowed: bool = False
    """Trains a report window per call (`train_steps`), not a batch per `partial_fit` call."""
    driven: bool = False
    """A training function of the user's drives the steps (`FunctionModel`); the loop only
    hands it the fold's data and a session to report to."""
    loss_source: str = ""
    """Where its losses come from, as outputs say it."""

    @abstractmethod
    def make(self, config: Mapping[str, Any], *, seed: int, batch_size: int) -> Any:
        """A fresh, unfitted estimator for one fold."""

    def step(self, estimator: Any, X: np.ndarray, y: np.ndarray, classes: Any = None) -> None:
        """One training step on one batch; `classes` on a fold's first step (classifiers)."""
        if classes is None:
            estimator.partial_fit(X, y)
        else:
            estimator.partial_fit(X, y, classes=classes)

    @abstractmethod
    def step_loss(self, estimator: Any, X: np.ndarray, y: np.ndarray, targets: Any) -> float:
        """The batch's mean loss under the model before its update (the progressive loss)."""

    @abstractmethod
    def score(
        self,
        estimator: Any,
        X: np.ndarray,
        y: np.ndarray,
        rows: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
        targets: Any,
    ) -> dict[str, float]:
        """val_loss and val_accuracy (classification) or val_rmse on `rows` of the unscaled X.
        `estimator` None: the untrained model's (the divergence rule's yardstick)."""

    @abstractmethod
    def diverged(self, estimator: Any) -> str | None:
        """What stopped being finite in the model, or None."""

    @abstractmethod
    def weight_norm(self, estimator: Any) -> float:
        """The L2 norm of its weights; NaN where it has none to speak of."""

    def predict(self, estimator: Any, X: np.ndarray) -> Any:
        """What deployment runs (timed for the latency)."""
        return estimator.predict(X)

    def size_bytes(self, estimator: Any) -> int:
        """Size of the pickled model: what an application would ship."""
        from leantune.models._kinds import model_size_bytes

        return model_size_bytes(estimator)


@dataclass(frozen=True)
class SGDModel(ModelAdapter):
    """A built-in model on scikit-learn's SGD: `learning_rate` is eta0, `alpha` the L2 penalty."""

    kind: ModelKind
    backend: str = "sklearn"
    loss_source: str = "the model's own loss, from its weights"

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.kind.name

    @property
    def task(self) -> str:  # type: ignore[override]
        return self.kind.task

    def make(self, config: Mapping[str, Any], *, seed: int, batch_size: int) -> Any:
        return self.kind.make(
            learning_rate=float(config["learning_rate"]),
            alpha=float(config["alpha"]),
            seed=seed,
            backend=self.backend,
            batch_size=batch_size,
        )

    def step_loss(self, estimator: Any, X: np.ndarray, y: np.ndarray, targets: Any) -> float:
        from leantune.metrics import batch_loss

        return batch_loss(X, y, weights(estimator), self.kind.loss, targets)

    def score(
        self,
        estimator: Any,
        X: np.ndarray,
        y: np.ndarray,
        rows: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
        targets: Any,
    ) -> dict[str, float]:
        from leantune.metrics import evaluate

        current = weights(estimator) if estimator is not None else None
        return evaluate(X, y, rows, mean, scale, current, self.kind.loss, targets)

    def diverged(self, estimator: Any) -> str | None:
        current = weights(estimator)
        if current is not None and not (
            np.isfinite(current[0]).all() and np.isfinite(current[1]).all()
        ):
            return "weights are not finite"
        return None

    def weight_norm(self, estimator: Any) -> float:
        current = weights(estimator)
        if current is None:
            return 0.0
        coef = current[0].ravel()
        return math.sqrt(float(coef @ coef))  # np.linalg.norm's, at a tenth of its cost


@dataclass(frozen=True)
class MiniBatchModel(SGDModel):
    """A built-in model on the compiled mini-batch backend: one call trains a report window."""

    backend: str = "minibatch"
    windowed: bool = True

    def score(
        self,
        estimator: Any,
        X: np.ndarray,
        y: np.ndarray,
        rows: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
        targets: Any,
    ) -> dict[str, float]:
        """One compiled pass, the scaling folded into the weights: the same metrics as
        SGDModel's numpy pass, at a fraction of the cost (a report must cost what its window
        of compiled steps does)."""
        if estimator is None or not hasattr(estimator, "coef_"):
            return super().score(estimator, X, y, rows, mean, scale, targets)
        from leantune.metrics import quality_from_sums

        # Writable copies (a few numbers, and the rows): the compiled scorer has one machine
        # code per array type, and Ray hands workers read-only folds.
        sums = estimator.score_rows(
            X,
            y,
            np.array(rows, dtype=np.int64),
            mean=np.array(mean, dtype=np.float64),
            inv_scale=1.0 / np.array(scale, dtype=np.float64),
        )
        return quality_from_sums(*sums, len(rows), targets)

    def diverged(self, estimator: Any) -> str | None:
        # The kernel checks the loss and the weights at every step (TrainingDiverged).
        return None


def load_estimator(path: str) -> type:
    """The class at `module.Class`. Raises ValueError saying what is wrong with the path."""
    module_name, _, class_name = path.rpartition(".")
    if not module_name or not class_name:
        raise ValueError(f"must be an import path, module.Class; got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"module {module_name!r} cannot be imported ({error}); got {path!r}"
        ) from None
    found = getattr(module, class_name, None)
    if not inspect.isclass(found):
        raise ValueError(f"module {module_name!r} has no class {class_name!r}; got {path!r}")
    if not callable(getattr(found, "partial_fit", None)):
        raise ValueError(
            f"must name an estimator with partial_fit (leantune trains a batch at a time); "
            f"{path} has none"
        )
    return found


def constructor_arguments(cls: type) -> list[str]:
    """The keyword arguments an estimator class takes (scikit-learn's get_params names)."""
    names = getattr(cls, "_get_param_names", None)
    if callable(names):
        return list(names())
    signature = inspect.signature(cls.__init__)
    return [n for n in signature.parameters if n != "self"]


def task_of(cls: type) -> str | None:
    """classification, regression, or None for an estimator that is neither."""
    kind = getattr(cls, "_estimator_type", None)
    if kind is None:
        try:
            kind = cls().__sklearn_tags__().estimator_type  # scikit-learn >= 1.6
        except Exception:
            kind = None
    return {"classifier": "classification", "regressor": "regression"}.get(kind)


# The search axes a by-path estimator may take, and the constructor argument each goes to.
STEP_SIZE_ARGUMENTS = ("learning_rate_init", "eta0")


class _ScoredByOutputs(ModelAdapter):
    """Losses and scores from the model's own outputs: predict_proba, else decision_function,
    else predict."""

    def step_loss(self, estimator: Any, X: np.ndarray, y: np.ndarray, targets: Any) -> float:
        loss, _ = self._losses(estimator, X, y, targets)
        return float(loss.mean())

    def score(
        self,
        estimator: Any,
        X: np.ndarray,
        y: np.ndarray,
        rows: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
        targets: Any,
    ) -> dict[str, float]:
        inv_scale = 1.0 / scale
        loss_sum = right = squared = 0.0
        chunk_rows = max(16, _CHUNK_BYTES // (8 * X.shape[1]))
        for start in range(0, len(rows), chunk_rows):
            chunk = rows[start : start + chunk_rows]
            truth = y[chunk]
            loss, outputs = self._losses(estimator, (X[chunk] - mean) * inv_scale, truth, targets)
            loss_sum += float(loss.sum())
            if targets.task == "regression":
                squared += float(((outputs - truth) ** 2).sum())
            else:
                right += float((outputs == truth).sum())
        n = max(len(rows), 1)
        result = {"val_loss": loss_sum / n}
        if targets.task == "regression":
            result["val_rmse"] = float(np.sqrt(squared / n))
        else:
            result["val_accuracy"] = right / n
        return result

    def _losses(
        self, estimator: Any, X: np.ndarray, y: np.ndarray, targets: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-row loss and per-row output (class code or value); before the first fit, the
        untrained model's: uniform probabilities, zero decisions, zero predictions."""
        from sklearn.exceptions import NotFittedError

        from leantune.models._kinds import hinge_loss

        n_classes = max(targets.n_outputs, 2)
        try:
            if estimator is None:
                raise NotFittedError
            if targets.task == "regression":
                values = np.asarray(estimator.predict(X), dtype=float).reshape(len(y))
                return 0.5 * (y - values) ** 2, values
            if hasattr(estimator, "predict_proba"):
                proba = np.asarray(estimator.predict_proba(X), dtype=float)
                picked = np.clip(proba[np.arange(len(y)), y.astype(int)], _EPS, 1.0)
                return -np.log(picked), proba.argmax(axis=1)
            if hasattr(estimator, "decision_function"):
                values = np.asarray(estimator.decision_function(X), dtype=float)
                per_output = hinge_loss(values, targets.signs(y))
                codes = (values > 0).astype(int) if values.ndim == 1 else values.argmax(axis=1)
                loss = per_output if per_output.ndim == 1 else per_output.mean(axis=1)
                return loss, codes
            codes = np.asarray(estimator.predict(X))
            return (codes != y).astype(float), codes
        except NotFittedError:
            if targets.task == "regression":
                return 0.5 * y**2, np.zeros(len(y))
            return np.full(len(y), math.log(n_classes)), np.zeros(len(y), dtype=int)

    def _parameters(self, estimator: Any) -> list[np.ndarray]:
        arrays: list[np.ndarray] = []
        for attribute in ("coef_", "intercept_", "coefs_", "intercepts_"):
            value = getattr(estimator, attribute, None)
            if isinstance(value, list | tuple):
                arrays.extend(np.asarray(v, dtype=float) for v in value)
            elif value is not None:
                arrays.append(np.asarray(value, dtype=float))
        return arrays

    def diverged(self, estimator: Any) -> str | None:
        if any(not np.isfinite(a).all() for a in self._parameters(estimator)):
            return "weights are not finite"
        return None

    def weight_norm(self, estimator: Any) -> float:
        coefs = getattr(estimator, "coefs_", None) or [getattr(estimator, "coef_", None)]
        arrays = [np.asarray(c, dtype=float) for c in coefs if c is not None]
        if not arrays:
            return math.nan
        return float(math.sqrt(sum(float((a**2).sum()) for a in arrays)))


@dataclass(frozen=True)
class EstimatorModel(_ScoredByOutputs):
    """Any scikit-learn estimator with partial_fit, named by import path.

    `axes`: search axis → constructor argument (`learning_rate` → `learning_rate_init` for an
    MLP, `eta0` for an SGD estimator; `alpha` → `alpha`; `batch_size` → `batch_size` where the
    estimator splits what partial_fit is given). `params`: fixed constructor arguments.
    """

    name: str  # type: ignore[misc]
    path: str
    task: str  # type: ignore[misc]
    params: Mapping[str, Any] = field(default_factory=dict)
    axes: Mapping[str, str] = field(default_factory=dict)
    loss_source: str = (
        "the estimator's outputs: log loss of predict_proba, else hinge of "
        "decision_function, else error rate of predict (regression: squared error of predict)"
    )

    def make(self, config: Mapping[str, Any], *, seed: int, batch_size: int) -> Any:
        cls = load_estimator(self.path)
        options = dict(self.params)
        for axis, argument in self.axes.items():
            value = batch_size if axis == "batch_size" else config[axis]
            options[argument] = int(value) if axis == "batch_size" else float(value)
        if "random_state" in constructor_arguments(cls):
            options.setdefault("random_state", seed)
        return cls(**options)

    def step(self, estimator: Any, X: np.ndarray, y: np.ndarray, classes: Any = None) -> None:
        argument = self.axes.get("batch_size")
        if argument is not None and getattr(estimator, argument, len(X)) != len(X):
            # An epoch's last, short batch: still one update (the estimator would warn and
            # clip), and the next full batch sets it back.
            estimator.set_params(**{argument: len(X)})
        try:
            super().step(estimator, X, y, classes)
        except ValueError as error:
            # An MLP says "Solver produced non-finite parameter weights": the trial loop reads
            # an overflow ValueError as divergence (as scikit-learn's SGD raises it).
            if "non-finite" not in str(error):
                raise
            raise ValueError(f"floating-point overflow: {error}") from error


@dataclass(frozen=True)
class FunctionModel(_ScoredByOutputs):
    """A training function of the user's: `train(config, data, session)` drives the steps on
    the fold's data (`data`), calls `session.step(loss, model)` once a step, and returns the
    model. `model` needs `predict` (and `predict_proba` or `decision_function`, if it has
    them, for the losses); leantune adds every system metric, stopping, tracking, the ledger
    and the report."""

    name: str  # type: ignore[misc]
    task: str  # type: ignore[misc]
    function: Any = None
    driven: bool = True
    loss_source: str = (
        "the training function's own step losses; validation losses from the model's outputs "
        "(log loss of predict_proba, else hinge of decision_function, else error rate of "
        "predict; regression: squared error of predict)"
    )

    def make(self, config: Mapping[str, Any], *, seed: int, batch_size: int) -> Any:
        return None  # the function builds its own model and hands it over at each step


def get_adapter(
    name: str, backend: str = "sklearn", estimators: Mapping[str, EstimatorModel] | None = None
) -> ModelAdapter:
    """The adapter for a config's `model`: a built-in on its backend, or a by-path estimator."""
    if estimators and name in estimators:
        return estimators[name]  # a by-path estimator or a training function
    if name in MODELS:
        return (MiniBatchModel if backend == "minibatch" else SGDModel)(MODELS[name])
    known = [*MODELS, *(estimators or {})]
    raise ValueError(f"model must be one of {', '.join(known)}; got {name!r}")
