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
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from leantune.stoppers._base import Decision, StopReason, TrialHistory, finite
from leantune.stoppers._bounds import sorted_median_lower_bound, sorted_median_upper_bound
from leantune.trials._keys import STEPS_PLANNED
from leantune.trials._space import config_key  # the leaf: trials imports stoppers

# Readings a group needs before its bound is trusted for a config that has not run.
MIN_READINGS = 3
# Readings a group keeps: the most recent, what a step costs on the machine now. Bounded, so
# the driver's work per report does not grow with the study.
RECENT_READINGS = 256
# How far a trial's final cost of a step may fall from the forecast made before it ran, until
# the study has measured that itself: final / forecast within [1 / (1 + s), 1 + s]. A median's
# interval is no forecast of one trial on a shared machine: on a 2-vCPU VM with other work, the
# finals fell at 0.92-1.11x the forecast within a run (5-95 %), and whole runs moved 20-30 %
# with the load (BENCHMARKS.md, P9).
UNCALIBRATED_SPREAD = 0.25
# How much other work inflates a trial's CPU time per unit of `cpu_waiting_share` (the share of
# the time it wanted a CPU that it waited): each switch back in meets caches the others emptied.
# Measured on this project's 2-vCPU VM beside other SGD trainings, the CPU time of the same
# config rose 1.06-1.10x at a waiting share of 0.38, 1.12-1.21x at 0.61-0.67 and 1.21x at 0.85
# (BENCHMARKS.md, P9): at most ~0.3 per unit. A spinning process that holds no data raises the
# share but hardly the CPU time, so this is an allowance, not a correction: the low end of a
# time's interval is divided by 1 + it × the share, so no stop or skip rests on what contention
# may have added; a config inside that allowance runs to its end and is judged whole.
CONTENTION_ALLOWANCE = 0.3
# Timed metrics whose readings contention inflates (a step's cost, a window's step time, latency).
_CONTENDED = ("step_cost_s", "step_time_ms", "inference_latency_ms")


def contention_factor(waiting_share: float) -> float:
    """1 + CONTENTION_ALLOWANCE × `waiting_share` (clipped to [0, 1]; 0 where not finite): at
    most how many times its cost on a CPU of its own a reading this contended may be."""
    share = min(max(waiting_share, 0.0), 1.0) if finite(waiting_share) else 0.0
    return 1 + CONTENTION_ALLOWANCE * share


def _recent() -> deque[float]:
    return deque(maxlen=RECENT_READINGS)


class _Readings:
    """The RECENT_READINGS most recent readings, also kept sorted: the driver reads a median and
    its bounds at every report, and sorting 256 readings each time was most of its cost.

    `ordered` is exactly sorted(readings), ties in arrival order: a new reading goes after its
    equals, and the evicted oldest is the first of its equals. Readings must not be nan."""

    __slots__ = ("_arrived", "ordered")

    def __init__(self) -> None:
        self._arrived: deque[float] = _recent()
        self.ordered: list[float] = []

    def append(self, value: float) -> None:
        if len(self._arrived) == self._arrived.maxlen:
            del self.ordered[bisect_left(self.ordered, self._arrived[0])]
        self._arrived.append(value)
        insort(self.ordered, value)

    def __len__(self) -> int:
        return len(self._arrived)

    def __iter__(self) -> Iterator[float]:
        """In arrival order, oldest first."""
        return iter(self._arrived)


def cost_key(config: Mapping[str, Any]) -> tuple[str, int] | None:
    """(model, batch size): what a step costs depends on these, not on the learning rate."""
    model, batch = config.get("model"), config.get("batch_size")
    if model is None or batch is None:
        return None
    return str(model), int(batch)


@dataclass
class _Group:
    step_cost_s: _Readings = field(default_factory=_Readings)
    """Training seconds per step (evaluation and reporting included), one value per report
    window of every twin; a trial's first reports' short windows are left out (one evaluation
    over a few steps is not what a step costs)."""
    window_step_ms: _Readings = field(default_factory=_Readings)
    """The steps' own time per step (evaluation left out), one value per window, first
    reports' included: what a lower bound of a step's cost rests on."""
    trials_rise: dict[str, float] = field(default_factory=dict)
    """Each ended or running twin's peak rise so far (latest reading per trial; the
    RECENT_READINGS most recent twins, so the driver does not grow with the study)."""


