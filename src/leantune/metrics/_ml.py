"""ML metrics computed with numpy from the weights, not through predict(): its input checks
cost more than a training step at small batch sizes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LossFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Per-row loss from decision values and targets: what a model kind minimizes."""

# Validation rows are gathered in chunks of about this many bytes, so a trial never holds a
# copy of the validation set, however wide the rows.
_CHUNK_BYTES = 2**20


def score_metric(task: str) -> tuple[str, str]:
    """The validation metric that ranks configs, and whether higher ("max") or lower is better."""
    return ("val_accuracy", "max") if task == "classification" else ("val_rmse", "min")


@dataclass(frozen=True)
class Targets:
    """How a task turns decision values into a loss: signs (classifiers) or values (regression)."""

    task: str
    n_outputs: int

    def signs(self, y: np.ndarray) -> np.ndarray:
        """±1 per row (binary) or per row and one-vs-rest class (multiclass)."""
        if self.task == "regression":
            return y
        if self.n_outputs == 1:
            return 2.0 * y - 1.0
        signs = np.full((len(y), self.n_outputs), -1.0)
        signs[np.arange(len(y)), y] = 1.0
        return signs


def decision(X: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """f(x) per row: (n,) for one output, (n, K) for one-vs-rest."""
    if coef.shape[0] == 1:
        return X @ coef[0] + intercept[0]
    return X @ coef.T + intercept


def batch_loss(
    X: np.ndarray,
    y: np.ndarray,
    weights: tuple[np.ndarray, np.ndarray] | None,
    loss: LossFunction,
    targets: Targets,
) -> float:
    """Mean loss of a batch. Before the first update the weights are zero, as in scikit-learn."""
    if weights is None:
        shape = (len(y),) if targets.n_outputs == 1 else (len(y), targets.n_outputs)
        values = np.zeros(shape)
    else:
        values = decision(X, *weights)
    return float(loss(values, targets.signs(y)).mean())


def evaluate(
    X: np.ndarray,
    y: np.ndarray,
    rows: np.ndarray,
    mean: np.ndarray,
    scale: np.ndarray,
    weights: tuple[np.ndarray, np.ndarray] | None,
    loss: LossFunction,
    targets: Targets,
) -> dict[str, float]:
    """Loss and accuracy (classification) or RMSE (regression) on `rows` of the unscaled X.

    The scaling is folded into the weights — f((x − m)/s) = x·(w/s) + (b − (m/s)·w) — so the
    rows are used as stored, without a scaled copy.
    """
    if weights is None:
        coef = np.zeros((targets.n_outputs, X.shape[1]))
        intercept = np.zeros(targets.n_outputs)
    else:
        coef, intercept = weights
    folded = coef / scale
    shifted = intercept - folded @ mean
    loss_sum = hits = squared = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        chunk_rows = max(16, _CHUNK_BYTES // (8 * X.shape[1]))
        for start in range(0, len(rows), chunk_rows):
            chunk = rows[start : start + chunk_rows]
            values = decision(X[chunk], folded, shifted)
            truth = y[chunk]
            loss_sum += float(loss(values, targets.signs(truth)).sum())
            if targets.task == "regression":
                squared += float(((values - truth) ** 2).sum())
            elif targets.n_outputs == 1:
                hits += float(((values > 0) == (truth == 1)).sum())
            else:
                hits += float((values.argmax(axis=1) == truth).sum())
    return quality_from_sums(loss_sum, hits, squared, len(rows), targets)


def quality_from_sums(
    loss_sum: float, hits: float, squared: float, n_rows: int, targets: Targets
) -> dict[str, float]:
    """The validation metrics from sums over `n_rows` rows: the loss summed over rows and
    outputs, the rows predicted right (classifiers), the squared error (regression)."""
    n = max(n_rows, 1)
    result = {"val_loss": loss_sum / (n * targets.n_outputs)}
    if targets.task == "regression":
        result["val_rmse"] = float(np.sqrt(squared / n))
    else:
        result["val_accuracy"] = hits / n
    return result
