"""Trials as the rest of leantune reads them: records, statuses, config identity (Ray-free).

The engine fills these in; the study, its state files, the ledger and `validate` only read
them, so none of those need Ray.
"""

from leantune.trials._keys import (
    CV_SCORE_MEAN,
    CV_SCORE_STD,
    FOLD_FINISHED,
    FOLDS_DONE,
    PROGRESS_PCT,
    STEPS_DONE,
    STEPS_PLANNED,
    STRUCTURAL_KEYS,
    TRIAL_ID,
)
from leantune.trials._reason import CONSTRAINT_RULES, QUALITY_RULES, StopReason, StopRule
from leantune.trials._record import ResumePoint, SearchInterrupted, TrialObserver, TrialRecord
from leantune.trials._space import LogUniform, config_key
from leantune.trials._status import (
    DIVERGED,
    ENDED_STATUSES,
    FAILED,
    FEASIBLE,
    FINISHED,
    INFEASIBLE,
    RUNNING,
    SKIPPED,
    STOPPED,
    TrialStatus,
)

__all__ = [
    "CONSTRAINT_RULES",
    "CV_SCORE_MEAN",
    "CV_SCORE_STD",
    "DIVERGED",
    "ENDED_STATUSES",
    "FAILED",
    "FEASIBLE",
    "FINISHED",
    "FOLDS_DONE",
    "FOLD_FINISHED",
    "INFEASIBLE",
    "PROGRESS_PCT",
    "QUALITY_RULES",
    "RUNNING",
    "SKIPPED",
    "STEPS_DONE",
    "STEPS_PLANNED",
    "STOPPED",
    "STRUCTURAL_KEYS",
    "TRIAL_ID",
    "LogUniform",
    "ResumePoint",
    "SearchInterrupted",
    "StopReason",
    "StopRule",
    "TrialObserver",
    "TrialRecord",
    "TrialStatus",
    "config_key",
]
