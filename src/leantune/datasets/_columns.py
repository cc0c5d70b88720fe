"""A columnar cache of parsed data files: parse a PMLB file once, then map it.

Parsing kddcup's gzipped TSV takes seconds (494,020 rows); its features as one float64 .npy
file are read back memory-mapped in a fraction of one, by every study on the machine. An entry
is keyed by the source file's name, size and modification time, so a replaced file is parsed
again, and its new entry replaces the old one's 160 MB. The cache is a convenience: where it
cannot be written, the file is parsed each time.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

# Bumped when what an entry holds changes: older entries are then ignored.
FORMAT = 1


def cache_dir() -> Path:
    """$LEANTUNE_COLUMNS_CACHE, else $XDG_CACHE_HOME/leantune/columns, else ~/.cache/..."""
    explicit = os.environ.get("LEANTUNE_COLUMNS_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "leantune" / "columns"


def _entry(source: Path) -> Path:
    stat = source.stat()
    return cache_dir() / f"{source.parent.name}-{stat.st_size}-{stat.st_mtime_ns}-v{FORMAT}"


def read(source: Path) -> tuple[np.ndarray, np.ndarray, list[str], int] | None:
    """(X memory-mapped read-only, y, feature names, rows dropped) of `source`, if cached."""
    try:
        entry = _entry(source)
        meta = json.loads((entry / "meta.json").read_text())
        X = np.load(entry / "X.npy", mmap_mode="r")
        y = np.load(entry / "y.npy", allow_pickle=False)
    except (OSError, ValueError):
        return None
    return X, y, list(meta["features"]), int(meta["dropped"])


def write(source: Path, columns: tuple[Any, Any, list[str], int]) -> None:
    """Store parsed columns for `source`; silently nothing where that is not possible."""
    X, y, features, dropped = columns
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":  # only what loads back without pickle
        return
    with contextlib.suppress(OSError, ValueError):
        entry = _entry(source)
        entry.parent.mkdir(parents=True, exist_ok=True)
        # Written whole in a temporary directory, then renamed: a reader never sees half.
        part = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".part-"))
        try:
            np.save(part / "X.npy", np.ascontiguousarray(X, dtype=np.float64))
            np.save(part / "y.npy", y)
            (part / "meta.json").write_text(
                json.dumps({"features": features, "dropped": dropped, "source": str(source)})
            )
            os.rename(part, entry)
        except OSError:
            shutil.rmtree(part, ignore_errors=True)
            return
        _forget_older(source, entry)


def _forget_older(source: Path, kept: Path) -> None:
    """Remove the entries of earlier versions of `source` (same path, another size or time):
    nothing reads them again. A reader that has one open keeps its mapping; one about to open
    it finds it gone and parses the file."""
    for other in kept.parent.glob(f"{source.parent.name}-*"):
        if other == kept:
            continue
        try:
            meta = json.loads((other / "meta.json").read_text())
        except (OSError, ValueError):
            continue
        if meta.get("source") == str(source):
            shutil.rmtree(other, ignore_errors=True)
