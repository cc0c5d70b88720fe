"""The study's cost model: what a config costs, learned from every report, shared by cost twins.

Learning rate and alpha change what is learned, not what a step costs. So configs with the
same model and batch size (cost twins) share one cost: per-step time, memory rise, and, per
model, inference latency and model size. Pooling every twin's readings gives each a tighter,
common estimate than its own few reports, so twins get the same decision, and an untried
config can be judged before it runs (Brunnert et al. 2015's model-based performance
evaluation, applied to a tuning study's system metrics).

It is driver-side state fed by `observe`; the policies that read it stay pure functions of
the trial's history given the model's state.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from leantune.stoppers._base import Decision, StopReason, TrialHistory, finite
from leantune.stoppers._bounds import median_lower_bound, median_upper_bound
from leantune.trials._space import config_key  # the leaf: trials imports stoppers

# Readings a group needs before its bound is trusted for a config that has not run.
MIN_READINGS = 3
# Readings a group keeps: the most recent, what a step costs on the machine now. Bounded, so
# the driver's work per report does not grow with the study.
RECENT_READINGS = 256


def _recent() -> deque[float]:
    return deque(maxlen=RECENT_READINGS)


def cost_key(config: Mapping[str, Any]) -> tuple[str, int] | None:
    """(model, batch size): what a step costs depends on these, not on the learning rate."""
    model, batch = config.get("model"), config.get("batch_size")
    if model is None or batch is None:
        return None
    return str(model), int(batch)


@dataclass
class _Group:
    step_cost_s: deque[float] = field(default_factory=_recent)
    """Training seconds per step (evaluation and reporting included), one value per report
    window of every twin; a trial's first reports' short windows are left out (one evaluation
    over a few steps is not what a step costs)."""
    window_step_ms: deque[float] = field(default_factory=_recent)
    """The steps' own time per step (evaluation left out), one value per window, first
    reports' included: what a lower bound of a step's cost rests on."""
    trials_step_s: dict[str, float] = field(default_factory=dict)
    """Each twin's own cost of a step so far (its training time over its steps, latest)."""
    trials_rise: dict[str, float] = field(default_factory=dict)
    """Each ended or running twin's peak rise so far (latest reading per trial)."""


@dataclass(frozen=True)
class CostPrediction:
    """A config's predicted end value of a metric: the point estimate and its lower bound."""

    metric: str
    value: float
    lower: float
    evidence: str
    """What the prediction rests on, for a reader: "12 windows of 3 twins (logistic, b=32)"."""
    upper: float = math.inf
    """The interval's other end: [lower, upper] holds the end value at the model's confidence
    on each side. A limit inside it is borderline: noise, not the config, would decide it."""

    def clears(self, limit: float, margin: float = 0.0) -> bool:
        """The whole interval is over `limit × (1 + margin)`: the config breaks it, whatever
        the noise."""
        return self.lower > limit * (1 + margin)

    def straddles(self, limit: float) -> bool:
        return self.lower <= limit < self.upper


