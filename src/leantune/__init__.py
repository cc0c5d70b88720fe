"""leantune: tune machine-learning training to an application's resource limits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leantune._version import __version__
from leantune.errors import DatasetError, LeantuneError, SpecError
from leantune.spec import StudySpec, load_spec

if TYPE_CHECKING:
    from leantune.study import StudyResult


def run(spec: Any, overrides: list[str] | tuple[str, ...] = (), **options: Any) -> StudyResult:
    """Run a study from a StudySpec, a dict, or a YAML path. See `leantune.study.run_study`."""
    from leantune.study import run_study

    return run_study(load_spec(spec, overrides), **options)


def resume(run_dir: Any, **options: Any) -> StudyResult:
    """Finish an interrupted study in `run_dir`. See `leantune.study.resume_study`."""
    from pathlib import Path

    from leantune.study import resume_study

    return resume_study(Path(run_dir), **options)


def load(run_dir: Any) -> StudyResult:
    """A finished study read back from its run directory: the same StudyResult `run` returned,
    with its chosen model (`best_estimator`) and its trials table."""
    from leantune.study import load_study

    return load_study(run_dir)


__all__ = [
    "DatasetError",
    "LeantuneError",
    "SpecError",
    "StudySpec",
    "__version__",
    "load",
    "load_spec",
    "resume",
    "run",
]
