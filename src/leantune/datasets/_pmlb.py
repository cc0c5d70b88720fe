"""PMLB datasets through a local cache: read it when the file is there, download into it when not.

The cache layout is pmlb's own (`DIR/<name>/<name>.tsv.gz`), so `pmlb.fetch_data` reads it.
Downloads go through urllib with a short timeout, so an offline machine gets a clear message
instead of a hang.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leantune.datasets import _columns
from leantune.datasets._dataset import Dataset
from leantune.datasets._prepare import build_dataset, frame_to_float
from leantune.errors import DatasetError

# The datasets the original study was defined on.
THESIS_DATASETS = ("mnist", "kddcup", "diabetes", "1191_BNG_pbc", "529_pollen")

# Upstream PMLB renamed some sets; a user asking for the old name still gets the data.
ALIASES: dict[str, tuple[str, ...]] = {"diabetes": ("diabetes", "_deprecated_diabetes")}

DEFAULT_URL = "https://github.com/EpistasisLab/pmlb/raw/master/datasets"
CONNECT_TIMEOUT_S = 5.0
"""Per socket operation (connect, each read): a dead network fails fast, a slow one still works."""

_GZIP_MAGIC = b"\x1f\x8b"

if TYPE_CHECKING:
    import pandas as pd


def default_cache_dir() -> Path:
    """$LEANTUNE_PMLB_CACHE if set, else ~/.cache/leantune/pmlb."""
    env = os.environ.get("LEANTUNE_PMLB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "leantune" / "pmlb"


def resolve_cache_dir(cache_dir: Path | str | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


def known_names() -> list[str]:
    import pmlb  # with pandas, seconds: only when a PMLB set is asked for

    return sorted(set(pmlb.dataset_names) | set(THESIS_DATASETS) | set(ALIASES))


def stored_names(name: str) -> tuple[str, ...]:
    """The names a set may be stored under: itself, and for renamed sets the upstream name."""
    return ALIASES.get(name, (name,))


def cached_file(name: str, cache_dir: Path) -> Path | None:
    """The cached data file for `name` (or one of its aliases), if present."""
    for candidate in stored_names(name):
        path = cache_dir / candidate / f"{candidate}.tsv.gz"
        if path.is_file():
            return path
    return None


def load_pmlb(name: str, cache_dir: Path | None = None, task: str | None = None) -> Dataset:
    """Load a PMLB set from the cache, downloading it first if needed. Rows with NaN are dropped
    (as pmlb does) and counted in the provenance."""
    cache_dir = resolve_cache_dir(cache_dir)
    # A cached set needs no name check: pmlb's list costs its import (with requests).
    if cached_file(name, cache_dir) is None and name not in known_names():
        close = difflib.get_close_matches(name, known_names(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise DatasetError(f"dataset.name: {name!r} is not a PMLB dataset{hint}")
    path = cached_file(name, cache_dir) or _download(name, cache_dir)
    stored_name = path.parent.name
    columns = _columns.read(path)
    if columns is None:
        columns = _parse(name, stored_name, path, cache_dir)
        _columns.write(path, columns)
    X, y, features, dropped = columns
    return build_dataset(
        name,
        X,
        y,
        task=task or _known_task(name),
        feature_names=features,
        provenance={
            "source": "pmlb",
            "location": str(path),
            "stored_as": stored_name,
            "dropped_rows_with_nan": dropped,
            "synthetic": False,
        },
    )


def _parse(
    name: str, stored_name: str, path: Path, cache_dir: Path
) -> tuple[Any, Any, list[str], int]:
    """The PMLB file as (X, y, feature names, rows dropped for NaN)."""
    frame = _read(stored_name, path, cache_dir)
    if "target" not in frame.columns:
        raise DatasetError(
            f"dataset {name!r}: {path} must have a 'target' column, as PMLB files do; got "
            f"columns {_column_list(frame.columns)}"
        )
    # Count before dropping, and copy only when something is dropped: kddcup is 160 MB.
    complete = frame.notna().all(axis=1).to_numpy()
    dropped = int(len(frame) - complete.sum())
    if dropped:
        frame = frame.loc[complete]
    features = [c for c in frame.columns if c != "target"]
    try:
        X = frame_to_float(frame, features)
    except (TypeError, ValueError) as error:
        raise DatasetError(
            f"dataset {name!r}: {path} must hold numeric features, as PMLB files do: {error}"
        ) from None
    return X, frame["target"].to_numpy(), [str(c) for c in features], dropped


def _read(stored_name: str, path: Path, cache_dir: Path) -> pd.DataFrame:
    import pmlb

    try:
        return pmlb.fetch_data(stored_name, local_cache_dir=str(cache_dir), dropna=False)
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as error:
        raise DatasetError(
            f"dataset {stored_name!r}: could not read {path} as a PMLB file (gzipped TSV with "
            f"a 'target' column): {error}. Delete it to download it again, or replace it"
        ) from None


def _column_list(columns: pd.Index, shown: int = 8) -> str:
    names = [repr(str(c)) for c in columns[:shown]]
    more = f", … ({len(columns)} in all)" if len(columns) > shown else ""
    return ", ".join(names) + more


def _known_task(name: str) -> str | None:
    import pmlb

    if name in pmlb.regression_dataset_names:
        return "regression"
    if name in pmlb.classification_dataset_names or name in ALIASES:
        return "classification"
    return None


def _download(name: str, cache_dir: Path) -> Path:
    base = os.environ.get("LEANTUNE_PMLB_URL", DEFAULT_URL).rstrip("/")
    tried = []
    for candidate in stored_names(name):
        url = f"{base}/{candidate}/{candidate}.tsv.gz"
        target = cache_dir / candidate / f"{candidate}.tsv.gz"
        try:
            _fetch(url, target)
            return target
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
            tried.append(f"{url} ({_why(error)})")
    looked = " or ".join(str(cache_dir / c / f"{c}.tsv.gz") for c in stored_names(name))
    expected = cache_dir / name / f"{name}.tsv.gz"
    raise DatasetError(
        f"dataset {name!r}: not in the local cache and could not be downloaded. "
        f"Looked for {looked}; tried {'; '.join(tried)}. To use it offline, place the "
        f"PMLB file at {expected}, or point dataset.cache_dir (or $LEANTUNE_PMLB_CACHE) "
        "at a directory laid out as <name>/<name>.tsv.gz."
    )


def _why(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    return str(getattr(error, "reason", None) or error)


def _fetch(url: str, target: Path) -> None:
    with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as response:
        head = response.read(2)
        if head != _GZIP_MAGIC:
            # A proxy's or portal's HTML page must not be cached as if it were the data.
            raise ValueError(f"the reply is not a gzip file (starts with {head!r})")
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so an interrupted download never looks like a cached file.
        descriptor, part = tempfile.mkstemp(dir=target.parent, suffix=".part")
        try:
            with os.fdopen(descriptor, "wb") as out:
                out.write(head)
                shutil.copyfileobj(response, out)
            os.replace(part, target)
        except BaseException:
            Path(part).unlink(missing_ok=True)
            raise