# Where a running trial's training time forecast is held against its final: where stops are
# decided (its first report, half-way, three quarters of the way), a few forecasts a trial.
RUNNING_CHECKPOINTS = (0.0, 0.5, 0.75)
# The calibration of a running trial's training time forecast (CostModel.calibration's key).
RUNNING = "train_time_s while running"


@dataclass
class _Tally:
    forecasts: int = 0
    held: int = 0
    calibrated: int = 0
    calibrated_held: int = 0
    level: float | None = None

    def add(self, held: bool, level: float | None) -> None:
        # Counts only: a study's forecasts are not kept, so the tally does not grow with it.
        self.forecasts += 1
        self.held += held
        if level is not None:
            self.calibrated += 1
            self.calibrated_held += held
            self.level = max(level, self.level or 0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "forecasts": self.forecasts,
            "held": self.held,
            "coverage": self.held / self.forecasts if self.forecasts else None,
            # The level the forecasts made once the study had measured its errors state, and
            # how often those held: the check of that level (the others' ±25 % states none).
            "stated_level": self.level,
            "calibrated_forecasts": self.calibrated,
            "calibrated_held": self.calibrated_held,
            "calibrated_coverage": (
                self.calibrated_held / self.calibrated if self.calibrated else None
            ),
        }


class Calibration:
    """How far finals fell from the forecasts made before they ran: a split-conformal band.

    Each trial that ran every step adds log(its final cost of a step / the pooled forecast
    made before its first report). The k-th lowest and highest of n such errors bound a further
    one with probability (n + 1 − 2k) / (n + 1) when trials are exchangeable (Vovk et al.
    2005), so a band states `level` once n ≥ 2 / (1 − level) − 1 (19 at 90 %); before that the
    band is ±UNCALIBRATED_SPREAD and states no level.

    Errors told the trial's steps are normalised (Papadopoulos et al. 2008's normalised
    conformal): a short trial's cost of a step is noisier than a long one's (its fixed costs and
    few windows weigh more), so one pooled band was too narrow for a 10-step trial and too wide
    for a 5,000-step one (held 73-79 % of the finals of batch 1024-2048 against 90 % stated,
    BENCHMARKS.md P9). Each error is divided by the noise expected at its length,
    sqrt(a + b / steps), a and b fitted to the errors' squares, and the band of a forecast
    multiplied back by the noise at its own length.
    """

    def __init__(self, level: float = 0.9):
        self.level = level
        self.errors = _Readings()
        """log(final / forecast) of the recent finals, in arrival order and sorted."""
        self.steps: deque[float] = _recent()
        """Each error's trial length in steps (nan: not told), for the normalised band."""
        # How many of the errors have each 1 / steps, and how many have none finite: the
        # normalised band needs them all told and not all alike, and counting says so without
        # an array (most of a study's calibrations, one length or none told, never need one).
        self._inverse_lengths: dict[float, int] = {}
        self._untold = 0
        # What band() reads, worked out once per new error, not once per forecast (the driver
        # asks for a band at every report): (pooled low, high), (noise, low, high scores).
        self._pooled: tuple[float, float] | None = None
        self._normalised: tuple[tuple[float, float], float, float] | None = None

    def add(self, forecast: float, final: float, steps: float | None = None) -> None:
        if forecast > 0 and final > 0 and finite(forecast) and finite(final):
            length = float(steps) if finite(steps) and steps > 0 else math.nan
            if len(self.steps) == self.steps.maxlen:
                self._count_length(self.steps[0], -1)
            self.errors.append(math.log(final / forecast))
            self.steps.append(length)
            self._count_length(length, 1)
            self._pooled = self._normalised = None

    def _count_length(self, length: float, change: int) -> None:
        inverse = 1 / length  # as _noise's x: a tiny length's is inf, not told either
        if not math.isfinite(inverse):
            self._untold += change
            return
        count = self._inverse_lengths.get(inverse, 0) + change
        if count:
            self._inverse_lengths[inverse] = count
        else:
            del self._inverse_lengths[inverse]

    @property
    def calibrated(self) -> bool:
        return self._rank() >= 1

    def band(self, steps: float | None = None) -> tuple[float, float]:
        """(low, high) factors on a forecast: its interval at `level` once calibrated; for a
        forecast of `steps` steps, normalised to the noise at that length."""
        k = self._rank()
        if k < 1:
            return 1 / (1 + UNCALIBRATED_SPREAD), 1 + UNCALIBRATED_SPREAD
        if self._pooled is None:
            # A fast study's trials end every few milliseconds, each a new error, and the driver
            # works this out again for each (BENCHMARKS.md, P8): the errors are kept sorted, and
            # numpy is left to the normalised band, where the lengths are all told and differ.
            ordered = self.errors.ordered
            self._pooled = math.exp(min(ordered[k - 1], 0.0)), math.exp(max(ordered[-k], 0.0))
            if not self._untold and len(self._inverse_lengths) > 1:
                errors = np.fromiter(self.errors, float, len(self.errors))
                lengths = np.fromiter(self.steps, float, len(self.steps))
                noise = self._noise(errors, 1 / lengths)
                if noise is not None:
                    a, b = noise
                    scores = np.sort(errors / np.sqrt(a + b / np.maximum(lengths, 1.0)))
                    self._normalised = noise, float(scores[k - 1]), float(scores[-k])
        if self._normalised is None or not (finite(steps) and steps > 0):
            return self._pooled
        (a, b), low, high = self._normalised
        scale = math.sqrt(a + b / max(float(steps), 1.0))  # type: ignore[arg-type]  # finite
        return math.exp(min(low * scale, 0.0)), math.exp(max(high * scale, 0.0))

    @staticmethod
    def _noise(errors: np.ndarray, x: np.ndarray) -> tuple[float, float] | None:
        """(a, b) of the noise n ↦ sqrt(a + b / n): least squares of the errors' squares on
        x = 1 / steps (all finite, not all alike), a and b kept ≥ 0; None where they fit no
        noise."""
        y = errors * errors
        mean_y, mean_x = float(y.mean()), float(x.mean())
        b = float(((x - mean_x) * (y - mean_y)).sum() / ((x - mean_x) ** 2).sum())
        a = mean_y - b * mean_x
        if b < 0:  # longer trials no steadier: one pooled noise
            a, b = mean_y, 0.0
        elif a < 0:  # all of it shrinks with length
            a, b = 0.0, float((y * x).sum() / (x * x).sum())
        if a <= 0 and b <= 0:
            return None
        return a, b

    @property
    def finals_needed(self) -> int:
        """How many finals a band needs to state `level`."""
        return math.ceil(2 / (1 - self.level) - 1 - 1e-9)

    def _rank(self) -> int:
        # 1e-9: (1 - 0.9) is 0.0999…; 20 finals must give rank 1, not 0. len(steps): as many
        # as errors, and a deque's length is the cheaper read (the driver asks every report).
        return math.floor((len(self.steps) + 1) * (1 - self.level) / 2 + 1e-9)


