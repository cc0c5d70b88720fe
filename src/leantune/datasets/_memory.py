"""Data given in Python: `leantune.run(spec, X=..., y=...)`, or a DataFrame with a target column."""

from __future__ import annotations

import difflib
from typing import Any

from leantune.datasets._dataset import Dataset
from leantune.datasets._prepare import build_dataset, frame_to_float
from leantune.errors import DatasetError


def load_memory(
    X: Any,
    y: Any = None,
    *,
    target: str | None = None,
    name: str | None = None,
    task: str | None = None,
) -> Dataset:
    """Features `X` (an array or a DataFrame) and target `y` (an array, or the name of X's
    target column; else `target`). Checked as every loader's data is."""
    name = name or "in-memory"
    if isinstance(y, str):
        target, y = y, None
    columns = getattr(X, "columns", None)
    feature_names = None
    if y is None:
        if columns is None or target is None:
            raise DatasetError(
                "dataset: source 'memory' needs the target: leantune.run(spec, X=features, "
                "y=target), or X a DataFrame and y (or dataset.target) its target column; "
                "got no target"
            )
        names = [str(c) for c in columns]
        if target not in names:
            close = difflib.get_close_matches(target, names, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DatasetError(
                f"dataset.target: must be a column of X: {', '.join(names[:10])}"
                f"{' ...' if len(names) > 10 else ''}; got {target!r}{hint}"
            )
        y = X[target].to_numpy()
        X = X.drop(columns=target)
        columns = X.columns
    if columns is not None:
        feature_names = [str(c) for c in columns]
        X = frame_to_float(X, list(columns))
    return build_dataset(
        name,
        X,
        y,
        task=task,
        feature_names=feature_names,
        provenance={"source": "memory", "target": target, "synthetic": False},
    )
