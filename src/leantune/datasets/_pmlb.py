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

import pmlb

from leantune.datasets._dataset import Dataset
from leantune.datasets._prepare import build_dataset
from leantune.errors import DatasetError

# The datasets the original study was defined on.
THESIS_DATASETS = ("mnist", "kddcup", "diabetes", "1191_BNG_pbc", "529_pollen")

# Upstream PMLB renamed some sets; a user asking for the old name still gets the data.
ALIASES: dict[str, tuple[str, ...]] = {"diabetes": ("diabetes", "_deprecated_diabetes")}

DEFAULT_URL = "https://github.com/EpistasisLab/pmlb/raw/master/datasets"
CONNECT_TIMEOUT_S = 5.0


def default_cache_dir() -> Path:
    """$LEANTUNE_PMLB_CACHE if set, else ~/.cache/leantune/pmlb."""
    env = os.environ.get("LEANTUNE_PMLB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "leantune" / "pmlb"


def known_names() -> list[str]:
    return sorted(set(pmlb.dataset_names) | set(THESIS_DATASETS) | set(ALIASES))


def cached_file(name: str, cache_dir: Path) -> Path | None:
    """The cached data file for `name` (or one of its aliases), if present."""
    for candidate in ALIASES.get(name, (name,)):
        path = cache_dir / candidate / f"{candidate}.tsv.gz"
        if path.is_file():
            return path
    return None


def load_pmlb(name: str, cache_dir: Path | None = None, task: str | None = None) -> Dataset:
    cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    if name not in known_names() and cached_file(name, cache_dir) is None:
        close = difflib.get_close_matches(name, known_names(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise DatasetError(f"dataset.name: {name!r} is not a PMLB dataset{hint}")
    path = cached_file(name, cache_dir) or _download(name, cache_dir)
    stored_name = path.parent.name
    frame = pmlb.fetch_data(stored_name, local_cache_dir=str(cache_dir), dropna=False)
    rows_before = len(frame)
    frame = frame.dropna()
    if "target" not in frame.columns:
        raise DatasetError(f"dataset {name!r}: {path} has no 'target' column")
    features = frame.drop(columns="target")
    return build_dataset(
        name,
        features.to_numpy(dtype=float, copy=False),
        frame["target"].to_numpy(),
        task=task or _known_task(name),
        feature_names=[str(c) for c in features.columns],
        provenance={
            "source": "pmlb",
            "location": str(path),
            "stored_as": stored_name,
            "dropped_rows_with_nan": rows_before - len(frame),
            "synthetic": False,
        },
    )


def _known_task(name: str) -> str | None:
    if name in pmlb.regression_dataset_names:
        return "regression"
    if name in pmlb.classification_dataset_names or name in ALIASES:
        return "classification"
    return None


def _download(name: str, cache_dir: Path) -> Path:
    base = os.environ.get("LEANTUNE_PMLB_URL", DEFAULT_URL).rstrip("/")
    tried = []
    for candidate in ALIASES.get(name, (name,)):
        url = f"{base}/{candidate}/{candidate}.tsv.gz"
        target = cache_dir / candidate / f"{candidate}.tsv.gz"
        try:
            with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as response:
                target.parent.mkdir(parents=True, exist_ok=True)
                # Write then rename, so an interrupted download never looks like a cached file.
                with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as part:
                    shutil.copyfileobj(response, part)
                os.replace(part.name, target)
                return target
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            tried.append(f"{url} ({getattr(error, 'reason', error)})")
    expected = cache_dir / name / f"{name}.tsv.gz"
    raise DatasetError(
        f"dataset {name!r}: not in the local cache and could not be downloaded. "
        f"Looked for {expected}; tried {'; '.join(tried)}. To use it offline, place the "
        f"PMLB file at {expected}, or point dataset.cache_dir (or $LEANTUNE_PMLB_CACHE) "
        "at a directory laid out as <name>/<name>.tsv.gz."
    )
