"""Predictive stopping: act before a limit is broken, when the trend says it will be.

Each constrained metric is extrapolated to the end of the trial's planned training:
- `train_time_s`: elapsed + remaining steps × the recent cost of a step (its time plus its share
  of evaluation and reporting, measured over the last reports);
- `step_time_ms` (a running average): the average it will have if the remaining steps cost what
  recent steps cost;
- memory: the latest reading plus a robust (Theil–Sen) slope over recent reports times the steps
  left. Only growth is extrapolated.
Rates (CPU %) and per-model metrics (latency, size) are not extrapolated: their latest value is
the best forecast, and the reactive constraint already covers it.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from leantune.metrics._catalog import PREDICTABLE
from leantune.stoppers._base import Decision, StoppingPolicy, StopReason, TrialHistory, finite
from leantune.stoppers._constraint import check_int, check_positive


class PredictivePolicy(StoppingPolicy):
    """Stop as soon as a constrained metric is predicted to end above `threshold × (1 + margin)`.

    `margin` trades earlier stops for fewer false ones: 0.1 waits until the forecast is 10% over.
    `window` is how many recent reports the trend uses; `min_reports` how many it needs.
    """

    def __init__(
        self,
        constraints: Mapping[str, float],
        margin: float = 0.1,
        window: int = 5,
        min_reports: int = 2,
    ):
        check_positive("PredictivePolicy", "margin", margin, allow_zero=True)
        check_int("PredictivePolicy", "window", window, 2)
        check_int("PredictivePolicy", "min_reports", min_reports, 2)
        self.constraints = {m: float(t) for m, t in constraints.items() if m in PREDICTABLE}
        self.margin = margin
        self.window = window
        self.min_reports = min_reports

    def decide(self, history: TrialHistory) -> Decision:
        if len(history) < self.min_reports:
            return Decision.carry_on()
        recent = history[max(0, len(history) - self.window) :]
        last = history.last
        for metric, threshold in self.constraints.items():
            forecast = predict_final(metric, recent, last)
            if forecast is not None and forecast > threshold * (1 + self.margin):
                return Decision.stop_because(
                    StopReason(
                        rule="predictive",
                        metric=metric,
                        value=forecast,
                        threshold=threshold,
                        step=int(last.get("step", len(history))),
                        detail=f"margin {self.margin:.0%}",
                    )
                )
        return Decision.carry_on()

    def __repr__(self) -> str:
        return f"PredictivePolicy({self.constraints!r}, margin={self.margin})"


def predict_final(
    metric: str, recent: Sequence[Mapping[str, Any]], last: Mapping[str, Any]
) -> float | None:
    """The metric's forecast value at the end of planned training, or None if unknowable."""
    step, planned = last.get("step"), last.get("steps_planned")
    if not (finite(step) and finite(planned)) or step <= 0 or planned <= step:
        return None
    remaining = planned - step
    if metric == "train_time_s":
        cost = _recent_rate(recent, "train_time_s")
        return None if cost is None else last["train_time_s"] + remaining * cost
    if metric == "step_time_ms":
        window = [r["window_step_time_ms"] for r in recent if finite(r.get("window_step_time_ms"))]
        if not window or not finite(last.get("step_time_ms")):
            return None
        return (last["step_time_ms"] * step + statistics.median(window) * remaining) / planned
    if metric in ("memory_mb", "memory_rise_mb"):
        points = [(r["step"], r[metric]) for r in recent if finite(r.get(metric))]
        if len(points) < 2 or not finite(last.get(metric)):
            return None
        return last[metric] + max(0.0, theil_sen_slope(points)) * remaining
    return None


def _recent_rate(recent: Sequence[Mapping[str, Any]], metric: str) -> float | None:
    """Increase of `metric` per step over the recent reports, within one fold or across."""
    first, last = recent[0], recent[-1]
    steps = last.get("step", 0) - first.get("step", 0)
    if steps <= 0 or not (finite(first.get(metric)) and finite(last.get(metric))):
        # A single report: the average cost per step so far.
        return (
            last[metric] / last["step"] if finite(last.get(metric)) and last.get("step") else None
        )
    return (last[metric] - first[metric]) / steps


def theil_sen_slope(points: Sequence[tuple[float, float]]) -> float:
    """Median of the pairwise slopes: a trend that one outlier cannot swing."""
    slopes = [
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(points)
        for x2, y2 in points[i + 1 :]
        if x2 != x1
    ]
    return statistics.median(slopes) if slopes else 0.0
