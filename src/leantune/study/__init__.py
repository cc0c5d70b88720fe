"""A study from start to finish: prepare and check, search, pick, refit, record."""

from leantune.study._compare import ComparisonResult, run_comparison
from leantune.study._loaded import load_study
from leantune.study._prepare import PreparedStudy, prepare_study
from leantune.study._results import FinalModel
from leantune.study._runner import StudyInterrupted, StudyResult, resume_study, run_study
from leantune.study._thesis import ThesisOptions, ThesisResult, run_thesis
from leantune.study._whatif import load_histories, predictive_vs_reactive, replay_table

__all__ = [
    "ComparisonResult",
    "FinalModel",
    "PreparedStudy",
    "StudyInterrupted",
    "StudyResult",
    "ThesisOptions",
    "ThesisResult",
    "load_histories",
    "load_study",
    "predictive_vs_reactive",
    "prepare_study",
    "replay_table",
    "resume_study",
    "run_comparison",
    "run_study",
    "run_thesis",
]