@dataclass(frozen=True)
class CostPrediction:
    """A config's predicted end value of a metric: the point estimate and its lower bound."""

    metric: str
    value: float
    lower: float
    evidence: str
    """What the prediction rests on, for a reader: "12 windows of 3 twins (logistic, b=32)"."""
    upper: float = math.inf
    """The interval's other end. A limit inside [lower, upper] is borderline: noise, not the
    config, would decide it."""
    level: float | None = None
    """The share of finals [lower, upper] holds, once the study has measured its own forecasts'
    errors (Calibration); None before that, or for a metric the calibration does not cover."""

    def clears(self, limit: float, margin: float = 0.0) -> bool:
        """The whole interval is over `limit × (1 + margin)`: the config breaks it, whatever
        the noise."""
        return self.lower > limit * (1 + margin)

    def straddles(self, limit: float) -> bool:
        return self.lower <= limit < self.upper

    def holds(self, actual: float) -> bool:
        return self.lower <= actual <= self.upper


class CostModel:
    """Per (model, batch size) and per model, the pooled readings of every trial so far."""

    def __init__(self, confidence: float = 0.9):
        self.confidence = confidence
        self._groups: dict[tuple[str, int], _Group] = {}
        self._per_model: dict[str, dict[str, _Readings]] = {}
        self._seen: dict[str, int] = {}
        """Trial (config) key → reports taken in, so a history fed twice counts once (most
        recently observed last; the oldest forgotten past SEEN_TRIALS)."""
        self._twins: dict[tuple[str, int], int] = {}
        """(model, batch size) → how many twins reported, for a prediction's evidence."""
        self.calibrations: dict[str, Calibration] = {}
        """Per forecast metric (`step_cost_s` for the training time), every model's finals'
        errors: the study's band (summary.json, the ledger)."""
        self._per_model_calibrations: dict[tuple[str, str], Calibration] = {}
        """(metric, model) → that model's finals' errors: the band its forecasts are given."""
        self._before: dict[str, list[CostPrediction]] = {}
        """Trial key → what was forecast for it before its first report."""
        self._while: dict[str, list[tuple[CostPrediction, float]]] = {}
        """Trial key → its training time forecast at its first report, half-way, 3/4 way, each
        with the share of its steps then left."""
        self._checkpoints: dict[str, int] = {}
        self._held: dict[tuple[str, str], _Tally] = {}
        """(when, metric) → how many forecasts a final was held against, and how many held."""
        self._waiting = _Readings()
        """The recent reports' `cpu_waiting_share`: how much the study's trials shared a CPU."""
        self._allowance: float | None = None  # of _waiting, kept until it changes

    def observe(self, history: TrialHistory) -> None:
        """Take in the reports of `history` not seen yet (the driver calls it on each report)."""
        key = cost_key(history.config)
        if key is None or not len(history):
            return
        trial = config_key(history.config)
        seen = self._seen.get(trial, 0)
        if len(history) <= seen:
            return
        if not seen:
            self._before[trial] = self._forecasts_before(history)
            _forget_oldest(self._before)
        group = self._groups.get(key)
        if group is None:  # not setdefault: that builds a group each report
            group = self._groups[key] = _Group()
        if not seen:
            self._twins[key] = self._twins.get(key, 0) + 1
        # Only the new reports, and the one before them for the first cost difference (read one
        # by one: a slice of a history copies each report).
        reports = [history[i] for i in range(max(seen - 1, 0), len(history))]
        new = reports[1:] if seen else reports
        for before, after in pairwise(reports):
            if after.get("early_report"):
                continue
            steps = _number(after.get("step")) - _number(before.get("step"))
            spent = _number(after.get("train_time_s")) - _number(before.get("train_time_s"))
            if steps > 0 and spent >= 0 and finite(spent):
                group.step_cost_s.append(spent / steps)
        for report in new:
            if finite(report.get("cpu_waiting_share")):
                self._waiting.append(float(report["cpu_waiting_share"]))
                self._allowance = None
            if finite(report.get("window_step_time_ms")):
                group.window_step_ms.append(float(report["window_step_time_ms"]))
            if finite(report.get("memory_rise_mb")):
                _keep_recent(group.trials_rise, trial, float(report["memory_rise_mb"]))
            for metric in ("inference_latency_ms", "model_size_kb"):
                if finite(report.get(metric)):
                    per_model = self._per_model.setdefault(key[0], {})
                    if metric not in per_model:
                        per_model[metric] = _Readings()
                    per_model[metric].append(float(report[metric]))
        _keep_recent(self._seen, trial, len(history), SEEN_TRIALS)
        last = history.last
        step, planned = last.get("step"), last.get(STEPS_PLANNED)
        if not (finite(step) and finite(planned) and planned > 0):
            return
        if step < planned:
            self._forecast_while_running(trial, last, history.config)
            return
        # It ran every step: how far its finals fell from what was forecast for it.
        for prediction in self._before.pop(trial, []):
            final = _final(prediction.metric, last)
            if final is None:
                continue
            if prediction.metric == "step_cost_s":  # train_time_s / steps: calibrated, not told
                for calibration in self._calibrations_of(prediction.metric, key[0]):
                    calibration.add(prediction.value, final, steps=planned)
                continue
            if prediction.metric != "train_time_s":  # a step's cost × steps: calibrated as such
                # A step's time averaged over a short run is noisier: normalised by length too.
                length = planned if prediction.metric == "step_time_ms" else None
                for calibration in self._calibrations_of(prediction.metric, key[0]):
                    calibration.add(prediction.value, final, steps=length)
            self._tally("untried", prediction, final)
        for prediction, share_left in self._while.pop(trial, []):
            final = _final("train_time_s", last)
            if final is not None and share_left > 0:
                for calibration in self._calibrations_of(RUNNING, key[0]):
                    calibration.add(prediction.value, final, steps=1 / share_left)
            self._tally("running", prediction, final)
        self._checkpoints.pop(trial, None)

    def _forecast_while_running(
        self, trial: str, last: Mapping[str, Any], config: Mapping[str, Any]
    ) -> None:
        """A running trial's training time forecast where stops are decided (its first report,
        half-way, three quarters of the way), kept to be held against its final."""
        progress = float(last["step"]) / float(last[STEPS_PLANNED])
        passed = sum(progress >= fraction for fraction in RUNNING_CHECKPOINTS)
        if passed <= self._checkpoints.get(trial, 0):
            return
        self._checkpoints[trial] = passed
        _forget_oldest(self._checkpoints)
        forecast = self.forecast_train_time(last, config)
        if forecast is not None:
            self._while.setdefault(trial, []).append((forecast, 1 - progress))
            _forget_oldest(self._while)

    def _tally(self, when: str, prediction: CostPrediction, final: float | None) -> None:
        if final is not None:
            tally = self._held.setdefault((when, prediction.metric), _Tally())
            tally.add(prediction.holds(final), prediction.level)

    def coverage(self) -> dict[str, Any]:
        """How often the intervals held the finals of the trials that ran every step, each
        forecast before the final was known (held out): summary.json `forecasts`. `untried`
        per metric (forecast before the trial's first step), `running` its training time
        (at its first report, half-way and three quarters of the way)."""
        step_cost = self.calibration("step_cost_s")
        return {
            "level": self.confidence,
            # Before this many finals an interval is ±uncalibrated_spread and states no level.
            "calibrated_after": step_cost.finals_needed,
            "uncalibrated_spread": UNCALIBRATED_SPREAD,
            # What the finals taught: (low, high) factors on a forecast cost of a step, and
            # the level they state (None: too few finals yet).
            "step_cost_band": [
                *step_cost.band(),
                step_cost.level if step_cost.calibrated else None,
            ],
            # How much the trials shared a CPU (the recent reports' median cpu_waiting_share;
            # None where the kernel does not say), and the allowance it gave a time's interval.
            "cpu_waiting_share": _sorted_median(self._waiting.ordered) if self._waiting else None,
            "contention_allowance": self.contention_allowance(),
            **{
                when: {m: t.as_dict() for (w, m), t in self._held.items() if w == when}
                for when in ("untried", "running")
            },
        }

    def contention_allowance(self) -> float:
        """1 + CONTENTION_ALLOWANCE × the recent reports' median waiting share: how many times
        its idle cost a contended reading may be (1 where the kernel does not say)."""
        if self._allowance is None:
            self._allowance = contention_factor(
                _sorted_median(self._waiting.ordered) if self._waiting else 0.0
            )
        return self._allowance

    def calibration(self, metric: str, model: str | None = None) -> Calibration:
        """How far `metric`'s finals fell from its forecasts (`step_cost_s`: a step's cost):
        over every model, or over `model`'s trials only."""
        if model is None:
            if metric not in self.calibrations:
                self.calibrations[metric] = Calibration(level=self.confidence)
            return self.calibrations[metric]
        if (metric, model) not in self._per_model_calibrations:
            self._per_model_calibrations[metric, model] = Calibration(level=self.confidence)
        return self._per_model_calibrations[metric, model]

    def _calibrations_of(self, metric: str, model: str) -> tuple[Calibration, Calibration]:
        return self.calibration(metric), self.calibration(metric, model)

    def _forecasts_before(self, history: TrialHistory) -> list[CostPrediction]:
        planned = history[0].get(STEPS_PLANNED)
        if not finite(planned):
            cost = self.step_cost(history.config)
            return [cost] if cost is not None else []
        cost = self.step_cost(history.config, planned)
        # predict's cost of a step is this one, unless the steps planned are not whole.
        steps = int(planned)
        of_steps = cost if steps == planned else self.step_cost(history.config, steps)
        forecasts = self._predict(history.config, steps, of_steps)
        return [*forecasts, cost] if cost is not None else forecasts

    def step_cost(
        self, config: Mapping[str, Any], steps: float | None = None
    ) -> CostPrediction | None:
        """Training seconds per step of `config`'s twins, with an interval: from the windows'
        totals (evaluation and reporting included) once there are MIN_READINGS of them, before
        that from the steps' own time (a floor: reporting left out). So a first twin's first
        reports already give one, and skipping can start from the first twin on. `steps`: how
        many steps the cost is averaged over (the interval of a short run is wider)."""
        key = cost_key(config)
        group = self._groups.get(key) if key else None
        if group is None:
            return None
        own, totals = group.window_step_ms, group.step_cost_s
        if len(own) < MIN_READINGS and len(totals) < MIN_READINGS:
            return None
        # Totals once there are enough (a proper interval of what a step costs, reporting
        # included); before that, the steps' own time, a floor (sorted afresh: a study's
        # first few reports only, and ms / 1e3 could make -0.0 of a tiny negative).
        if len(totals) >= MIN_READINGS:
            ordered: Sequence[float] = totals.ordered
        else:
            ordered = sorted([ms / 1e3 for ms in own])
        return self._calibrated(
            "step_cost_s",
            ordered,
            self._evidence(key, max(len(own), len(totals)), "windows"),
            key[0],
            steps=steps,
        )

    def _calibrated(
        self,
        metric: str,
        ordered: Sequence[float],
        evidence: str,
        model: str,
        steps: float | None = None,
    ) -> CostPrediction:
        """The median of the readings `ordered` (sorted ascending), in an interval of one
        trial's final: the median's own bounds, widened to how far the study's finals fell from
        its forecasts (Calibration). Until the study has measured that, a metric whose final is
        one more reading like these (latency, model size, a window's step time, a twin's peak)
        is given at least the readings' own spread: ±UNCALIBRATED_SPREAD held 56 % of the
        latency finals."""
        value = _sorted_median(ordered)
        calibration = self.calibration(metric, model)
        low, high = calibration.band(steps)
        if metric in _CONTENDED:
            low /= self.contention_allowance()
        if not calibration.calibrated and metric != "step_cost_s" and value > 0:
            spread = _sorted_spread(ordered, self.confidence)
            if spread is not None:
                low, high = min(low, spread[0] / value), max(high, spread[1] / value)
        return CostPrediction(
            metric,
            value,
            min(sorted_median_lower_bound(ordered, self.confidence), value * low),
            evidence,
            upper=max(sorted_median_upper_bound(ordered, self.confidence), value * high),
            level=calibration.level if calibration.calibrated else None,
        )

    def forecast_train_time(
        self, last: Mapping[str, Any], config: Mapping[str, Any]
    ) -> CostPrediction | None:
        """A running trial's train_time_s at its end: elapsed + remaining steps × its twins'
        pooled cost of a step, in that cost's interval, widened to how far the running
        forecasts of its model's trials fell from their finals once those state a level (a
        trial's own cost of a step may differ from its twins' pooled one by more than the
        twins' spread: BENCHMARKS.md, P9). None without evidence."""
        step, planned = last.get("step"), last.get(STEPS_PLANNED)
        elapsed = last.get("train_time_s")
        key = cost_key(config)
        if not (finite(step) and finite(planned) and finite(elapsed)) or key is None:
            return None
        left = max(float(planned) - float(step), 0.0)
        cost = self.step_cost(config, steps=max(left, 1.0))
        if cost is None:
            return None
        value = elapsed + left * cost.value
        lower = elapsed / self.contention_allowance() + left * cost.lower
        upper = elapsed + left * cost.upper
        running = self.calibration(RUNNING, key[0])
        if running.calibrated and left > 0:
            # Normalised by the share of steps left: only the rest of the run is uncertain.
            low, high = running.band(float(planned) / left)
            lower, upper = min(lower, value * low), max(upper, value * high)
        return CostPrediction(
            "train_time_s",
            value,
            lower,
            cost.evidence,
            upper=upper,
            level=running.level if running.calibrated else None,
        )

    def predict(self, config: Mapping[str, Any], steps_planned: int) -> list[CostPrediction]:
        """Every end value the model can predict for `config` before it runs."""
        return self._predict(config, steps_planned, self.step_cost(config, steps=steps_planned))

    def _predict(
        self, config: Mapping[str, Any], steps_planned: int, cost: CostPrediction | None
    ) -> list[CostPrediction]:
        """`predict`, given `step_cost(config, steps=steps_planned)`."""
        key = cost_key(config)
        if key is None:
            return []
        out: list[CostPrediction] = []
        if cost is not None:
            out.append(
                CostPrediction(
                    "train_time_s",
                    cost.value * steps_planned,
                    cost.lower * steps_planned,
                    cost.evidence,
                    upper=cost.upper * steps_planned,
                    level=cost.level,
                )
            )
        group = self._groups.get(key)
        if group is not None and len(group.window_step_ms) >= MIN_READINGS:
            values = group.window_step_ms
            evidence = self._evidence(key, len(values), "windows")
            out.append(
                self._calibrated(
                    "step_time_ms", values.ordered, evidence, key[0], steps=steps_planned
                )
            )
        if group is not None and len(group.trials_rise) >= 2:
            # A peak is monotone: the smallest peak any twin reached is already a lower bound.
            rises = sorted(group.trials_rise.values())  # a twin's peak rises: no kept order
            evidence = self._evidence(key, len(rises), "trials")
            out.append(self._calibrated("memory_rise_mb", rises, evidence, key[0]))
        for metric, values in self._per_model.get(key[0], {}).items():
            if len(values) >= MIN_READINGS:
                evidence = f"{len(values)} readings of model {key[0]}"
                out.append(self._calibrated(metric, values.ordered, evidence, key[0]))
        return out

    def _evidence(self, key: tuple[str, int] | None, count: int, what: str) -> str:
        twins = self._twins.get(key, 0) if key else 0
        model, batch = key if key else ("?", 0)
        return f"{count} {what} of {twins} cost twin(s) ({model}, batch {batch})"


