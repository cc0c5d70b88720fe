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

    def describe(self) -> str:
        classes = f", {self.n_classes} classes" if self.classes is not None else ""
        synthetic = " [SYNTHETIC stand-in]" if self.is_synthetic else ""
        return (
            f"{self.name} ({self.provenance.get('source', '?')}): {self.n_rows:,} rows × "
            f"{self.n_features} features, {self.task}{classes}{synthetic}"
        )
