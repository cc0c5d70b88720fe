"""Everything checked and resolved before a study starts: data loaded, grid known, paths free.

`prepare_study` raises LeantuneError for any problem and creates no file, database or process,
so `leantune validate` and `leantune run` reject the same mistakes at the same point.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leantune.datasets import Dataset, Splits, load_dataset, make_splits
from leantune.engine import LogUniform
from leantune.errors import SpecError
from leantune.metrics import MemoryLimit, memory_limit
from leantune.spec import StudySpec
from leantune.study._lock import LOCK_FILE
from leantune.study._preflight import preflight


@dataclass(frozen=True)
class PreparedStudy:
    spec: StudySpec
    dataset: Dataset
    splits: Splits
    param_space: dict[str, Any]
    """Axis → values; for random/tpe a pow10 range is a LogUniform to sample from."""
    run_dir: Path
    memory: MemoryLimit | None = None
    """The memory limit of this machine or container (cgroup-aware), seen from the driver."""

    @property
    def n_trials(self) -> int:
        if self.spec.search.method != "grid":
            return int(self.spec.search.num_samples or 0)
        return math.prod(len(values) for values in self.param_space.values())


def prepare_study(spec: StudySpec, *, resume: bool = False) -> PreparedStudy:
    """Check and load everything a study needs. `resume`: the run directory exists already and
    holds the study's earlier sessions."""
    dataset = load_dataset(spec.dataset)
    if dataset.task != spec.task:
        raise SpecError(
            f"model: {spec.model_names} needs a {spec.task} dataset, but {dataset.name!r} is "
            f"{dataset.task} (set dataset.task if the inferred task is wrong)"
        )
    splits = make_splits(
        dataset,
        test_size=spec.validation.test_size,
        cv_folds=spec.validation.cv_folds,
        holdout_size=spec.validation.holdout_size,
        seed=spec.training.seed,
    )
    fold_rows = splits.min_fold_train_size
    space = spec.search.space
    batch_sizes = space.batch_size.resolve(fold_rows)
    too_big = [b for b in batch_sizes if b > fold_rows]
    if too_big:
        raise SpecError(
            f"search.space.batch_size: must be <= the training fold size ({fold_rows} rows of "
            f"{dataset.name!r}); got {too_big}. Use {{pow2: [1, max]}} to stop at the largest "
            "power of two that fits"
        )
    if not batch_sizes:
        raise SpecError(
            f"search.space.batch_size: {space.batch_size.model_dump()} gives no batch size for a "
            f"training fold of {fold_rows} rows"
        )
    param_space: dict[str, Any] = {"model": spec.model_names, "batch_size": batch_sizes}
    for name in ("learning_rate", "alpha"):
        axis = getattr(space, name)
        if spec.search.method != "grid" and axis.kind == "pow10":
            # Samplers draw from the continuous range, not only its grid points.
            param_space[name] = LogUniform(10.0**axis.low, 10.0 ** int(axis.high))
        elif axis.kind == "log":
            param_space[name] = LogUniform(axis.lower, axis.upper)
        else:
            param_space[name] = axis.resolve(fold_rows)
    run_dir = spec.output.dir if resume and spec.output.dir else _run_dir(spec)
    preflight(spec, run_dir, resume=resume)
    return PreparedStudy(spec, dataset, splits, param_space, run_dir, memory_limit())


def _run_dir(spec: StudySpec) -> Path:
    if spec.output.dir is None:
        return Path("runs") / f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = spec.output.dir.expanduser()
    if run_dir.exists() and not run_dir.is_dir():
        raise SpecError(f"output.dir: must be a directory; got {str(run_dir)!r}, a file")
    if run_dir.is_dir() and any(p.name != LOCK_FILE for p in run_dir.iterdir()):
        raise SpecError(
            f"output.dir: {str(run_dir)!r} already holds files (an earlier run?). Choose a new "
            "directory, or remove it, so no earlier result is overwritten"
        )
    return run_dir
