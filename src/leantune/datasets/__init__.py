"""Datasets: loaders (scikit-learn built-ins, PMLB with a local cache, CSV/Parquet files,
synthetic stand-ins), checks, the catalogue behind `leantune datasets`, and leakage-free splits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leantune.datasets._catalog import DatasetInfo, DatasetShape, list_datasets, pmlb_shape
from leantune.datasets._dataset import Dataset
from leantune.datasets._file import load_file
from leantune.datasets._memory import load_memory
from leantune.datasets._pmlb import THESIS_DATASETS, default_cache_dir, load_pmlb
from leantune.datasets._prepare import build_dataset, infer_task
from leantune.datasets._sklearn import BUILTINS, load_sklearn, sklearn_shape
from leantune.datasets._split import Fold, Splits, fold_train_rows, make_splits
from leantune.datasets._subsample import subsample
from leantune.datasets._synthetic import load_synthetic_like, make_synthetic
from leantune.errors import DatasetError

if TYPE_CHECKING:  # the spec's models are not loaded with the data (workers import this)
    from leantune.spec import DatasetSpec


def load_dataset(
    spec: DatasetSpec, given: Dataset | None = None, *, shape_only: bool = False
) -> Dataset:
    """Load and check the dataset a study names, and draw its subsample if the spec asks for
    one. `given`: the data of source `memory` (leantune.run(spec, X=..., y=...)).
    `shape_only`: for checks only; a scikit-learn built-in may then come as its shape and
    class sizes with zeros for values, which loads no scikit-learn. Raises DatasetError with
    a clear message."""
    if spec.source == "memory" and given is None:
        raise DatasetError(
            "dataset: source 'memory' takes its rows from Python, leantune.run(spec, X=..., "
            "y=...); a study file or a resume has none"
        )
    if given is not None and spec.source != "memory":
        raise DatasetError(
            f"dataset.source: data was given in Python, so it must be 'memory' (or left out); "
            f"got {spec.source!r}"
        )
    if shape_only and spec.source == "sklearn" and spec.subsample is None:
        _check_builtin(spec)
        shape = sklearn_shape(spec.name, spec.task)
        if shape is not None:
            return shape
    data = given if given is not None else _load(spec)
    if spec.subsample is None:
        return data
    return subsample(data, spec.subsample.rows, spec.subsample.seed)


def _check_builtin(spec: DatasetSpec) -> None:
    if spec.name not in BUILTINS:
        raise DatasetError(
            f"dataset.name: must be one of {', '.join(sorted(BUILTINS))} for source "
            f"'sklearn'; got {spec.name!r}"
        )


def _load(spec: DatasetSpec) -> Dataset:
    if spec.source == "sklearn":
        _check_builtin(spec)
        return load_sklearn(spec.name, spec.task)
    if spec.source == "file":
        return load_file(
            spec.path,
            spec.target,
            categorical=spec.categorical or "onehot",
            name=spec.name,
            task=spec.task,
        )
    if spec.source == "synthetic":
        return load_synthetic_like(
            spec.synthetic_like, spec.cache_dir, seed=spec.seed or 0, task=spec.task
        )
    return load_pmlb(spec.name, spec.cache_dir, spec.task)


__all__ = [
    "BUILTINS",
    "THESIS_DATASETS",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "DatasetShape",
    "Fold",
    "Splits",
    "build_dataset",
    "default_cache_dir",
    "fold_train_rows",
    "infer_task",
    "list_datasets",
    "load_dataset",
    "load_file",
    "load_memory",
    "load_pmlb",
    "load_sklearn",
    "load_synthetic_like",
    "make_splits",
    "make_synthetic",
    "pmlb_shape",
    "sklearn_shape",
    "subsample",
]
