"""What the driver knows of a trial, and what a search hands back or picks up from."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from leantune.trials._reason import StopReason
from leantune.trials._status import RUNNING


@dataclass(slots=True)
class TrialRecord:
    """One ended trial as the driver saw it: config, every report, and how it ended.

    Slotted: a study of 10,000 trials holds 10,000 of them (no per-record attribute dict)."""

    trial_id: str
    config: dict[str, Any]
    status: str = RUNNING
    stop_reason: StopReason | None = None
    error: str | None = None
    reports: list[dict[str, Any]] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    attempts: int = 1
    """How many times the trial started: 1 + its retries (resources.max_failures)."""
    attempt_errors: list[str] = field(default_factory=list)
    """The error of every failed attempt, oldest first (the last one is also `error`)."""
    node_id: str | None = None
    """The Ray node that ran the trial's last attempt."""
    worker_pid: int | None = None
    session: int = 0
    """Which run of the study ended the trial: 0 for `leantune run`, 1+ for each resume."""
    late_stop: StopReason | None = None
    """A stop that reached the trial only after it had run every planned step (a fast trial
    ends before the driver's decision arrives): kept as a record, it saved nothing, and the
    trial was judged on its complete record instead (leantune.search.TrialBook)."""

    @property
    def last(self) -> dict[str, Any]:
        return self.reports[-1] if self.reports else {}


class TrialObserver(Protocol):
    """Driver-side listener: the study wires tracking and progress display to these calls.

    `trial_restarted` (optional) says a failed attempt is retried: the reports so far are void.
    """

    def trial_started(self, record: TrialRecord) -> None: ...

    def trial_reported(self, record: TrialRecord, report: dict[str, Any]) -> None: ...

    def trial_ended(self, record: TrialRecord) -> None: ...


class SearchInterrupted(Exception):
    """The search ended before every trial did (Ctrl-C, SIGTERM). `records` holds the ended ones."""

    def __init__(self, records: list[TrialRecord], planned: int, unfinished: int):
        self.records = records
        self.planned = planned
        self.unfinished = unfinished
        super().__init__(
            f"interrupted: {len(records)} of {planned} trials ended ({unfinished} were running)"
        )


@dataclass(frozen=True)
class ResumePoint:
    """What earlier runs of the same study left: the search picks up where they stopped."""

    ended: Sequence[TrialRecord] = ()
    """Trials that ended. They never run again; random and TPE sampling learn from them."""
    unfinished: Sequence[tuple[str, Mapping[str, Any]]] = ()
    """(trial id, config) of trials that were running. Each runs again from its start, under
    the same id."""
    session: int = 1
