"""Repeated runs summarised: a number's mean over repeats, the interval a rerun's mean is expected
in, the range of the repeats, and whether two numbers differ by more than their spread.

Why not the range alone: even for independent reruns, a new value falls inside the range of 3
earlier ones only half the time (a new one is the smallest or largest of 4 with chance 1/2), so
a range over few repeats says nothing about what a rerun gives. The rerun interval does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

RERUN_LEVEL = 0.95
"""The chance that a rerun's mean lands in the stated interval, were repeats independent and
normal."""

RERUN_MEANING = (
    "Each number reads a ± b [low–high]: a is the mean over the repeats, and a rerun of the "
    "command with as many repeats is expected to give a mean within a ± b (a 95 % prediction "
    "interval, b = t₀.₉₇₅,N−1 · s · √(2/N) from the repeats' standard deviation s); "
    "[low–high] is the lowest and the highest repeat. Two numbers differ beyond the spread "
    "where their difference exceeds the same 95 % bound built from both numbers' spreads "
    "(Welch's t)"
)
"""How to read a Spread's text and its comparisons, in two sentences for the chapter."""


def _tolerance(*values: float) -> float:
    # Equal numbers written through CSV and back must not count as a difference.
    return 1e-9 * max([1.0, *(abs(v) for v in values if math.isfinite(v))])


@dataclass(frozen=True)
class Spread:
    """A headline number over repeats: the mean, the smallest and largest repeat, the number of
    repeats and their sample standard deviation (NaN for fewer than two)."""

    mean: float
    low: float
    high: float
    n: int
    sd: float = math.nan

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if not finite:
            return cls(math.nan, math.nan, math.nan, 0)
        sd = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
        return cls(float(np.mean(finite)), min(finite), max(finite), len(finite), sd)

    @property
    def rerun_half_width(self) -> float:
        """Half the width of the interval a rerun's mean over as many repeats is expected in:
        t(0.975, n − 1) · s · √(2 / n). The rerun's mean and this one each carry s²/n of
        variance. NaN with fewer than two repeats (no spread to go by)."""
        if self.n < 2 or not math.isfinite(self.sd):
            return math.nan
        quantile = float(student_t.ppf(0.5 + RERUN_LEVEL / 2, self.n - 1))
        return quantile * self.sd * math.sqrt(2.0 / self.n)

    def rerun_interval(self) -> tuple[float, float]:
        width = self.rerun_half_width
        return self.mean - width, self.mean + width

    def holds(self, value: float) -> bool:
        """`value` (a rerun's mean) lies inside this number's rerun interval. False where there
        is no interval (fewer than two repeats) or no value."""
        if not math.isfinite(value) or not math.isfinite(self.rerun_half_width):
            return False
        return abs(value - self.mean) <= self.rerun_half_width + _tolerance(value, self.mean)

    def exceeds(self, other: Spread) -> bool:
        """The two means differ by more than their spread: |Δ| beyond the 95 % bound of Welch's
        t from both numbers' standard deviations. One repeat either side has no spread to
        compare with, so nothing exceeds it."""
        if self.n < 2 or other.n < 2 or not (math.isfinite(self.sd) and math.isfinite(other.sd)):
            return False
        difference = abs(self.mean - other.mean)
        mine, theirs = self.sd**2 / self.n, other.sd**2 / other.n
        error = math.sqrt(mine + theirs)
        if error == 0:  # both constant over their repeats: any difference is beyond it
            return difference > _tolerance(self.mean, other.mean)
        freedom = (mine + theirs) ** 2 / (mine**2 / (self.n - 1) + theirs**2 / (other.n - 1))
        quantile = float(student_t.ppf(0.5 + RERUN_LEVEL / 2, freedom))
        return difference > quantile * error + _tolerance(self.mean, other.mean)

    def text(self, fmt: str = "{:.3g}", scale: float = 1.0, unit: str = "") -> str:
        """`mean ± half-width unit [low–high]`; the mean alone for one repeat or equal ones."""
        if self.n == 0:
            return "–"
        mean, low, high = (scale * v + 0.0 for v in (self.mean, self.low, self.high))
        if self.n == 1 or low == high:
            return f"{fmt.format(mean)}{unit}"
        spread = f"[{fmt.format(low)}–{fmt.format(high)}]"
        if not math.isfinite(self.rerun_half_width):  # built without its standard deviation
            return f"{fmt.format(mean)}{unit} {spread}"
        width = fmt.format(abs(scale) * self.rerun_half_width)
        return f"{fmt.format(mean)} ± {width}{unit} {spread}"

    def percent(self) -> str:
        return self.text("{:.1f}", 100.0, " %")
