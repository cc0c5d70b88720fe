"""The dataset every loader returns: float features, encoded labels, and where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """Features and target ready for training.

    For classification, ``y`` holds label codes 0..K-1 (encoded once, here) and ``classes``
    the original labels in code order. For regression, ``y`` is float and ``classes`` is None.
    """

    name: str
    task: str
    X: np.ndarray
    y: np.ndarray
    classes: np.ndarray | None
    feature_names: list[str]
    provenance: dict[str, Any] = field(default_factory=dict)
    """source, location, whether it is a synthetic stand-in, and rows dropped on load."""

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)

    @property
    def megabytes(self) -> float:
        return (self.X.nbytes + self.y.nbytes) / 2**20

    @property
    def is_synthetic(self) -> bool:
        return bool(self.provenance.get("synthetic", False))

    @property
    def subsample(self) -> dict[str, Any] | None:
        """{rows, of_rows, seed, stratified} when a seeded subsample replaced the whole set."""
        return self.provenance.get("subsample")

    @property
    def dropped_rows(self) -> int:
        """Rows the loader dropped for holding NaN (pmlb's default); 0 when none were."""
        return int(self.provenance.get("dropped_rows_with_nan", 0) or 0)

    def describe(self) -> str:
        """One line for the CLI and the study's start line: what was loaded, and any caveat."""
        classes = f", {self.n_classes} classes" if self.classes is not None else ""
        dropped = (
            f", {self.dropped_rows:,} rows with NaN dropped on load" if self.dropped_rows else ""
        )
        sample = self.subsample
        sampled = (
            f", a seeded subsample (seed {sample['seed']}) of {sample['of_rows']:,} rows"
            if sample
            else ""
        )
        asked = self.provenance.get("subsample_not_needed")
        if asked:
            sampled = f", every row (a subsample of {asked['asked_rows']:,} rows was asked for)"
        synthetic = ""
        if self.is_synthetic:
            like = self.provenance.get("synthetic_like")
            of = f" for {like}" if like else ""
            synthetic = f" [SYNTHETIC stand-in{of}, seed {self.provenance.get('seed', '?')}]"
        return (
            f"{self.name} ({self.provenance.get('source', '?')}): {self.n_rows:,} rows × "
            f"{self.n_features} features, {self.task}{classes}{sampled}{dropped}{synthetic}"
        )
