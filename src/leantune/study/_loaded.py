"""A finished study read back from its run directory: `leantune.load(run_dir)`."""

from __future__ import annotations

from pathlib import Path

from leantune.errors import LeantuneError
from leantune.results import RunDir, Summary
from leantune.study._results import FinalModel
from leantune.study._runner import StudyResult
from leantune.trials import FEASIBLE


def load_study(run_dir: str | Path, *, trust: bool = False) -> StudyResult:
    """The StudyResult `leantune.run` returned, from the files it wrote: the summary, the
    trials table and the chosen model (loaded from its MLflow model directory).

    The model is read only in the format leantune writes (skops, scikit-learn's and
    leantune's types); `trust=True` loads whatever the directory holds, pickle included,
    which runs its code: only for a directory you trust."""
    files = RunDir(run_dir)
    summary = files.read_summary()
    trials = files.read_trials()
    return StudyResult(files.path, summary.as_dict(), trials, [], _final(files, summary, trust))


def _final(files: RunDir, summary: Summary, trust: bool) -> FinalModel | None:
    best = summary.best
    if best is None:
        return None
    run_dir = files.path
    name = best.model or files.model_dir.name
    model_dir = run_dir / name
    if not trust and (Path(name).is_absolute() or ".." in Path(name).parts):
        # An edited summary must not point the loader at a directory elsewhere.
        raise LeantuneError(
            f"{run_dir}: summary's best.model must be a folder inside the run directory; "
            f"got {name!r}"
        )
    estimator = None
    if (model_dir / "MLmodel").is_file():
        from leantune.tracking import load_model

        estimator = load_model(model_dir, trust=trust)
    return FinalModel(
        config=dict(best.config),
        test_metrics=dict(best.test),
        model_size_bytes=best.model_size_bytes or 0,
        inference_ms_per_sample=_number(best.inference_ms_per_sample),
        inference_ms_per_1000=_number(best.inference_ms_per_1000),
        status=FEASIBLE,
        error=None,
        baseline=best.baseline.model_dump(mode="json") if best.baseline else {},
        estimator=estimator,
    )


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)
