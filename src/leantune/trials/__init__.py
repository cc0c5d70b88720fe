"""Trials as the rest of leantune reads them: records, statuses, config identity (Ray-free).

The engine fills these in; the study, its state files, the ledger and `validate` only read
them, so none of those need Ray.
"""

from leantune.trials._record import ResumePoint, SearchInterrupted, TrialObserver, TrialRecord
from leantune.trials._space import LogUniform, config_key
from leantune.trials._status import (
    DIVERGED,
    FAILED,
    FEASIBLE,
    FINISHED,
    INFEASIBLE,
    RUNNING,
    SKIPPED,
    STOPPED,
)

__all__ = [
    "DIVERGED",
    "FAILED",
    "FEASIBLE",
    "FINISHED",
    "INFEASIBLE",
    "RUNNING",
    "SKIPPED",
    "STOPPED",
    "LogUniform",
    "ResumePoint",
    "SearchInterrupted",
    "TrialObserver",
    "TrialRecord",
    "config_key",
]
