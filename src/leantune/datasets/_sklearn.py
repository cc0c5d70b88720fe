"""scikit-learn's built-in datasets: small, offline, good for quick studies and tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sklearn import datasets as sk

from leantune.datasets._dataset import Dataset
from leantune.datasets._prepare import build_dataset

BUILTINS: dict[str, tuple[Callable[..., Any], str]] = {
    "breast_cancer": (sk.load_breast_cancer, "classification"),
    "diabetes": (sk.load_diabetes, "regression"),
    "digits": (sk.load_digits, "classification"),
    "iris": (sk.load_iris, "classification"),
    "wine": (sk.load_wine, "classification"),
}


def load_sklearn(name: str, task: str | None = None) -> Dataset:
    loader, known_task = BUILTINS[name]
    bunch = loader()
    return build_dataset(
        name,
        bunch.data,
        bunch.target,
        task=task or known_task,
        feature_names=[str(f) for f in getattr(bunch, "feature_names", [])] or None,
        provenance={"source": "sklearn", "location": f"sklearn.datasets.load_{name}"},
    )
