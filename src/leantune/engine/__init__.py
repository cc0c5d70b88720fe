"""The engine: the trial loop and the Ray Tune wiring (the only package that imports Ray)."""

from leantune.engine._trial import (
    DIVERGED,
    FAILED,
    FINISHED,
    TrainingPlan,
    TrialData,
    TrialOutcome,
    train_trial,
)
from leantune.engine._tune import (
    FEASIBLE,
    INFEASIBLE,
    STOPPED,
    LogUniform,
    SearchInterrupted,
    SearchRequest,
    TrialObserver,
    TrialRecord,
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
    "STOPPED",
    "LogUniform",
    "SearchInterrupted",
    "SearchRequest",
    "TrainingPlan",
    "TrialData",
    "TrialObserver",
    "TrialOutcome",
    "TrialRecord",
    "run_search",
    "start_ray",
    "stop_ray",
    "train_trial",
]
