"""The engine: the trial loop and the Ray Tune wiring (the only package that imports Ray)."""

from leantune.engine._cluster import require_cpus
from leantune.engine._faults import Fault, InjectedFault
from leantune.engine._memory_cap import MemoryCap
from leantune.engine._trial import (
    DIVERGED,
    FAILED,
    FINISHED,
    START_PHASE,
    TrainingPlan,
    TrialData,
    TrialOutcome,
    train_trial,
)
from leantune.engine._tune import (
    FEASIBLE,
    INFEASIBLE,
    SKIPPED,
    STOPPED,
    LogUniform,
    ResumePoint,
    SearchInterrupted,
    SearchRequest,
    TrialFailed,
    TrialObserver,
    TrialRecord,
    config_key,
    run_search,
    start_ray,
    stop_ray,
)

__all__ = [
    "DIVERGED",
    "FAILED",
    "FEASIBLE",
    "FINISHED",
    "INFEASIBLE",
    "SKIPPED",
    "START_PHASE",
    "STOPPED",
    "Fault",
    "InjectedFault",
    "LogUniform",
    "MemoryCap",
    "ResumePoint",
    "SearchInterrupted",
    "SearchRequest",
    "TrainingPlan",
    "TrialData",
    "TrialFailed",
    "TrialObserver",
    "TrialOutcome",
    "TrialRecord",
    "config_key",
    "require_cpus",
    "run_search",
    "start_ray",
    "stop_ray",
    "train_trial",
]
