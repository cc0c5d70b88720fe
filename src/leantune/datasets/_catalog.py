"""What is known about a dataset without loading it: its shape, task, and whether it is cached.

A PMLB set's figures come from its own `summary_stats.tsv` in the cache when that is there, and
otherwise from the summary table that ships inside the pmlb package, so that listing the sets
and building synthetic stand-ins work offline and never read a data file.
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
import io
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from leantune.datasets._pmlb import (
    THESIS_DATASETS,
    cached_file,
    resolve_cache_dir,
    stored_names,
)
from leantune.datasets._sklearn import BUILTINS, loader_name
from leantune.errors import DatasetError

SUMMARY_FILE = "summary_stats.tsv"


@dataclass(frozen=True)
class DatasetShape:
    """Rows, features, task and classes of a set, and the file these figures were read from."""

    name: str
    rows: int
    features: int
    task: str
    classes: int | None
    location: str


@dataclass(frozen=True)
class DatasetInfo:
    """One line of `leantune datasets`."""

    name: str
    source: str
    cached: bool
    """The data is on this machine (scikit-learn's built-ins always are)."""
    rows: int | None
    features: int | None
    task: str | None
    classes: int | None
    location: str
    """The data file (where it would be downloaded to, when it is not cached)."""
    shape_from: str | None
    """Where rows, features, task and classes were read from."""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pmlb_shape(name: str, cache_dir: Path | str | None = None) -> DatasetShape | None:
    """The set's figures from `<cache>/<name>/summary_stats.tsv`, else pmlb's bundled table."""
    cache_dir = resolve_cache_dir(cache_dir)
    for candidate in stored_names(name):
        path = cache_dir / candidate / SUMMARY_FILE
        if path.is_file():
            try:
                rows = list(csv.DictReader(io.StringIO(path.read_text()), delimiter="\t"))
                return _shape(name, rows[0], str(path))
            except (OSError, UnicodeDecodeError, IndexError, KeyError, ValueError) as error:
                raise DatasetError(
                    f"dataset {name!r}: {path} is not a PMLB summary_stats.tsv (a tab-separated "
                    f"header and one row with n_instances, n_features, n_classes, task): {error!r}"
                ) from None
    bundled = _bundled_summary()
    location = f"pmlb {importlib.metadata.version('pmlb')} all_summary_stats.tsv"
    for candidate in stored_names(name):
        if candidate in bundled:
            return _shape(name, bundled[candidate], location)
    return None


def list_datasets(cache_dir: Path | str | None = None) -> list[DatasetInfo]:
    """The thesis's PMLB sets, any other set in the cache, then scikit-learn's built-ins."""
    cache_dir = resolve_cache_dir(cache_dir)
    names = list(THESIS_DATASETS)
    if cache_dir.is_dir():
        aliases = {stored for name in names for stored in stored_names(name)}
        names += sorted(
            entry.name
            for entry in cache_dir.iterdir()
            if entry.name not in aliases and (entry / f"{entry.name}.tsv.gz").is_file()
        )
    infos = [_pmlb_info(name, cache_dir) for name in names]
    infos += [_sklearn_info(name) for name in sorted(BUILTINS)]
    return infos


def _pmlb_info(name: str, cache_dir: Path) -> DatasetInfo:
    path = cached_file(name, cache_dir)
    shape = pmlb_shape(name, cache_dir)
    renamed = path is not None and path.parent.name != name
    return DatasetInfo(
        name=name,
        source="pmlb",
        cached=path is not None,
        rows=shape.rows if shape else None,
        features=shape.features if shape else None,
        task=shape.task if shape else None,
        classes=shape.classes if shape else None,
        location=str(path or cache_dir / name / f"{name}.tsv.gz"),
        shape_from=shape.location if shape else None,
        note=f"stored as {path.parent.name}" if renamed else "",
    )


def _sklearn_info(name: str) -> DatasetInfo:
    builtin = BUILTINS[name]
    return DatasetInfo(
        name=name,
        source="sklearn",
        cached=True,
        rows=builtin.rows,
        features=builtin.features,
        task=builtin.task,
        classes=builtin.classes,
        location=loader_name(name),
        shape_from=loader_name(name),
    )


def _shape(name: str, row: dict[str, str], location: str) -> DatasetShape:
    task = row["task"].strip()
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be classification or regression; got {task!r}")
    return DatasetShape(
        name=name,
        rows=int(float(row["n_instances"])),
        features=int(float(row["n_features"])),
        task=task,
        # For regression, pmlb's n_classes counts distinct target values: not classes.
        classes=int(float(row["n_classes"])) if task == "classification" else None,
        location=location,
    )


@cache
def _bundled_summary() -> dict[str, dict[str, str]]:
    # Read from pmlb's folder without importing pmlb, which loads pandas (a fraction of a
    # second `leantune datasets` would otherwise spend).
    found = importlib.util.find_spec("pmlb")
    folders = found.submodule_search_locations if found else None
    table = Path(next(iter(folders))) / "all_summary_stats.tsv" if folders else None
    if table is None or not table.is_file():  # pragma: no cover (a pmlb without its table)
        return {}
    rows = csv.DictReader(io.StringIO(table.read_text(encoding="utf-8")), delimiter="\t")
    return {row["dataset"]: row for row in rows}
