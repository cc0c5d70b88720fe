"""The engine: the trial loop and the Ray Tune wiring (the only package that imports Ray).

Ray is imported on first use of a name that needs it (`run_search`, `start_ray`, ...), so code
that only reads trials (`TrialRecord`, the statuses, `LogUniform`) never pays for it.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from leantune.engine import _persistent
from leantune.engine._faults import Fault, InjectedFault
from leantune.engine._memory_cap import MemoryCap
from leantune.engine._trial import (
    START_PHASE,
    TrainingPlan,
    TrialData,
    TrialOutcome,
    train_trial,
)
from leantune.trials import (
    DIVERGED,
    FAILED,
    FEASIBLE,
    FINISHED,
    INFEASIBLE,
    SKIPPED,
    STOPPED,
    LogUniform,
    ResumePoint,
    SearchInterrupted,
    TrialObserver,
    TrialRecord,
    config_key,
)

# Set before Ray reads them (the engine's first import, before any Ray import): keep Tune's own
# console table and per-trial log files out of the way. leantune shows its own progress and
# records everything in MLflow. A failed trial is recorded with its error by the driver, so Tune
# need not print each one's traceback too.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("TUNE_PRINT_ALL_TRIAL_ERRORS", "0")
# leantune resumes from its own run directory, never from Tune's experiment state: Tune need not
# rewrite that state every few seconds (each write encodes every trial, ~10 ms a trial of driver
# CPU); it still writes it when the search starts and when it ends.
os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "86400")
# A study joins the local Ray that `leantune ray start` keeps running, with its token.
_persistent.prepare_to_join()

if TYPE_CHECKING:
    from leantune.engine._cluster import require_cpus
    from leantune.engine._tune import SearchRequest, TrialFailed, run_search, start_ray, stop_ray

# The names that need Ray, by the module that holds them.
_NEEDS_RAY = {
    **dict.fromkeys(
        ("SearchRequest", "TrialFailed", "run_search", "start_ray", "stop_ray"),
        "leantune.engine._tune",
    ),
    "require_cpus": "leantune.engine._cluster",
}


def __getattr__(name: str) -> Any:
    if name in _NEEDS_RAY:
        return getattr(importlib.import_module(_NEEDS_RAY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
