"""RQ1's batch-size axis under each training backend, as data: per set, backend and batch size,
what a step costs, what a row costs, and what the configs scored, with the spread over repeats.

Under `sklearn` (partial_fit: one update per sample) batch size is an overhead axis; under
`minibatch` (one update per batch, the gradient averaged) it is a learning axis too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from leantune.report._rq1 import rows_per_step, system_frame
from leantune.report._run import RunResults
from leantune.report._spread import Spread
from leantune.trials import CV_SCORE_MEAN, STEPS_PLANNED

BATCH_COLUMNS = [
    "dataset",
    "backend",
    "arm",
    "repeat",
    "batch_size",
    "configs",
    "step_time_ms",
    "step_time_relative",
    "time_per_row_us",
    "train_time_s",
    "score_median",
    "score_best",
    "rows_per_fold",
]
"""One row per set, backend, repeat and batch size: medians over that batch size's configs
(their best score too) in the repeat's unstopped arm, where every config ran to its end.
Times are on the run's clock (the thesis: the training thread's CPU time). `step_time_relative`:
the step time over the same repeat's step time at its smallest batch size, a ratio within one
run, which a busy machine moves far less than the CPU time itself (BENCHMARKS.md)."""

BATCH_METRICS = {
    "step_time_ms": "step time (CPU ms)",
    "step_time_relative": "step time ÷ smallest batch's",
    "time_per_row_us": "time per row (CPU µs)",
    "train_time_s": "training time (s, all folds)",
    "score_best": "best CV {score}",
    "score_median": "median CV {score}",
    "rows_per_fold": "rows read a fold (≈)",
}


def batch_rows(
    run: RunResults, *, dataset: str, backend: str, arm: str, repeat: int
) -> pd.DataFrame:
    """One repeat's unstopped arm summarised per batch size (see BATCH_COLUMNS)."""
    frame = system_frame(run)
    if frame.empty:
        return pd.DataFrame(columns=BATCH_COLUMNS)
    trials = run.trials.set_index("trial_id")
    ids = frame["trial_id"].astype(str)
    score, planned = (
        pd.to_numeric(trials.reindex(ids)[column], errors="coerce").to_numpy()
        if column in trials
        else np.full(len(ids), np.nan)
        for column in (CV_SCORE_MEAN, STEPS_PLANNED)
    )
    folds = max(1, run.summary.folds)
    frame = frame.assign(
        score=score,
        time_per_row_us=1e6 / frame["throughput_samples_s"],
        # Steps a fold × rows a step: one epoch reads the fold once; a fixed step count reads
        # steps × batch size rows, cycling over the fold.
        rows_per_fold=(planned / folds)
        * rows_per_step(frame["batch_size"].astype(float), run.fold_train_rows).to_numpy(),
    )
    best = np.nanmax if run.higher_is_better else np.nanmin
    rows = []
    for batch_size, group in frame.groupby("batch_size", sort=True):
        scores = group["score"].dropna()
        rows.append(
            {
                "dataset": dataset,
                "backend": backend,
                "arm": arm,
                "repeat": repeat,
                "batch_size": int(batch_size),
                "configs": len(group),
                "step_time_ms": group["step_time_ms"].median(),
                "time_per_row_us": group["time_per_row_us"].median(),
                "train_time_s": group["train_time_s"].median(),
                "score_median": scores.median() if len(scores) else np.nan,
                "score_best": float(best(scores)) if len(scores) else np.nan,
                "rows_per_fold": group["rows_per_fold"].median(),
            }
        )
    out = pd.DataFrame(rows, columns=BATCH_COLUMNS)
    if len(out):
        out["step_time_relative"] = out["step_time_ms"] / out["step_time_ms"].iloc[0]
    return out


def batch_spread(rows: pd.DataFrame) -> pd.DataFrame:
    """Per set, backend and batch size: each metric's mean, lowest and highest over repeats, and
    their standard deviation (`_sd`, for the rerun interval)."""
    out = []
    for (dataset, backend, batch_size), group in rows.groupby(
        ["dataset", "backend", "batch_size"], sort=False
    ):
        row: dict[str, Any] = {
            "dataset": dataset,
            "backend": backend,
            "arm": group["arm"].iloc[0],
            "batch_size": int(batch_size),
            "repeats": group["repeat"].nunique(),
        }
        for metric in BATCH_METRICS:
            spread = Spread.of(group[metric])
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"], row[f"{metric}_sd"] = (
                spread.mean,
                spread.low,
                spread.high,
                spread.sd,
            )
        out.append(row)
    return pd.DataFrame(out)


def spread_at(summary: pd.DataFrame, metric: str, batch_size: int) -> Spread:
    """The Spread of `metric` at one batch size of one backend's summary rows."""
    row = summary[summary["batch_size"] == batch_size]
    if row.empty:
        return Spread.of([])
    item = row.iloc[0]
    mean = float(item[metric])
    if not np.isfinite(mean):
        return Spread.of([])
    return Spread(
        mean,
        float(item[f"{metric}_low"]),
        float(item[f"{metric}_high"]),
        int(item["repeats"]),
        float(item[f"{metric}_sd"]),
    )


def backend_order(backends: Sequence[str]) -> list[str]:
    """sklearn (overhead) first, then minibatch (learning), then any other."""
    known = ["sklearn", "minibatch"]
    return [b for b in known if b in backends] + [b for b in backends if b not in known]
