"""The trial book: every trial's history, every decision, and the one rule that gives a status.

A backend tells the book what happens (a trial started, reported, ended); the book decides
(stop, skip, carry on) and, when a trial ends, gives it its status. Backends differ in when a
decision reaches a trial (at once in process, a batch later on Ray), never in what it is.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from array import array
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

from leantune.engine._trial import START_PHASE
from leantune.metrics import QUALITY_METRICS
from leantune.stoppers import CostModel, SkipPredicted, StoppingPolicy, StopReason, TrialHistory
from leantune.trials import (
    CV_SCORE_MEAN,
    DIVERGED,
    FAILED,
    FEASIBLE,
    FINISHED,
    FOLD_FINISHED,
    INFEASIBLE,
    SKIPPED,
    STEPS_PLANNED,
    STOPPED,
    TrialObserver,
    TrialRecord,
    config_key,
)

_log = logging.getLogger("leantune")


class TrialBook:
    """Bookkeeping on the driver: histories, stop decisions, statuses and the observer calls.

    Records are keyed by the backend's own trial key. A record's `trial_id` is the same, except
    for a trial resumed from an earlier session, which keeps the id it had there.

    `policy` judges every report; `scheduler` (ASHA) too, and it stops trials even when
    `enforce` is off (it is part of the search, not of the limits); `skip` judges a trial's
    start report; `limits` re-judges the complete record of a trial whose forecast-based stop
    arrived only after it had finished.
    """

    def __init__(
        self,
        policy: StoppingPolicy,
        observer: TrialObserver,
        *,
        enforce: bool = True,
        scheduler: StoppingPolicy | None = None,
        limits: StoppingPolicy | None = None,
        unfinished: Sequence[tuple[str, Mapping[str, Any]]] = (),
        taken: Sequence[str] = (),
        session: int = 0,
        skip: SkipPredicted | None = None,
        cost_model: CostModel | None = None,
        keep_reports: bool = True,
    ):
        """`unfinished`: (id, config) of trials an earlier session left running, adopted by the
        trial that runs the same config; `taken`: ids earlier sessions used. `keep_reports`
        False: once the observer has saved an ended trial, the book keeps only what the pick,
        the ledger and the trials table read of its reports (`slim_reports`), so the driver's
        memory does not grow with every report of every trial."""
        self.policy = policy
        self.scheduler = scheduler
        self.limits = limits
        self.skip = skip if enforce else None
        # Fed every report, whatever rules decide: what its forecasts held is counted on every
        # trial (summary.json `forecasts`), and skipping reads it.
        self.cost_model = cost_model or (skip.cost_model if skip is not None else None)
        self.observer = observer
        self.enforce = enforce
        self.session = session
        self.keep_reports = keep_reports
        self.records: dict[str, TrialRecord] = {}
        self.order: list[str] = []
        self.observer_failures = 0
        self._adoptable: dict[str, list[str]] = {}
        for trial_id, config in unfinished:
            self._adoptable.setdefault(config_key(config), []).append(trial_id)
        self._taken = {trial_id for trial_id, _ in unfinished} | set(taken)

    # -- what a backend tells the book ------------------------------------------------------

    def started(self, key: str, config: Mapping[str, Any]) -> TrialRecord:
        if key in self.records:
            return self.records[key]  # a retried trial: `recovering` has reset its record
        ids = self._adoptable.get(config_key(config))
        if ids:
            trial_id = ids.pop(0)
        elif key in self._taken:
            # Backends' ids may repeat across sessions: never reuse an earlier trial's.
            trial_id = f"{key}-s{self.session}"
        else:
            trial_id = key
        record = TrialRecord(trial_id=trial_id, config=dict(config), session=self.session)
        self.records[key] = record
        self.order.append(key)
        self._notify("trial_started", record)
        return record

    def reported(
        self, key: str, report: dict[str, Any], worker_stop: StopReason | None = None
    ) -> bool:
        """One report, oldest first: keep it, tell the observer, judge it. True: the trial
        must stop now. `worker_stop`: the trial's worker already stopped it at this report, on
        the same rule (the book's own rules, run where the readings are)."""
        record = self.records[key]
        if report.get("trial_phase") == START_PHASE:
            return self._judge_start(record, report)
        record.reports.append(report)
        self._notify("trial_reported", record, report)
        if record.stop_reason is not None or report.get("trial_status") in (DIVERGED, FAILED):
            return self.must_stop(key)
        history = TrialHistory(record.reports, record.config, record.trial_id)
        if self.cost_model is not None:
            self.cost_model.observe(history)
        if worker_stop is not None:
            record.stop_reason = worker_stop
            return True
        decision = self.policy.decide(history)
        if not decision.stop and self.scheduler is not None:
            decision = self.scheduler.decide(history)
        if decision.stop:
            # Observe-only mode keeps the first reason (a limit makes the trial infeasible)
            # but lets the trial run on.
            record.stop_reason = decision.reason
        return self.must_stop(key)

    def must_stop(self, key: str) -> bool:
        reason = self.records[key].stop_reason
        return reason is not None and (self.enforce or reason.rule == "asha")

    def recovering(self, key: str, error: str) -> None:
        """An attempt failed and the backend runs the trial again: keep its error, void its
        reports."""
        record = self.records.get(key)
        if record is None or record.ended_at is not None:
            return
        record.attempt_errors.append(self.attempt_error(record, error))
        record.attempts += 1
        record.reports, record.stop_reason = [], None
        self._notify("trial_restarted", record)

    def ended(self, key: str, error: str | None = None) -> TrialRecord | None:
        """The trial ended (`error`: its attempt failed outside its own loop, e.g. its worker
        died). Gives it its status by the one rule (`status_of`) and tells the observer."""
        record = self.records.get(key)
        if record is None or record.ended_at is not None:
            return record
        record.ended_at = time.time()
        if error is not None:
            record.status, record.error = FAILED, self.attempt_error(record, error)
            record.attempt_errors.append(record.error)
        else:
            self._give_status(record)
        self._notify("trial_ended", record)
        if not self.keep_reports and self.observer_failures == 0:
            # Packed reports read as the dicts they pack (PackedReport is a Mapping).
            record.reports = slim_reports(record.reports)  # type: ignore[assignment]
        return record

    # -- the one status rule ----------------------------------------------------------------

    def _give_status(self, record: TrialRecord) -> None:
        """How a trial ended, from its complete record.

        A trial that ran every planned step is judged on that record, whatever stop arrived
        after it: a quality rule's stop (Prechelt, patience, ASHA) leaves it feasible, a
        measured limit it broke makes it infeasible, and a forecast is replaced by what was
        measured. Such a late stop is kept as `late_stop`; it saved nothing.
        """
        trial_status = record.last.get("trial_status")
        reason = record.stop_reason
        if trial_status in (DIVERGED, FAILED):
            record.status, record.error = trial_status, record.last.get("error")
            if trial_status == FAILED and record.error:
                record.attempt_errors.append(record.error)
            return
        if reason is not None and reason.rule == "skip":
            record.status = SKIPPED
            return
        if reason is not None and reason.rule == "divergence":
            record.status = DIVERGED
            return
        if trial_status == FINISHED:
            record.status = self._judge_complete(record)
            return
        if reason is not None:
            # Cut short: by a limit (it cannot be picked) or a quality rule (it stays a
            # candidate, judged on what it reached).
            record.status = STOPPED
            return
        record.status, record.error = FAILED, "ended without a final report"

    def _judge_complete(self, record: TrialRecord) -> str:
        reason = record.stop_reason
        if reason is None:
            return FEASIBLE
        if reason.final or not self.enforce:
            # A quality floor is judged at the end; observe-only trials run to the end anyway.
            return INFEASIBLE if reason.limit else FEASIBLE
        # Too late to stop anything: what the complete record measured decides. A forecast
        # was for this very end; a quality rule's stop judged no limit, and once a trial has a
        # reason the reports after it were not judged.
        record.late_stop = reason
        measured = self._broken_limit(record)
        if measured is None and reason.rule == "constraint":
            measured = reason  # broken as measured on the way, whatever the replay says
        record.stop_reason = measured
        return INFEASIBLE if measured is not None else FEASIBLE

    def _broken_limit(self, record: TrialRecord) -> StopReason | None:
        """The first measured limit the complete record broke (the reactive rules replayed)."""
        if self.limits is None:
            return None
        for index in range(len(record.reports)):
            history = TrialHistory(record.reports[: index + 1], record.config, record.trial_id)
            decision = self.limits.decide(history)
            if decision.stop:
                return decision.reason
        return None

    def _judge_start(self, record: TrialRecord, start: dict[str, Any]) -> bool:
        """The trial's report before its first step: skip it if the cost model says so. A
        trial that trains keeps no trace of it; a skipped one keeps it as its only report."""
        if self.skip is None or record.reports:
            return False
        decision = self.skip.decide(record.config, start)
        if not decision.stop:
            return False
        record.stop_reason = decision.reason
        closing = {**start, "trial_status": SKIPPED}
        # What it would have cost: the ledger's estimate of what skipping saved.
        for prediction in self.skip.cost_model.predict(record.config, start[STEPS_PLANNED]):
            closing[f"predicted_{prediction.metric}"] = prediction.value
        closing.pop("trial_phase", None)
        record.reports.append(closing)
        self._notify("trial_reported", record, closing)
        return True

    # -- reading the book -------------------------------------------------------------------

    @staticmethod
    def attempt_error(record: TrialRecord, backend_error: str) -> str:
        # A trial that failed in its own code said why in its closing report; the backend's
        # error then only holds the re-raise. A dead worker leaves no closing report.
        if record.last.get("trial_status") == FAILED and record.last.get("error"):
            return str(record.last["error"])
        return backend_error

    def ended_records(self) -> list[TrialRecord]:
        return [self.records[k] for k in self.order if self.records[k].ended_at is not None]

    def unfinished(self) -> int:
        return sum(1 for record in self.records.values() if record.ended_at is None)

    def _notify(self, event: str, *args: Any) -> None:
        # An observer bug (tracking, display) must not turn into a backend error that kills
        # the trial: log it once with its traceback and carry on.
        handler = getattr(self.observer, event, None)
        if handler is None:
            return
        try:
            handler(*args)
        except Exception:
            self.observer_failures += 1
            if self.observer_failures == 1:
                _log.exception("leantune: %s failed; the study goes on", event)


# What an ended trial keeps of a report it no longer needs: a place, so the count of reports
# (the ledger shares evaluation time among them) stays what it was.
DROPPED: Mapping[str, Any] = MappingProxyType({})
# What it keeps of each fold's last report and of its peak-memory report: what the trials
# table, the pick and the quality floors read (leantune.metrics.final_value, Objective.reached).
_SLIM_KEYS = ("fold", FOLD_FINISHED, "step", "memory_mb", *QUALITY_METRICS)


def slim_reports(reports: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """An ended trial's reports as the driver keeps them once its state file holds them all:
    the last whole, each fold's last and the peak-memory one with only `_SLIM_KEYS`, the rest
    `DROPPED`; the kept ones packed (`PackedReport`)."""
    if not reports:
        return []
    last_of_fold = {report.get("fold", 0): index for index, report in enumerate(reports)}
    memory = {
        index: float(value)
        for index, value in enumerate(r.get("memory_mb") for r in reports)
        if isinstance(value, int | float)
    }
    keep = set(last_of_fold.values()) | ({max(memory, key=memory.__getitem__)} if memory else set())
    slim: list[Mapping[str, Any]] = [
        PackedReport({key: report[key] for key in _SLIM_KEYS if key in report})
        if index in keep
        else DROPPED
        for index, report in enumerate(reports[:-1])
    ]
    # The last stays whole (a backend recognises a repeat of the closing report by it: Ray
    # Tune sends a returning trainable's last result twice).
    slim.append(PackedReport(reports[-1]))
    return slim


class PackedReport(Mapping[str, Any]):
    """A report as an ended trial keeps it, read-only, in about a fifth of a dict's memory: its
    names shared with every packed report of the same names and kinds (`_Layout`), its floats
    in one array rather than a Python float each (~2.5 KB less for a 43-metric report).

    Reads as the report it packs: the same names in the same order, the same values (a float
    comes back as an equal float, every other value as it was), equal to it."""

    __slots__ = ("_layout", "_numbers", "_others")

    def __init__(self, report: Mapping[str, Any]):
        floats = tuple(type(value) is float for value in report.values())
        self._layout = _Layout.of(tuple(report), floats)
        values = report.values()
        # From a list: an array grown a value at a time keeps spare room.
        self._numbers = array(
            "d", [v for v, is_float in zip(values, floats, strict=True) if is_float]
        )
        # Texts (a status, a phase) shared with every report that holds the same one.
        self._others = tuple(
            sys.intern(v) if type(v) is str else v
            for v, is_float in zip(values, floats, strict=True)
            if not is_float
        )

    def __getitem__(self, name: str) -> Any:
        place = self._layout.places[name]
        return self._numbers[place] if place >= 0 else self._others[~place]

    def __iter__(self) -> Iterator[str]:
        return iter(self._layout.names)

    def __len__(self) -> int:
        return len(self._layout.names)

    def __contains__(self, name: object) -> bool:
        return name in self._layout.places

    def get(self, name: str, default: Any = None) -> Any:
        place = self._layout.places.get(name)
        if place is None:
            return default
        return self._numbers[place] if place >= 0 else self._others[~place]

    def __repr__(self) -> str:
        return f"PackedReport({dict(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return PackedReport, (dict(self),)


class _Layout:
    """The names of a packed report, in order, and where each value sits: `places[name]` >= 0
    in its floats, ~place in its other values. One a set of names and kinds, shared."""

    __slots__ = ("names", "places")
    # Reports of one study have a handful of layouts; a trainable that reports ever new names
    # gets unshared ones past this many.
    _SHARED = 256
    _known: ClassVar[dict[tuple[tuple[str, ...], tuple[bool, ...]], _Layout]] = {}

    def __init__(self, names: tuple[str, ...], floats: tuple[bool, ...]):
        self.names = tuple(sys.intern(n) if type(n) is str else n for n in names)
        self.places: dict[str, int] = {}
        counts = [0, 0]
        for name, is_float in zip(self.names, floats, strict=True):
            self.places[name] = counts[1] if is_float else ~counts[0]
            counts[is_float] += 1

    @classmethod
    def of(cls, names: tuple[str, ...], floats: tuple[bool, ...]) -> _Layout:
        key = (names, floats)
        layout = cls._known.get(key)
        if layout is None:
            layout = cls(names, floats)
            if len(cls._known) < cls._SHARED:
                cls._known[key] = layout
        return layout


def sampler_value(record: TrialRecord, objective: Any) -> float | None:
    """A trial's value for a sampler (TPE): the study's objective, else its CV score, else
    (a trial cut short) its last in-fold score; None where there is none."""
    if objective is not None:
        value = objective.value(record.reports)
        return value if math.isfinite(value) else None
    value = record.last.get(CV_SCORE_MEAN, record.last.get("objective"))
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None
