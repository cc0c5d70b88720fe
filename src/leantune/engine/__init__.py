"""The engine: the trial loop and the Ray Tune wiring (the only package that imports Ray).

Ray is imported on first use of a name that needs it (`run_search`, `start_ray`, ...), so code
that only reads trials (`TrialRecord`, the statuses, `LogUniform`) never pays for it.
"""

from __future__ import annotations

import importlib
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

# Ray's settings are made only while leantune's Ray or Tune runs (engine._ray.RAY_ENVIRONMENT),
# so importing leantune sets none. A study joins the local Ray that `leantune ray start` keeps
# running, with its token (set here only while that Ray runs: Ray reads it on import).
_persistent.prepare_to_join()

if TYPE_CHECKING:
    from leantune.engine._cluster import require_cpus
    from leantune.engine._pool import RayPoolBackend
    from leantune.engine._ray import start_ray, stop_ray
    from leantune.engine._tune import RayTuneBackend, TrialFailed, run_search
    from leantune.search import SearchRequest

# The names that need Ray (or the search core, which imports this package), by their module.
_NEEDS_RAY = {
    **dict.fromkeys(("RayTuneBackend", "TrialFailed", "run_search"), "leantune.engine._tune"),
    **dict.fromkeys(("start_ray", "stop_ray"), "leantune.engine._ray"),
    "RayPoolBackend": "leantune.engine._pool",
    "SearchRequest": "leantune.search",
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
    "RayPoolBackend",
    "RayTuneBackend",
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
