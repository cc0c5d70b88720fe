"""What a study ranks trials by, and the quality limits a pick must meet, read from the reports.

A quality metric's value is the trial's cross-validated one: the mean over folds of each fold's
last report (which scores every validation row). Any other metric's value is the trial's last
reading, as trials.csv shows it. A trial that did not finish every fold has no CV value (NaN).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from leantune.metrics._catalog import METRICS
from leantune.trials import CV_SCORE_MEAN, FOLD_FINISHED

Mode = Literal["min", "max"]


def final_value(reports: Sequence[Mapping[str, Any]], metric: str) -> float:
    """The trial's value of `metric` (see the module's docstring); NaN when it has none."""
    if not reports:
        return math.nan
    known = METRICS.get(metric)
    last = reports[-1]
    if known is not None and known.kind == "quality":
        if CV_SCORE_MEAN not in last:  # not every fold finished
            return math.nan
        if last.get("cv_metric", metric) == metric:  # the task's score: the trial's own mean
            return _number(last[CV_SCORE_MEAN])
        values = [_number(r.get(metric)) for r in reports if r.get(FOLD_FINISHED)]
        return float(sum(values) / len(values)) if values else math.nan
    return _number(last.get(metric))


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


@dataclass(frozen=True)
class Objective:
    """The metric a study's pick (and TPE) optimizes, and which way."""

    metric: str
    mode: Mode

    def value(self, reports: Sequence[Mapping[str, Any]]) -> float:
        return final_value(reports, self.metric)

    def reached(self, reports: Sequence[Mapping[str, Any]]) -> float:
        """What a trial cut short had reached: a quality metric's mean over the folds it
        trained, each fold at its last report (the fold it was in at its last reading); any
        other metric, its last reading. A complete trial's `value`."""
        full = self.value(reports)
        known = METRICS.get(self.metric)
        if math.isfinite(full) or known is None or known.kind != "quality":
            return full
        by_fold = self.by_fold(reports)
        return float(sum(by_fold.values()) / len(by_fold)) if by_fold else math.nan

    def by_fold(self, reports: Sequence[Mapping[str, Any]]) -> dict[Any, float]:
        """Each fold's last reading of the metric, by fold: a fold's last report scores all
        its validation rows (a fold cut short, the rows its reports read)."""
        folds: dict[Any, float] = {}
        for report in reports:
            value = _number(report.get(self.metric))
            if math.isfinite(value):
                folds[report.get("fold", 0)] = value
        return folds

    def sort_key(self, value: float) -> float:
        """Lower is better, whatever the mode; NaN last."""
        if not math.isfinite(value):
            return math.inf
        return -value if self.mode == "max" else value

    def describe(self) -> str:
        return f"{'maximize' if self.mode == 'max' else 'minimize'} {self.metric}"


@dataclass(frozen=True)
class QualityBound:
    """A limit on a quality metric, judged on the trial's final cross-validated value: a floor
    (`min`) on what is better higher, a ceiling (`max`) on what is better lower."""

    metric: str
    threshold: float

    @property
    def kind(self) -> Mode:
        return METRICS[self.metric].bound

    def met(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        return value >= self.threshold if self.kind == "min" else value <= self.threshold

    def describe(self) -> str:
        return f"{self.metric} {'≥' if self.kind == 'min' else '≤'} {self.threshold:g}"
