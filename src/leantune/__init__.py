"""leantune: tune machine-learning training to an application's resource limits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leantune._version import __version__
from leantune.errors import DatasetError, LeantuneError, SpecError

if TYPE_CHECKING:
    from leantune.spec import StudySpec, load_spec
    from leantune.study import StudyResult


def __getattr__(name: str) -> Any:
    # The spec's models (pydantic, ~0.3 s) load when first asked for, not with the package:
    # every worker process imports leantune, and most never read a spec. A subpackage the
    # package no longer imports itself (leantune.spec, leantune.metrics, ...) loads on first
    # use too, so `import leantune; leantune.metrics...` still works.
    if name in ("StudySpec", "load_spec"):
        from leantune import spec

        return getattr(spec, name)
    if not name.startswith("_"):
        import importlib

        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise  # the subpackage exists but needs something missing: say what
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run(
    spec: Any,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    X: Any = None,
    y: Any = None,
    trainable: Any = None,
    **options: Any,
) -> StudyResult:
    """Run a study from a StudySpec, a dict, or a YAML path. See `leantune.study.run_study`.

    `X`, `y`: data in memory instead of the spec's dataset: arrays, or a DataFrame `X` with
    `y` (or `dataset.target`) naming its target column. A dict spec without `dataset` gets
    `{source: memory}`. `trainable`: a training function `train(config, data, session)`
    (leantune.engine.FoldData, TrainingSession) for the spec's `{name, trainable: true}`
    model; a dict spec without `model` gets one named after the function.
    """
    from collections.abc import Mapping

    from leantune.spec import load_spec
    from leantune.study import run_study

    if isinstance(spec, Mapping):
        if X is not None and "dataset" not in spec:
            spec = {**spec, "dataset": {"source": "memory"}}
        if trainable is not None and "model" not in spec:
            name = getattr(trainable, "__name__", "trainable").strip("<>") or "trainable"
            spec = {**spec, "model": [{"name": name, "trainable": True, "task": _task(X, y)}]}
    loaded = load_spec(spec, overrides)
    data = None
    if X is not None:
        from leantune.datasets import load_memory

        given = loaded.dataset
        data = load_memory(X, y, target=given.target, name=given.name, task=given.task)
    return run_study(loaded, data=data, trainable=trainable, **options)


def _task(X: Any, y: Any) -> str | None:
    """The task of data given in Python, for a training function's model entry."""
    if X is None:
        return None
    import numpy as np

    from leantune.datasets import infer_task

    target = X[y] if isinstance(y, str) else y
    return None if target is None else infer_task(np.asarray(target))


def resume(run_dir: Any, **options: Any) -> StudyResult:
    """Finish an interrupted study in `run_dir`. See `leantune.study.resume_study`."""
    from pathlib import Path

    from leantune.study import resume_study

    return resume_study(Path(run_dir), **options)


def load(run_dir: Any, *, trust: bool = False) -> StudyResult:
    """A finished study read back from its run directory: the same StudyResult `run` returned,
    with its chosen model (`best_estimator`) and its trials table.

    The model is read only as leantune writes it (skops, with scikit-learn's and leantune's
    own types); anything else raises LeantuneError, since a run directory may have been
    edited and a pickle runs code. `trust=True` loads whatever the directory holds: use it
    only for a directory you trust."""
    from leantune.study import load_study

    return load_study(run_dir, trust=trust)


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


def __dir__() -> list[str]:
    # What a user can use, not this module's imports (Any, TYPE_CHECKING, annotations) or the
    # subpackages Python adds as they are imported.
    return sorted(__all__)
