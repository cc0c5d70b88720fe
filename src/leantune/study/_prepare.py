"""Everything checked and resolved before a study starts: data loaded, grid known, paths free.

`prepare_study` raises LeantuneError for any problem and creates no file, database or process.
`check_study`, behind `leantune validate`, makes the same checks in the same order on the folds'
sizes instead of the folds, so both reject the same mistakes at the same point.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leantune.datasets import Dataset, Splits, fold_train_rows, load_dataset, make_splits
from leantune.engine import LogUniform
from leantune.errors import SpecError
from leantune.metrics import MemoryLimit, memory_limit
from leantune.models import FunctionModel
from leantune.spec import StudySpec
from leantune.study._lock import LOCK_FILE
from leantune.study._preflight import plan_problem, preflight


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
    trainable: Any = None
    """The training function given in Python, for the spec's `trainable: true` model."""

    def model_adapters(self) -> tuple[Any, ...]:
        """The study's by-path estimators and training function, as the trial loop runs them."""
        functions = tuple(
            FunctionModel(m.name, m.task or self.dataset.task, self.trainable)
            for m in self.spec.functions
        )
        return (*self.spec.estimator_models(), *functions)

    @property
    def n_trials(self) -> int:
        return _n_trials(self.spec, self.param_space)


@dataclass(frozen=True)
class CheckedStudy:
    """What `leantune validate` shows of a study that `prepare_study` would accept."""

    spec: StudySpec
    dataset: Dataset
    param_space: dict[str, Any]
    n_folds: int

    @property
    def n_trials(self) -> int:
        return _n_trials(self.spec, self.param_space)


def prepare_study(
    spec: StudySpec, *, resume: bool = False, data: Dataset | None = None, trainable: Any = None
) -> PreparedStudy:
    """Check and load everything a study needs. `resume`: the run directory exists already and
    holds the study's earlier sessions. `data`: rows given in Python (dataset source memory).
    `trainable`: the training function of the spec's `trainable: true` model."""
    _check_trainable(spec, trainable)
    dataset = _load(spec, data)
    splits = make_splits(dataset, **_split_options(spec))
    param_space = _param_space(spec, dataset, splits.min_fold_train_size)
    _check_plan(spec, splits.min_fold_train_size, param_space)
    run_dir = spec.output.dir if resume and spec.output.dir else _run_dir(spec)
    preflight(spec, run_dir, resume=resume)
    return PreparedStudy(
        spec, dataset, splits, param_space, run_dir, memory_limit(), trainable=trainable
    )


def check_study(spec: StudySpec) -> CheckedStudy:
    """Every check of `prepare_study` on a study file, with the folds' sizes in place of the
    folds, so that scikit-learn stays unloaded unless the dataset needs it."""
    _check_trainable(spec, None)
    dataset = _load(spec, None, shape_only=True)
    fold_rows = fold_train_rows(dataset, **_split_options(spec))
    param_space = _param_space(spec, dataset, fold_rows)
    _check_plan(spec, fold_rows, param_space)
    preflight(spec, _run_dir(spec), resume=False)
    return CheckedStudy(spec, dataset, param_space, spec.validation.cv_folds)


def _load(spec: StudySpec, data: Dataset | None, *, shape_only: bool = False) -> Dataset:
    dataset = load_dataset(spec.dataset, data, shape_only=shape_only)
    if dataset.task != spec.task:
        raise SpecError(
            f"model: {spec.model_names} needs a {spec.task} dataset, but {dataset.name!r} is "
            f"{dataset.task} (set dataset.task if the inferred task is wrong)"
        )
    return dataset


def _split_options(spec: StudySpec) -> dict[str, Any]:
    return {
        "test_size": spec.validation.test_size,
        "cv_folds": spec.validation.cv_folds,
        "holdout_size": spec.validation.holdout_size,
        "seed": spec.training.seed,
    }


def _param_space(spec: StudySpec, dataset: Dataset, fold_rows: int) -> dict[str, Any]:
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
    unused = spec.unused_axes()
    for name in ("learning_rate", "alpha"):
        axis = getattr(space, name)
        if name in unused:
            # No model takes it: one value, not passed to any constructor, so no config
            # repeats (configs still carry the axis, as every reader expects).
            param_space[name] = axis.resolve(fold_rows)[:1]
        elif spec.search.method != "grid" and axis.kind == "pow10":
            # Samplers draw from the continuous range, not only its grid points.
            param_space[name] = LogUniform(10.0**axis.low, 10.0 ** int(axis.high))
        elif axis.kind == "log":
            param_space[name] = LogUniform(axis.lower, axis.upper)
        else:
            param_space[name] = axis.resolve(fold_rows)
    return param_space


def _check_plan(spec: StudySpec, fold_rows: int, param_space: dict[str, Any]) -> None:
    problem = plan_problem(
        spec, fold_rows, list(param_space["batch_size"]), _n_trials(spec, param_space)
    )
    if problem:
        raise SpecError(problem)


def _n_trials(spec: StudySpec, param_space: dict[str, Any]) -> int:
    if spec.search.method != "grid":
        return int(spec.search.num_samples or 0)
    return math.prod(len(values) for values in param_space.values())


def _check_trainable(spec: StudySpec, trainable: Any) -> None:
    functions = spec.functions
    if functions and trainable is None:
        raise SpecError(
            f"model: {functions[0].name} is a training function (trainable: true), given in "
            "Python: leantune.run(spec, trainable=train); a study file or a resume has none"
        )
    if trainable is not None and not functions:
        raise SpecError(
            "trainable: a training function was given, but no model entry takes it; add "
            f"{{name: NAME, trainable: true}} to model (got model {spec.model_names})"
        )
    if trainable is not None and not callable(trainable):
        raise SpecError(
            "trainable: must be a function train(config, data, session); "
            f"got {type(trainable).__name__}"
        )
    if len(functions) > 1:
        raise SpecError(f"model: one training function a study; got {[m.name for m in functions]}")


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
