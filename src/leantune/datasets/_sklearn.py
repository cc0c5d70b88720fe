"""scikit-learn's built-in datasets: small, offline, good for quick studies and tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leantune.datasets._dataset import Dataset
from leantune.datasets._prepare import build_dataset


@dataclass(frozen=True)
class Builtin:
    """A built-in set's task, shape and class sizes, known without importing scikit-learn
    (most of a second): `leantune datasets` lists them and `leantune validate` checks a study
    against them at once. A test holds them to the loaders."""

    task: str
    rows: int
    features: int
    class_rows: tuple[int, ...] = ()
    """Rows per class code 0, 1, ... (classification)."""

    @property
    def classes(self) -> int | None:
        return len(self.class_rows) if self.task == "classification" else None


BUILTINS: dict[str, Builtin] = {
    "breast_cancer": Builtin("classification", 569, 30, (212, 357)),
    "diabetes": Builtin("regression", 442, 10),
    "digits": Builtin(
        "classification", 1797, 64, (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)
    ),
    "iris": Builtin("classification", 150, 4, (50, 50, 50)),
    "wine": Builtin("classification", 178, 13, (59, 71, 48)),
}


def loader_name(name: str) -> str:
    """The scikit-learn function that loads a built-in set."""
    return f"sklearn.datasets.load_{name}"


def load_sklearn(name: str, task: str | None = None) -> Dataset:
    from sklearn import datasets as sk

    bunch = getattr(sk, f"load_{name}")()
    return build_dataset(
        name,
        bunch.data,
        bunch.target,
        task=task or BUILTINS[name].task,
        feature_names=[str(f) for f in getattr(bunch, "feature_names", [])] or None,
        provenance={"source": "sklearn", "location": loader_name(name)},
    )


def sklearn_shape(name: str, task: str | None = None) -> Dataset | None:
    """A built-in set's shape and class sizes with zeros for values: all a study's checks read
    of a set whose values ship with scikit-learn and are finite. None for a task other than
    its own (a classifier's codes as a regression target, say): that needs the values."""
    builtin = BUILTINS[name]
    if task not in (None, builtin.task):
        return None
    if builtin.task == "classification":
        y = np.repeat(np.arange(len(builtin.class_rows)), builtin.class_rows)
    else:
        y = np.zeros(builtin.rows)
    return build_dataset(
        name,
        np.zeros((builtin.rows, builtin.features)),
        y,
        task=builtin.task,
        provenance={"source": "sklearn", "location": loader_name(name), "shape_only": True},
    )
