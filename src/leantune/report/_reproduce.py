"""Does a rerun reproduce the chapter? Two thesis directories of the same command, read from
their results/ tables: for every headline number, the second run's mean over repeats against
the first run's stated rerun interval (and, for reference, its range of repeats).

Numbers are grouped by what they rest on, because load moves them differently: counts, shares,
scores and ratios within one run; absolute CPU times (a busy machine slows a thread's own CPU
time through shared caches and memory); wall times (a busy machine adds its own time).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from leantune.report._order import HOLDS
from leantune.report._spread import Spread

WITHIN_RUN = "shares, counts, scores, ratios within a run"
CPU_TIME = "absolute CPU time"
WALL_TIME = "wall time"

NUMBERS: dict[str, tuple[list[str], dict[str, str]]] = {
    "rq2_curve": (
        ["dataset", "metric", "level"],
        {
            "cpu_share_saved": WITHIN_RUN,
            "oracle_share_saved": WITHIN_RUN,
            "false_stops": WITHIN_RUN,
            "missed_violations": WITHIN_RUN,
            "regret_cv": WITHIN_RUN,
            "limit": CPU_TIME,
            "cpu_s_saved": CPU_TIME,
        },
    ),
    "rq2_measured": (
        ["dataset", "level"],
        {
            "cpu_share_saved": WITHIN_RUN,
            "false_stops": WITHIN_RUN,
            "missed_violations": WITHIN_RUN,
            "regret_cv": WITHIN_RUN,
            "cpu_s_saved": CPU_TIME,
            "study_wall_share_saved": WALL_TIME,
        },
    ),
    "rq1_batch_by_backend": (
        ["dataset", "backend", "batch_size"],
        {
            "score_best": WITHIN_RUN,
            "score_median": WITHIN_RUN,
            "step_time_relative": WITHIN_RUN,
            "step_time_ms": CPU_TIME,
            "time_per_row_us": CPU_TIME,
            "train_time_s": CPU_TIME,
        },
    ),
}
"""Per results table: the columns that name one number (with the repeat summed over), and each
headline column with what it rests on."""

NUMBER_COLUMNS = [
    "table",
    "column",
    "kind",
    "key",
    "first_mean",
    "first_half_width",
    "first_low",
    "first_high",
    "repeats",
    "second_mean",
    "inside_interval",
    "inside_range",
    "difference",
]


def _table(directory: Path, name: str) -> pd.DataFrame:
    path = directory / "results" / f"{name}.csv"
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


def reproduction(first: Path, second: Path) -> pd.DataFrame:
    """One row per headline number present in both directories (see NUMBER_COLUMNS):
    `inside_interval` says whether the second run's mean lies in the first's rerun interval,
    `inside_range` whether it lies in the first's range of repeats."""
    rows: list[dict[str, Any]] = []
    for name, (keys, columns) in NUMBERS.items():
        a, b = _table(first, name), _table(second, name)
        for column, kind in columns.items():
            if column not in a or column not in b:
                continue
            seconds = b.groupby(keys)[column].mean()
            for key, values in a.groupby(keys)[column]:
                spread = Spread.of(pd.to_numeric(values, errors="coerce"))
                mean = float(seconds.get(key, float("nan")))
                if spread.n == 0 or pd.isna(mean):
                    continue
                rows.append(
                    {
                        "table": name,
                        "column": column,
                        "kind": kind,
                        "key": " / ".join(str(part) for part in key),
                        "first_mean": spread.mean,
                        "first_half_width": spread.rerun_half_width,
                        "first_low": spread.low,
                        "first_high": spread.high,
                        "repeats": spread.n,
                        "second_mean": mean,
                        "inside_interval": spread.holds(mean),
                        "inside_range": spread.low - 1e-12 <= mean <= spread.high + 1e-12,
                        "difference": mean - spread.mean,
                    }
                )
    return pd.DataFrame(rows, columns=NUMBER_COLUMNS)


def reproduction_summary(numbers: pd.DataFrame) -> pd.DataFrame:
    """Per table and column: how many numbers, the share inside the first run's rerun interval
    and inside its range, and `change`: the second run's total over the first's, less 1 (for
    times, how much the second run's machine slowed or sped them; near-zero counts make it
    large and meaningless)."""
    rows = []
    for (table, column, kind), group in numbers.groupby(["table", "column", "kind"], sort=False):
        total = float(group["first_mean"].sum())
        rows.append(
            {
                "kind": kind,
                "number": f"{table}.{column}",
                "points": len(group),
                "inside_interval": float(group["inside_interval"].mean()),
                "inside_range": float(group["inside_range"].mean()),
                "change": float(group["second_mean"].sum()) / total - 1 if total else math.nan,
                "largest_difference": float(group["difference"].abs().max()),
            }
        )
    order = {WITHIN_RUN: 0, CPU_TIME: 1, WALL_TIME: 2}
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values("kind", key=lambda s: s.map(order), kind="stable").reset_index(
        drop=True
    )


def verdicts_kept(first: Path, second: Path) -> pd.DataFrame:
    """RQ1's verdicts (with the run-order control) of the pairs both directories judged, side
    by side, with `same` where the second run gave the first's verdict."""
    keys = ["dataset", "hyperparameter", "metric"]
    a, b = _table(first, "rq1_order_control"), _table(second, "rq1_order_control")
    if a.empty or b.empty:
        return pd.DataFrame(columns=[*keys, "first", "second", "same"])
    both = a[[*keys, "verdict"]].merge(
        b[[*keys, "verdict"]], on=keys, how="inner", suffixes=("_first", "_second")
    )
    both = both.rename(columns={"verdict_first": "first", "verdict_second": "second"})
    return both.assign(same=both["first"] == both["second"])


def findings_kept(verdicts: pd.DataFrame) -> tuple[int, int, int]:
    """RQ1's findings (the effects whose verdict is 'holds', the only ones the chapter states):
    how many the first run had, the second, and both."""
    first, second = verdicts["first"] == HOLDS, verdicts["second"] == HOLDS
    return int(first.sum()), int(second.sum()), int((first & second).sum())
