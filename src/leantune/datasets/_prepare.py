"""Turn raw feature and target columns into a checked Dataset (shared by every loader)."""

from __future__ import annotations

from typing import Any

import numpy as np

from leantune.datasets._dataset import Dataset
from leantune.errors import DatasetError

# A target with at most this many distinct integer values is read as class labels.
_MAX_INFERRED_CLASSES = 100


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
    bad = ~np.isfinite(X)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
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


def _numeric(X: Any) -> bool:
    return np.asarray(X).dtype.kind in "biuf"


def _reject_text(name: str, X: Any) -> np.ndarray:
    raise DatasetError(
        f"dataset {name!r}: features must be numeric; got {np.asarray(X).dtype} columns"
    )
