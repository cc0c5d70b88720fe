"""How a trial ended: the one place each status is spelled, as a closed set.

`TrialStatus` is a StrEnum: each member equals its string ("feasible" == TrialStatus.FEASIBLE),
so files written before it (trials.csv, state/, summary.json) read back unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class TrialStatus(StrEnum):
    """A trial's status, as the driver gives it (`TrialBook`)."""

    FEASIBLE = "feasible"
    """Ran every planned step within every limit."""
    STOPPED = "stopped"
    """Cut short by a policy; its stop reason says which (a limit, or a quality rule)."""
    SKIPPED = "skipped"
    """Never trained: the study's cost model predicted it over a limit."""
    INFEASIBLE = "infeasible"
    """Ran to its end but broke a limit on the way (stopping off, or a stop that arrived
    late) or missed a quality floor (judged at the end)."""
    DIVERGED = "diverged"
    """Its loss or weights went non-finite, or exploded."""
    FAILED = "failed"
    """Its code raised, or its worker died."""
    RUNNING = "running"
    """Started and not yet ended (state files only)."""

    @property
    def ended(self) -> bool:
        return self is not TrialStatus.RUNNING


# Every status a trial ends with, in the order counts and tables list them.
ENDED_STATUSES = tuple(status for status in TrialStatus if status.ended)

FEASIBLE = TrialStatus.FEASIBLE
STOPPED = TrialStatus.STOPPED
SKIPPED = TrialStatus.SKIPPED
INFEASIBLE = TrialStatus.INFEASIBLE
DIVERGED = TrialStatus.DIVERGED
FAILED = TrialStatus.FAILED
RUNNING = TrialStatus.RUNNING

# A worker's own word on how its trial ended, in its closing report (`trial_status`): it ran
# every planned step. Not a status: the driver turns it into one.
FINISHED = "finished"
