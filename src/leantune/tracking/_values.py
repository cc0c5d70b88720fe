"""What MLflow cannot store as given, made storable, and noted so nothing changes silently.

MLflow refuses a whole batch for one bad metric name, clamps ±inf in SQL stores without a
word, has no booleans, and cuts params over 6,000 and tags over 8,000 characters short. Here
each value is turned into one MLflow keeps exactly (a long text is split into numbered parts),
and every replacement is counted, so the tracker can tag the run with what it changed. This
module does not import MLflow; a test checks the limits below against MLflow's own.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np

from leantune.metrics import CATALOGUE, CLOCKS
from leantune.trials import FOLD_FINISHED, PROGRESS_PCT, STEPS_PLANNED

# Report keys that are bookkeeping, not measurements: the trial's position (the step is the
# metric's own step; progress_pct is Tune's clock), how many rows a report saw, whether it
# was one of a fold's first reports (training.first_reports), and the
# searcher's copy of the objective metric (logged under its own name already). Kept out of the
# run's metrics, so MLflow's charts show measurements only; reports.parquet keeps them all.
BOOKKEEPING = frozenset(
    {
        "step",
        "fold",
        "fold_step",
        "epoch",
        STEPS_PLANNED,
        PROGRESS_PCT,
        "val_rows",
        FOLD_FINISHED,
        "objective",
        "early_report",
    }
)


def in_readable_units(metrics: dict[str, float]) -> dict[str, float]:
    """`metrics`, and each per-sample time under a millisecond also in microseconds: MLflow's
    UI rounds to two decimals, so 0.0012 ms reads 0.00 there and 1.2 µs reads as it is."""
    readable = dict(metrics)
    for key, value in metrics.items():
        if key.endswith("_ms_per_sample") and abs(value) < 1.0:
            readable[f"{key.removesuffix('_ms_per_sample')}_us_per_sample"] = value * 1e3
    return readable


# System metrics go under `system/`, as MLflow's own system metrics do (system/cpu_...), so
# the UI groups them apart from the model's. The sampler's totals are not in the catalogue.
# TODO: read them from leantune.metrics once its catalogue lists wall_time_s, cpu_time_s,
# memory_headroom_mb and worker_memory_mb.
_SYSTEM_KEYS = frozenset(
    {"wall_time_s", "cpu_time_s", "memory_headroom_mb", "worker_memory_mb"}
    | {metric.name for metric in CATALOGUE if metric.kind == "system"}
    | {
        metric.on_clock(clock)
        for metric in CATALOGUE
        if metric.kind == "system"
        for clock in CLOCKS
    }
)


def mlflow_metric_key(key: str) -> str:
    """The name a reported metric has in MLflow: `system/memory_mb`, `val_loss`."""
    return f"system/{key}" if key in _SYSTEM_KEYS else key


MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_KEY = 250
FLOAT_MAX = sys.float_info.max

# Our rule for metric names, stricter than MLflow's: an ASCII letter or '_' first, then letters,
# digits, '_', '-', '.'; '/' separates groups. No spaces or colons (they differ by platform in
# MLflow), no empty or '..' segments (MLflow treats names as paths).
_METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*(?:/[A-Za-z0-9_.\-]+)*$")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.\-/]")

METRIC_NAME_RULE = (
    "a letter or '_' first, then letters, digits, '_', '-', '.' or '/', at most "
    f"{MAX_KEY} characters, no empty or '..' parts"
)


@functools.lru_cache(maxsize=4096)  # a study's trials report the same few names
def is_metric_name(name: str) -> bool:
    return (
        isinstance(name, str)
        and len(name) <= MAX_KEY
        and bool(_METRIC_NAME.match(name))
        and ".." not in name
    )


def safe_metric_name(name: str) -> str:
    """A name that follows the rule, made from `name` (used when `name` does not).

    It goes under `renamed/`, so it cannot take the place of a valid name ("val loss" must not
    become the "val_loss" a trial also reports).
    """
    fixed = _NOT_ALLOWED.sub("_", str(name)).replace("..", "_.")
    fixed = re.sub(r"/+", "/", fixed).strip("/") or "_"
    return f"renamed/{fixed}"[:MAX_KEY]


def metric_value(value: Any) -> tuple[float | None, str | None]:
    """(what to store, how it was changed) for a reported value; (None, None) if not a number.

    NaN is stored as NaN (MLflow keeps it); ±inf as ±1.797e308 (what SQL stores would silently
    make of it); a boolean as 1.0 or 0.0.
    """
    if type(value) is float and math.isfinite(value):  # the common case, no ABC check
        return value, None
    if isinstance(value, bool | np.bool_):
        return float(value), "bool stored as 1/0"
    if not isinstance(value, numbers.Real):
        return None, None
    number = float(value)
    if math.isnan(number):
        return number, "NaN stored as NaN"
    if math.isinf(number):
        return (
            (FLOAT_MAX, "+inf stored as 1.797e308")
            if number > 0
            else (
                -FLOAT_MAX,
                "-inf stored as -1.797e308",
            )
        )
    return number, None


def split_text(key: str, value: str, limit: int) -> list[tuple[str, str]]:
    """[(key, part), (key.part2, part), ...]: a long text in pieces MLflow keeps whole."""
    if len(value) <= limit:
        return [(key, value)]
    pieces = [value[i : i + limit] for i in range(0, len(value), limit)]
    stem = key[: MAX_KEY - len(f".part{len(pieces)}")]
    return [(key if n == 1 else f"{stem}.part{n}", piece) for n, piece in enumerate(pieces, 1)]


class Replacements:
    """Counts what was changed in one run, and says it in one tag value."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def note(self, key: str, how: str) -> None:
        self._counts[(key, how)] += 1

    def __bool__(self) -> bool:
        return bool(self._counts)

    def describe(self) -> str:
        return "; ".join(f"{key}: {how} ×{n}" for (key, how), n in sorted(self._counts.items()))

    def clear(self) -> None:
        self._counts.clear()


def texts(
    items: dict[str, Any], limit: int, replacements: Replacements, kind: str
) -> Iterator[tuple[str, str]]:
    """Params or tags as (key, text) pairs MLflow stores exactly: long values split in parts,
    keys outside MLflow's rules renamed; each change noted."""
    for key, value in items.items():
        name = key
        if len(name) > MAX_KEY or not re.match(r"^[\w.\-/ :]*$", name):
            name = safe_metric_name(name)
            replacements.note(key, f"{kind} name renamed to {name!r}")
        text = str(value)
        parts = split_text(name, text, limit)
        if len(parts) > 1:
            replacements.note(
                name, f"{kind} of {len(text)} characters split into {len(parts)} parts"
            )
        yield from parts
