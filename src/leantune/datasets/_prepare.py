"""Turn raw feature and target columns into a checked Dataset (shared by every loader)."""

from __future__ import annotations

from typing import Any

import numpy as np

from leantune.datasets._dataset import Dataset
from leantune.errors import DatasetError

# A target with at most this many distinct integer values is read as class labels.
_MAX_INFERRED_CLASSES = 100

# Work over the whole matrix (checks, scaling statistics, generation) goes a block of about this
# size at a time, so its temporaries stay small next to the data.
CHUNK_BYTES = 1 << 24


def infer_task(y: np.ndarray) -> str:
    """Classification for text or few integer-valued labels, otherwise regression."""
    if y.dtype.kind in "OUSb":
        return "classification"
    values = np.unique(y)
    if y.dtype.kind in "iu" or np.all(np.mod(values, 1) == 0):
        return "classification" if len(values) <= _MAX_INFERRED_CLASSES else "regression"
    return "regression"


def build_dataset(
    name: str,
    X: Any,
    y: Any,
    *,
    task: str | None,
    feature_names: list[str] | None = None,
    provenance: dict[str, Any] | None = None,
) -> Dataset:
    """Check the data and encode labels. Raises DatasetError before any training can start."""
    X = np.ascontiguousarray(X, dtype=np.float64) if _numeric(X) else _reject_text(name, X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise DatasetError(f"dataset {name!r}: features must be a 2-D table; got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DatasetError(
            f"dataset {name!r}: is empty ({X.shape[0]} rows × {X.shape[1]} features)"
        )
    if y.shape[0] != X.shape[0]:
        raise DatasetError(
            f"dataset {name!r}: target has {y.shape[0]} rows but the features have {X.shape[0]}"
        )
    rows = _rows_not_finite(X)
    if len(rows):
        raise DatasetError(
            f"dataset {name!r}: features hold NaN or inf in {len(rows)} rows "
            f"(first: row {int(rows[0])}); drop or impute them first"
        )
    task = task or infer_task(y)
    if task == "classification":
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise DatasetError(
                f"dataset {name!r}: classification needs at least 2 classes; "
                f"the target has only {classes.tolist()}"
            )
        y_out, class_labels = codes.astype(np.int64), classes
    else:
        try:
            y_out = np.ascontiguousarray(y, dtype=np.float64)
        except (TypeError, ValueError):
            raise DatasetError(
                f"dataset {name!r}: regression needs a numeric target; got {y.dtype} values"
            ) from None
        if not np.isfinite(y_out).all():
            raise DatasetError(f"dataset {name!r}: target holds NaN or inf; drop those rows first")
        class_labels = None
    names = feature_names or [f"x{i}" for i in range(X.shape[1])]
    return Dataset(
        name=name,
        task=task,
        X=X,
        y=y_out,
        classes=class_labels,
        feature_names=list(names),
        provenance=dict(provenance or {}),
    )


def _rows_not_finite(X: np.ndarray) -> np.ndarray:
    """Rows holding NaN or inf, without a full-size boolean copy of X (mnist's is 55 MB)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(X.sum()):  # NaN and inf reach the sum; a finite sum clears every value
            return np.empty(0, dtype=np.int64)
    # The sum may also have overflowed on finite values: look row by row, a chunk at a time.
    step = chunk_rows(X)
    found = [
        start + np.flatnonzero(~np.isfinite(X[start : start + step]).all(axis=1))
        for start in range(0, X.shape[0], step)
    ]
    return np.concatenate(found)


def chunk_rows(X: np.ndarray, chunk_bytes: int = CHUNK_BYTES) -> int:
    """How many rows of X make about `chunk_bytes`: the unit for work done a block at a time."""
    return max(1, chunk_bytes // max(1, X.shape[1] * X.itemsize))


def frame_to_float(frame: Any, columns: list[str]) -> np.ndarray:
    """The columns as one C-contiguous float64 matrix, filled column by column.

    `frame.drop(...).to_numpy()` would hold a second copy of the table on the way.
    """
    X = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, column in enumerate(columns):
        X[:, j] = frame[column].to_numpy(dtype=np.float64)
    return X


def _numeric(X: Any) -> bool:
    return np.asarray(X).dtype.kind in "biuf"


def _reject_text(name: str, X: Any) -> np.ndarray:
    raise DatasetError(
        f"dataset {name!r}: features must be numeric; got {np.asarray(X).dtype} columns"
    )
