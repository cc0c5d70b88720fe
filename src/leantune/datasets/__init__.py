"""Datasets: loaders (scikit-learn built-ins, PMLB with a local cache), checks, and splits."""

from __future__ import annotations

from leantune.datasets._dataset import Dataset
from leantune.datasets._pmlb import THESIS_DATASETS, default_cache_dir, load_pmlb
from leantune.datasets._prepare import build_dataset, infer_task
from leantune.datasets._sklearn import BUILTINS, load_sklearn
from leantune.datasets._split import Fold, Splits, make_splits
from leantune.errors import DatasetError
from leantune.spec import DatasetSpec


def load_dataset(spec: DatasetSpec) -> Dataset:
    """Load and check the dataset a study names. Raises DatasetError with a clear message."""
    if spec.source == "sklearn":
        if spec.name not in BUILTINS:
            raise DatasetError(
                f"dataset.name: must be one of {', '.join(sorted(BUILTINS))} for source "
                f"'sklearn'; got {spec.name!r}"
            )
        return load_sklearn(spec.name, spec.task)
    return load_pmlb(spec.name, spec.cache_dir, spec.task)


__all__ = [
    "BUILTINS",
    "THESIS_DATASETS",
    "Dataset",
    "DatasetError",
    "Fold",
    "Splits",
    "build_dataset",
    "default_cache_dir",
    "infer_task",
    "load_dataset",
    "load_pmlb",
    "load_sklearn",
    "make_splits",
]
