"""A study from start to finish: prepare and check, search, pick, refit, record.

Each name is imported on first use, so `leantune validate` (which needs only `check_study`)
loads neither Ray, MLflow nor matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leantune.study._compare import ComparisonResult, run_comparison
    from leantune.study._loaded import load_study
    from leantune.study._prepare import CheckedStudy, PreparedStudy, check_study, prepare_study
    from leantune.study._replay import ReplayOutcome, replay_rules
    from leantune.study._results import FinalModel
    from leantune.study._runner import StudyInterrupted, StudyResult, resume_study, run_study
    from leantune.study._thesis import ThesisOptions, ThesisResult, run_thesis
    from leantune.study._whatif import load_histories, predictive_vs_reactive, replay_table

_HOMES = {
    "ComparisonResult": "_compare",
    "run_comparison": "_compare",
    "load_study": "_loaded",
    "CheckedStudy": "_prepare",
    "PreparedStudy": "_prepare",
    "check_study": "_prepare",
    "prepare_study": "_prepare",
    "ReplayOutcome": "_replay",
    "replay_rules": "_replay",
    "FinalModel": "_results",
    "StudyInterrupted": "_runner",
    "StudyResult": "_runner",
    "resume_study": "_runner",
    "run_study": "_runner",
    "ThesisOptions": "_thesis",
    "ThesisResult": "_thesis",
    "run_thesis": "_thesis",
    "load_histories": "_whatif",
    "predictive_vs_reactive": "_whatif",
    "replay_table": "_whatif",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "CheckedStudy",
    "ComparisonResult",
    "FinalModel",
    "PreparedStudy",
    "ReplayOutcome",
    "StudyInterrupted",
    "StudyResult",
    "ThesisOptions",
    "ThesisResult",
    "check_study",
    "load_histories",
    "load_study",
    "predictive_vs_reactive",
    "prepare_study",
    "replay_rules",
    "replay_table",
    "resume_study",
    "run_comparison",
    "run_study",
    "run_thesis",
]
