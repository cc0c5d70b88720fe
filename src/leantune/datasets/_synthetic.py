"""Seeded synthetic stand-ins with a real set's shape, for scale checks where the data is absent.

A stand-in has the rows, features, task and classes of a PMLB set (read from its pmlb summary,
never from its data), filled with random values a linear model can learn. It is generated a
block at a time straight into the one float64 matrix, and is labelled synthetic in its name and
provenance so every output (summary, MLflow tags, CLI) says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from leantune.datasets._catalog import pmlb_shape
from leantune.datasets._dataset import Dataset
from leantune.datasets._pmlb import resolve_cache_dir
from leantune.datasets._prepare import build_dataset, chunk_rows
from leantune.errors import DatasetError

# Expected distance between two class means, in noise standard deviations: far enough apart
# that a linear model learns, close enough that classes overlap as real ones do.
CLASS_SEPARATION = 4.0
# Regression: the target is a linear signal of variance 1 plus this much noise (R² ≈ 0.8).
NOISE_STD = 0.5


def load_synthetic_like(
    like: str, cache_dir: Path | str | None = None, *, seed: int = 0, task: str | None = None
) -> Dataset:
    """A stand-in for PMLB set `like`: same rows, features, task and classes, seeded values."""
    directory = resolve_cache_dir(cache_dir)
    shape = pmlb_shape(like, directory)
    if shape is None:
        raise DatasetError(
            f"dataset.synthetic_like: must name a PMLB set whose summary is known; got "
            f"{like!r}: there is no {directory / like / 'summary_stats.tsv'}, and pmlb's own "
            "table does not list it. Place the set's summary_stats.tsv there (pmlb ships it "
            "next to each data file)"
        )
    if task is not None and task != shape.task:
        raise DatasetError(
            f"dataset.task: a stand-in for {like!r} has its task, {shape.task!r}; got {task!r}"
        )
    return make_synthetic(
        f"{like}-synthetic",
        rows=shape.rows,
        features=shape.features,
        task=shape.task,
        classes=shape.classes,
        seed=seed,
        provenance={"synthetic_like": like, "location": shape.location},
    )


def make_synthetic(
    name: str,
    *,
    rows: int,
    features: int,
    task: str,
    classes: int | None = None,
    seed: int = 0,
    provenance: dict[str, Any] | None = None,
) -> Dataset:
    """Gaussian classes around random means (classification) or a linear signal plus noise
    (regression). Classes are balanced to within one row, so stratified splits always work."""
    if task == "classification" and (classes is None or classes < 2):
        raise DatasetError(
            f"dataset {name!r}: a synthetic classification set needs at least 2 classes; "
            f"got {classes}"
        )
    rng = np.random.default_rng(seed)
    X = np.empty((rows, features), dtype=np.float64)
    step = chunk_rows(X)
    if task == "classification":
        scale = CLASS_SEPARATION / np.sqrt(2 * features)
        means = rng.standard_normal((classes, features)) * scale
        y = rng.permutation(np.arange(rows) % classes)
        for start in range(0, rows, step):
            block = X[start : start + step]
            rng.standard_normal(out=block)
            block += means[y[start : start + step]]
        generator = f"gaussian classes, mean separation {CLASS_SEPARATION:g} sd"
    else:
        coefficients = rng.standard_normal(features) / np.sqrt(features)
        y = np.empty(rows, dtype=np.float64)
        for start in range(0, rows, step):
            block = X[start : start + step]
            rng.standard_normal(out=block)
            y[start : start + step] = block @ coefficients
            y[start : start + step] += NOISE_STD * rng.standard_normal(len(block))
        generator = f"linear signal plus gaussian noise (sd {NOISE_STD:g})"
    return build_dataset(
        name,
        X,
        y,
        task=task,
        provenance={
            "source": "synthetic",
            "location": "generated",
            **(provenance or {}),
            "synthetic": True,
            "seed": seed,
            "generator": generator,
            "dropped_rows_with_nan": 0,
        },
    )
