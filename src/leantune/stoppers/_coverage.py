"""How often the cost model's forecasts held: each trial's finals against the intervals forecast
for it before it ran and while it ran, from the trials before it (held out by construction).

A study's summary states this beside every forecast it acted on: an interval that says 90 % is
worth only the share of finals it really held.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from leantune.stoppers._base import TrialHistory, finite
from leantune.stoppers._cost_model import UNCALIBRATED_SPREAD, Calibration, CostModel

# A running trial's forecast is checked where stops are decided: its first report, half-way and
# three quarters of the way (every report would cost the summary a replay of every report).
RUNNING_CHECKPOINTS = (0.0, 0.5, 0.75)
# The final each untried forecast is held against: the trial's last report's value.
FINALS = ("train_time_s", "step_time_ms", "memory_rise_mb", "inference_latency_ms", "model_size_kb")


@dataclass
class _Tally:
    forecasts: int = 0
    held: int = 0
    stated: list[float] = field(default_factory=list)

    def add(self, held: bool, level: float | None) -> None:
        self.forecasts += 1
        self.held += held
        if level is not None:
            self.stated.append(level)

    def as_dict(self) -> dict[str, Any]:
        return {
            "forecasts": self.forecasts,
            "held": self.held,
            "coverage": self.held / self.forecasts if self.forecasts else None,
            # Forecasts made once the study had measured its own errors, at the level they state.
            "stated_level": max(self.stated) if self.stated else None,
            "calibrated_forecasts": len(self.stated),
        }


def forecast_coverage(
    trials: Iterable[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
    confidence: float = 0.9,
) -> dict[str, Any]:
    """Replays `trials` ((config, reports), in the order they started) through a fresh cost model:
    every interval it would have given, held against the final of each trial that ran every
    step. Keys: `untried` per metric (forecast before the trial's first step) and `running`
    (its train_time_s at its first report, half-way and three quarters of the way)."""
    model = CostModel(confidence=confidence)
    untried: dict[str, _Tally] = {}
    running = _Tally()
    for config, reports in trials:
        if not reports:
            continue
        last = reports[-1]
        planned, step = last.get("steps_planned"), last.get("step")
        complete = finite(planned) and finite(step) and step >= planned > 0
        forecasts = model.predict(config, int(planned)) if finite(planned) else []
        checks: list[tuple[Any, Any]] = []
        taken = 0
        for fraction in RUNNING_CHECKPOINTS:
            index = _report_at(reports, fraction * (planned or 0))
            if index is None or index < taken or index == len(reports) - 1:
                continue
            model.observe(TrialHistory(reports[: index + 1], config))
            taken = index + 1
            checks.append((model.forecast_train_time(reports[index], config), None))
        model.observe(TrialHistory(reports, config))
        if not complete:
            continue  # stopped or skipped: no final to hold a forecast against
        for prediction in forecasts:
            final = _final(prediction.metric, last, reports)
            if final is not None:
                tally = untried.setdefault(prediction.metric, _Tally())
                tally.add(prediction.holds(final), prediction.level)
        for prediction, _ in checks:
            if prediction is not None and finite(last.get("train_time_s")):
                running.add(prediction.holds(float(last["train_time_s"])), prediction.level)
    step_cost = model.calibration("step_cost_s")
    return {
        "level": confidence,
        # Before this many finals an interval is ±uncalibrated_spread and states no level.
        "calibrated_after": Calibration(confidence).finals_needed,
        "uncalibrated_spread": UNCALIBRATED_SPREAD,
        # What the study's finals taught: (low, high) factors on a forecast step cost, and
        # the level they state (None: too few finals yet).
        "step_cost_band": [*step_cost.band(), step_cost.level if step_cost.calibrated else None],
        "untried": {metric: tally.as_dict() for metric, tally in untried.items()},
        "running": {"train_time_s": running.as_dict()},
    }


def _report_at(reports: Sequence[Mapping[str, Any]], step: float) -> int | None:
    """The index of the first report at or after `step`."""
    for index, report in enumerate(reports):
        if finite(report.get("step")) and report["step"] >= step:
            return index
    return None


def _final(
    metric: str, last: Mapping[str, Any], reports: Sequence[Mapping[str, Any]]
) -> float | None:
    if metric not in FINALS:
        return None
    if metric == "memory_rise_mb":  # a peak: the highest reading
        values = [r[metric] for r in reports if finite(r.get(metric))]
        return float(max(values)) if values else None
    return float(last[metric]) if finite(last.get(metric)) else None
