"""A study from start to finish: prepare and check, search, pick, refit, record."""

from leantune.study._prepare import PreparedStudy, prepare_study
from leantune.study._results import FinalModel
from leantune.study._runner import StudyInterrupted, StudyResult, run_study

__all__ = [
    "FinalModel",
    "PreparedStudy",
    "StudyInterrupted",
    "StudyResult",
    "prepare_study",
    "run_study",
]