# Trials whose forecasts wait for a final. A stopped or skipped trial never brings one, so the
# oldest are forgotten: far more than ever run at once, so no running trial's is lost.
OPEN_FORECASTS = 1024


# Trials whose reports-taken-in count is kept, most recently observed first kept: far more than
# ever run at once, so a running trial's count is never lost, while the driver stays flat.
SEEN_TRIALS = 4096


def _keep_recent(kept: dict[str, Any], trial: str, value: Any, most: int = RECENT_READINGS) -> None:
    """kept[trial] = value, moved to the newest end; the oldest forgotten past `most`."""
    kept.pop(trial, None)
    kept[trial] = value
    while len(kept) > most:
        del kept[next(iter(kept))]


def _forget_oldest(waiting: dict[str, Any]) -> None:
    while len(waiting) > OPEN_FORECASTS:
        del waiting[next(iter(waiting))]


def _final(metric: str, last: Mapping[str, Any]) -> float | None:
    """A finished trial's end value of a forecast metric (`step_cost_s`: training time a step;
    `memory_rise_mb`: the reports carry the peak so far)."""
    if metric == "step_cost_s":
        spent, step = last.get("train_time_s"), last.get("step")
        return float(spent) / float(step) if finite(spent) and finite(step) and step else None
    return float(last[metric]) if finite(last.get(metric)) else None


def _sorted_spread(ordered: Sequence[float], level: float) -> tuple[float, float] | None:
    """The k-th lowest and highest of the readings `ordered` (sorted ascending): an interval
    holding one more reading like them at `level` (the same rank rule as Calibration); None
    with too few readings."""
    k = math.floor((len(ordered) + 1) * (1 - level) / 2 + 1e-9)
    if k < 1:
        return None
    return ordered[k - 1], ordered[-k]


def _number(value: Any) -> float:
    return float(value) if finite(value) else float("nan")


def _sorted_median(ordered: Sequence[float]) -> float:
    """The median of `ordered`, sorted ascending."""
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
        planned = start.get(STEPS_PLANNED)
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
