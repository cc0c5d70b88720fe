"""Repeated runs summarised: a number's mean and its range over the repeats, and whether two
numbers differ by more than that range."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Spread:
    """A headline number over repeats: the mean and the smallest and largest repeat."""

    mean: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if not finite:
            return cls(math.nan, math.nan, math.nan, 0)
        return cls(float(np.mean(finite)), min(finite), max(finite), len(finite))

    def exceeds(self, other: Spread) -> bool:
        """The two ranges do not overlap: the difference is larger than the spread of repeats.
        One repeat each has no spread to compare with, so nothing exceeds it."""
        if self.n < 2 or other.n < 2:
            return False
        return self.low > other.high or self.high < other.low

    def text(self, fmt: str = "{:.3g}", scale: float = 1.0, unit: str = "") -> str:
        if self.n == 0:
            return "–"
        mean, low, high = (scale * v + 0.0 for v in (self.mean, self.low, self.high))
        if self.n == 1 or low == high:
            return f"{fmt.format(mean)}{unit}"
        return f"{fmt.format(mean)}{unit} [{fmt.format(low)}–{fmt.format(high)}]"

    def percent(self) -> str:
        return self.text("{:.1f}", 100.0, " %")