class CostModel:
    """Per (model, batch size) and per model, the pooled readings of every trial so far."""

    def __init__(self, confidence: float = 0.9):
        self.confidence = confidence
        self._groups: dict[tuple[str, int], _Group] = {}
        self._per_model: dict[str, dict[str, deque[float]]] = {}
        self._seen: dict[str, int] = {}
        """Trial (config) key → reports taken in, so a history fed twice counts once."""
        self._twins: dict[tuple[str, int], set[str]] = {}

    def observe(self, history: TrialHistory) -> None:
        """Take in the reports of `history` not seen yet (the driver calls it on each report)."""
        key = cost_key(history.config)
        if key is None or not len(history):
            return
        trial = config_key(history.config)
        seen = self._seen.get(trial, 0)
        if len(history) <= seen:
            return
        group = self._groups.setdefault(key, _Group())
        self._twins.setdefault(key, set()).add(trial)
        # Only the new reports, and the one before them for the first cost difference.
        reports = history[max(seen - 1, 0) :]
        new = reports[1:] if seen else reports
        for before, after in pairwise(reports):
            if after.get("early_report"):
                continue
            steps = _number(after.get("step")) - _number(before.get("step"))
            spent = _number(after.get("train_time_s")) - _number(before.get("train_time_s"))
            if steps > 0 and spent >= 0 and finite(spent):
                group.step_cost_s.append(spent / steps)
        for report in new:
            if finite(report.get("window_step_time_ms")):
                group.window_step_ms.append(float(report["window_step_time_ms"]))
            step, spent = report.get("step"), report.get("train_time_s")
            if finite(step) and step > 0 and finite(spent) and not report.get("early_report"):
                group.trials_step_s[trial] = float(spent) / float(step)
            if finite(report.get("memory_rise_mb")):
                group.trials_rise[trial] = float(report["memory_rise_mb"])
            for metric in ("inference_latency_ms", "model_size_kb"):
                if finite(report.get(metric)):
                    per_model = self._per_model.setdefault(key[0], {})
                    per_model.setdefault(metric, _recent()).append(float(report[metric]))
        self._seen[trial] = len(history)

    def step_cost(self, config: Mapping[str, Any]) -> CostPrediction | None:
        """Training seconds per step of `config`'s twins, with an interval: from the windows'
        totals (evaluation and reporting included) once there are MIN_READINGS of them, before
        that from the steps' own time (a floor: reporting left out). So a first twin's first
        reports already give one, and skipping can start from the first twin on."""
        key = cost_key(config)
        group = self._groups.get(key) if key else None
        if group is None:
            return None
        steps = [ms / 1e3 for ms in group.window_step_ms]
        totals = group.step_cost_s
        if len(steps) < MIN_READINGS and len(totals) < MIN_READINGS:
            return None
        # Totals once there are enough (a proper interval of what a step costs, reporting
        # included); before that, the steps' own time, a floor.
        point = totals if len(totals) >= MIN_READINGS else steps
        lower = median_lower_bound(point, self.confidence)
        return CostPrediction(
            "step_cost_s",
            _median(point),
            lower,
            self._evidence(key, max(len(steps), len(totals)), "windows"),
            upper=median_upper_bound(point, self.confidence),
        )

    def prediction_interval(
        self, config: Mapping[str, Any], steps_planned: int, level: float = 0.9
    ) -> tuple[float, float, float] | None:
        """(low, high, stated coverage) of `config`'s training time, from its twins' own costs
        of a step: the k-th lowest and highest of n twins hold a further twin's cost with
        probability (n + 1 − 2k) / (n + 1), whatever their distribution (if the twins are
        alike, i.e. the machine's load does not drift). k is the largest with that at least
        `level`; with too few twins for `level`, the lowest and highest, at the coverage they
        give ((n − 1) / (n + 1)). None with fewer than 2 twins."""
        key = cost_key(config)
        group = self._groups.get(key) if key else None
        costs = sorted(group.trials_step_s.values()) if group else []
        n = len(costs)
        if n < 2:
            return None
        k = max(1, math.floor(((n + 1) * (1 - level)) / 2))
        return costs[k - 1] * steps_planned, costs[n - k] * steps_planned, (n + 1 - 2 * k) / (n + 1)

    def predict(self, config: Mapping[str, Any], steps_planned: int) -> list[CostPrediction]:
        """Every end value the model can predict for `config` before it runs."""
        key = cost_key(config)
        if key is None:
            return []
        out: list[CostPrediction] = []
        cost = self.step_cost(config)
        if cost is not None:
            out.append(
                CostPrediction(
                    "train_time_s",
                    cost.value * steps_planned,
                    cost.lower * steps_planned,
                    cost.evidence,
                    upper=cost.upper * steps_planned,
                )
            )
        group = self._groups.get(key)
        if group is not None and len(group.window_step_ms) >= MIN_READINGS:
            values = group.window_step_ms
            out.append(
                CostPrediction(
                    "step_time_ms",
                    _median(values),
                    median_lower_bound(values, self.confidence),
                    self._evidence(key, len(values), "windows"),
                    upper=median_upper_bound(values, self.confidence),
                )
            )
        if group is not None and len(group.trials_rise) >= 2:
            # A peak is monotone: the smallest peak any twin reached is already a lower bound.
            rises = list(group.trials_rise.values())
            out.append(
                CostPrediction(
                    "memory_rise_mb",
                    _median(rises),
                    min(rises),
                    self._evidence(key, len(rises), "trials"),
                    upper=max(rises),
                )
            )
        for metric, values in self._per_model.get(key[0], {}).items():
            if len(values) >= MIN_READINGS:
                out.append(
                    CostPrediction(
                        metric,
                        _median(values),
                        median_lower_bound(values, self.confidence),
                        f"{len(values)} readings of model {key[0]}",
                        upper=median_upper_bound(values, self.confidence),
                    )
                )
        return out

    def _evidence(self, key: tuple[str, int] | None, count: int, what: str) -> str:
        twins = len(self._twins.get(key, ())) if key else 0
        model, batch = key if key else ("?", 0)
        return f"{count} {what} of {twins} cost twin(s) ({model}, batch {batch})"


def _number(value: Any) -> float:
    return float(value) if finite(value) else float("nan")


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


class SkipPredicted:
    """Before a config trains: skip it when the cost model predicts, with confidence, that it
    breaks a limit (the prediction's lower bound is over limit × (1 + margin))."""

    def __init__(
        self, cost_model: CostModel, constraints: Mapping[str, float], margin: float = 0.0
    ):
        self.cost_model = cost_model
        self.constraints = dict(constraints)
        self.margin = margin

    def decide(self, config: Mapping[str, Any], start: Mapping[str, Any]) -> Decision:
        """`start`: the trial's report before its first step (steps planned, its worker's
        memory baseline)."""
        planned = start.get("steps_planned")
        if not finite(planned):
            return Decision.carry_on()
        for prediction in self.cost_model.predict(config, int(planned)):
            value, lower = prediction.value, prediction.lower
            metric = prediction.metric
            reason = self._check(metric, value, lower, prediction.evidence)
            base = start.get("memory_mb")
            if reason is None and metric == "memory_rise_mb" and finite(base):
                # memory_mb is the worker's fresh baseline plus the trial's rise.
                reason = self._check("memory_mb", value + base, lower + base, prediction.evidence)
            if reason is not None:
                return Decision.stop_because(reason)
        return Decision.carry_on()

    def _check(self, metric: str, value: float, lower: float, evidence: str) -> StopReason | None:
        limit = self.constraints.get(metric)
        if limit is None or not lower > limit * (1 + self.margin):
            return None
        return StopReason(
            rule="skip",
            metric=metric,
            value=value,
            threshold=limit,
            step=0,
            detail=f"lower bound {lower:.4g}; {evidence}",
        )
