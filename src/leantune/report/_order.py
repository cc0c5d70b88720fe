"""RQ1's run-order control: an effect counts only if it survives trials run in shuffled order.

A reused worker drifts (its memory grows trial by trial) and a machine's load changes over a
run; in grid order such drift lines up with the grid's slow axis and reads as an effect of it.
Repeats that run the same grid in a seeded shuffled order break that alignment. Per repeat,
Spearman's ρ with its bootstrap interval; per hyperparameter × metric, a verdict:

- holds: clear (the interval excludes 0) with the same sign in every repeat, shuffled ones too;
- order artifact: clear in grid order, not in a shuffled repeat;
- not reproduced: clear in some repeats only (none of them the grid-order one alone);
- none: clear in no repeat;
- unchecked: no shuffled repeat ran;
- drift (run position only): the metric changes with the order trials ran in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leantune.report._rq1 import (
    RQ1_METRICS,
    spearman_table,
    spearman_with_interval,
    system_frame,
)
from leantune.report._run import RunResults

HOLDS, ARTIFACT, NOT_REPRODUCED, NONE, UNCHECKED, DRIFT = (
    "holds",
    "order artifact",
    "not reproduced",
    "none",
    "unchecked (no shuffled repeat)",
    "drift",
)
RUN_POSITION = "run_position"
"""A pseudo-hyperparameter: the position at which a trial started in its run."""


@dataclass(frozen=True)
class Repeat:
    """One repeat of a set: its seed, whether its trials ran in shuffled order, its run."""

    index: int
    seed: int
    shuffled: bool
    run: RunResults


def repeat_table(repeats: Sequence[Repeat]) -> pd.DataFrame:
    """Spearman's ρ per repeat, hyperparameter and metric; plus the run position's ρ with each
    metric (the drift that grid order turns into an effect)."""
    frames = []
    for repeat in repeats:
        frame = system_frame(repeat.run)
        table = spearman_table(frame, seed=repeat.seed)
        started = _start_positions(repeat.run, frame)
        rows = []
        for index, metric in enumerate(RQ1_METRICS):
            pair = pd.DataFrame({"x": started, "y": frame[metric.name]}).dropna()
            rho, low, high = spearman_with_interval(
                pair["x"].to_numpy(float), pair["y"].to_numpy(float), seed=repeat.seed + 900 + index
            )
            rows.append(
                {
                    "hyperparameter": RUN_POSITION,
                    "metric": metric.name,
                    "n": len(pair),
                    "levels": len(pair),
                    "rho": rho,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
        table = pd.concat([table, pd.DataFrame(rows)], ignore_index=True)
        table.insert(0, "order", "shuffled" if repeat.shuffled else "grid")
        table.insert(0, "repeat_seed", repeat.seed)
        table.insert(0, "repeat", repeat.index)
        frames.append(table)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _start_positions(run: RunResults, frame: pd.DataFrame) -> pd.Series:
    trials = run.trials
    if "started_at" not in trials or frame.empty:
        return pd.Series(np.nan, index=frame.index)
    started = trials["started_at"]
    if not pd.api.types.is_numeric_dtype(started):
        started = pd.to_datetime(started, utc=True, errors="coerce")
    order = started.rank(method="first")
    by_id = pd.Series(order.to_numpy(), index=trials["trial_id"].astype(str))
    return frame["trial_id"].astype(str).map(by_id).astype(float)


def _sign(row: pd.Series) -> int:
    if math.isfinite(row["ci_low"]) and row["ci_low"] > 0:
        return 1
    if math.isfinite(row["ci_high"]) and row["ci_high"] < 0:
        return -1
    return 0


def verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """Per hyperparameter × metric: ρ in each repeat, its spread, and the verdict."""
    columns = ["hyperparameter", "metric", "rho_grid", "rho_shuffled", "rho_min", "rho_max"]
    if table.empty:
        return pd.DataFrame(columns=[*columns, "clear_in", "verdict"])
    rows = []
    for (hyperparameter, metric), group in table.groupby(["hyperparameter", "metric"], sort=False):
        signs = group.apply(_sign, axis=1)
        grid, shuffled = signs[group["order"] == "grid"], signs[group["order"] == "shuffled"]
        rhos = group["rho"].dropna()
        if signs.ne(0).sum() == 0:
            verdict = NONE
        elif hyperparameter == RUN_POSITION:
            verdict = DRIFT  # the drift itself: no order can be an artifact of order
        elif shuffled.empty:
            verdict = UNCHECKED
        elif signs.ne(0).all() and signs.nunique() == 1:
            verdict = HOLDS
        elif len(grid) and grid.ne(0).all() and (shuffled != grid.iloc[0]).any():
            verdict = ARTIFACT
        else:
            verdict = NOT_REPRODUCED
        rows.append(
            {
                "hyperparameter": hyperparameter,
                "metric": metric,
                "rho_grid": _mean(group.loc[group["order"] == "grid", "rho"]),
                "rho_shuffled": _mean(group.loc[group["order"] == "shuffled", "rho"]),
                "rho_min": float(rhos.min()) if len(rhos) else math.nan,
                "rho_max": float(rhos.max()) if len(rhos) else math.nan,
                "clear_in": f"{int(signs.ne(0).sum())} of {len(signs)}",
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows, columns=[*columns, "clear_in", "verdict"])


def _mean(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.mean()) if len(values) else math.nan
