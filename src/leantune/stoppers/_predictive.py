"""Predictive stopping: act before a limit is broken, when the trend says it will be.

Each constrained metric is extrapolated to the end of the trial's planned training, and the stop
rests on the forecast's one-sided lower bound, not on its point value:
- `train_time_s`: elapsed + remaining steps × the cost of a step (its time plus its share of
  evaluation and reporting). The cost's lower bound pools the windows of every cost twin (same
  model and batch size) when a study-level CostModel is given, else the trial's own (Sen's
  bound of the Theil–Sen slope);
- `step_time_ms` (a running average): the average it will have if the remaining steps cost the
  lower bound of the recent windows' median;
- memory: the latest reading plus the lower bound of the Theil–Sen slope over recent reports
  times the steps left. A plateau has a lower bound at or below zero: no growth is forecast.
Rates (CPU %) and per-model metrics (latency, size) are not extrapolated: their latest value is
the best forecast, and the reactive constraint already covers it.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from leantune.metrics._catalog import PREDICTABLE
from leantune.stoppers._base import Decision, StoppingPolicy, StopReason, TrialHistory, finite
from leantune.stoppers._bounds import median_lower_bound, theil_sen
from leantune.stoppers._constraint import check_int, check_positive
from leantune.stoppers._cost_model import CostModel
from leantune.trials import STEPS_PLANNED


class PredictivePolicy(StoppingPolicy):
    """Stop as soon as a constrained metric's forecast lower bound is over
    `threshold × (1 + margin)`.

    `margin` trades earlier stops for fewer false ones: 0.1 waits until the bound is 10% over.
    `confidence` is the bound's one-sided confidence. `window` is how many recent reports the
    trend uses; `min_reports` how many it needs. `cost_model`: the study's, fed by the driver,
    so cost twins share one per-step cost.
    """

    def __init__(
        self,
        constraints: Mapping[str, float],
        margin: float = 0.1,
        window: int = 5,
        min_reports: int = 3,
        confidence: float = 0.9,
        cost_model: CostModel | None = None,
    ):
        check_positive("PredictivePolicy", "margin", margin, allow_zero=True)
        check_int("PredictivePolicy", "window", window, 2)
        check_int("PredictivePolicy", "min_reports", min_reports, 2)
        if not (finite(confidence) and 0.5 <= confidence < 1):
            raise ValueError(
                f"The 'confidence' of PredictivePolicy must be in [0.5, 1). Got {confidence!r}."
            )
        self.constraints = {m: float(t) for m, t in constraints.items() if m in PREDICTABLE}
        self.margin = margin
        self.window = window
        self.min_reports = min_reports
        self.confidence = confidence
        self.cost_model = cost_model

    def decide(self, history: TrialHistory) -> Decision:
        if self.cost_model is not None:
            self.cost_model.observe(history)
        recent = history[max(0, len(history) - self.window) :]
        last = history.last
        # A trial's own trend needs `min_reports`; its cost twins' pooled cost (its own first
        # windows among them) decides from the first report on.
        own_trend = len(history) >= self.min_reports
        for metric, threshold in self.constraints.items():
            forecast = self.pooled_forecast(metric, last, history.config)
            if forecast is None and own_trend:
                forecast = predict_final(metric, recent, last, self.confidence)
            if forecast is None:
                continue
            value, lower = forecast
            if lower > threshold * (1 + self.margin):
                return Decision.stop_because(
                    StopReason(
                        rule="predictive",
                        metric=metric,
                        value=value,
                        threshold=threshold,
                        step=int(last.get("step", len(history))),
                        detail=f"lower bound {lower:.4g} at {self.confidence:.0%}, "
                        f"margin {self.margin:.0%}",
                    )
                )
        return Decision.carry_on()

    def forecast(
        self,
        metric: str,
        recent: Sequence[Mapping[str, Any]],
        last: Mapping[str, Any],
        config: Mapping[str, Any],
    ) -> tuple[float, float] | None:
        """(forecast, its lower bound) of `metric` at the end of planned training."""
        pooled = self.pooled_forecast(metric, last, config)
        return pooled or predict_final(metric, recent, last, self.confidence)

    def pooled_forecast(
        self, metric: str, last: Mapping[str, Any], config: Mapping[str, Any]
    ) -> tuple[float, float] | None:
        """train_time_s from the cost twins' pooled cost of a step: elapsed + remaining steps
        × that cost (its point and its lower bound). None without a cost model or evidence."""
        if metric != "train_time_s" or self.cost_model is None:
            return None
        if _remaining(last) is None:
            return None
        pooled = self.cost_model.forecast_train_time(last, config)
        return (pooled.value, pooled.lower) if pooled is not None else None

    def __repr__(self) -> str:
        return f"PredictivePolicy({self.constraints!r}, margin={self.margin})"


def _remaining(last: Mapping[str, Any]) -> float | None:
    step, planned = last.get("step"), last.get(STEPS_PLANNED)
    if not (finite(step) and finite(planned)) or step <= 0 or planned <= step:
        return None
    return planned - step


def predict_final(
    metric: str,
    recent: Sequence[Mapping[str, Any]],
    last: Mapping[str, Any],
    confidence: float = 0.9,
) -> tuple[float, float] | None:
    """(forecast, one-sided lower bound) of the metric at the end of planned training, or None
    if unknowable from the trial's own reports."""
    remaining = _remaining(last)
    if remaining is None or not finite(last.get(metric)):
        return None
    step, planned = last["step"], last[STEPS_PLANNED]
    if metric == "step_time_ms":
        window = [r["window_step_time_ms"] for r in recent if finite(r.get("window_step_time_ms"))]
        if not window:
            return None
        median = statistics.median(window)
        lower = median_lower_bound(window, confidence)
        average = last[metric] * step
        return (average + median * remaining) / planned, (average + lower * remaining) / planned
    if metric in ("train_time_s", "memory_mb", "memory_rise_mb"):
        points = [(r["step"], r[metric]) for r in recent if finite(r.get(metric))]
        if len(points) < 2:
            return None
        slope, lower = theil_sen(points, confidence)
        return last[metric] + max(0.0, slope) * remaining, last[metric] + max(
            0.0, lower
        ) * remaining
    return None


def theil_sen_slope(points: Sequence[tuple[float, float]]) -> float:
    """Median of the pairwise slopes: a trend that one outlier cannot swing."""
    return theil_sen(points)[0]
