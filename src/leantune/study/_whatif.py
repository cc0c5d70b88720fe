"""What-if analysis on a finished run: replay policies over its stored trial histories.

The question it answers for predictive stopping: run a study with stopping off (every trial runs
to the end, so its true outcome is known), then ask how early the reactive and the predictive
rule would have stopped each trial, and how often the predictive rule stops a trial that would
have finished within every limit (a false stop).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from leantune.errors import LeantuneError
from leantune.results import RunDir
from leantune.stoppers import PredictivePolicy, StoppingPolicy, from_constraints, replay
from leantune.trials import INFEASIBLE, STEPS_PLANNED


def load_histories(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every trial's reports, oldest first, from a run directory's reports.parquet."""
    files = RunDir(run_dir)
    if not files.reports_file.is_file():
        raise LeantuneError(f"RUN_DIR: {str(run_dir)!r} has no {files.reports_file.name} to replay")
    frame = files.read_reports()
    histories: dict[str, list[dict[str, Any]]] = {}
    for trial_id, rows in frame.groupby("trial_id", sort=False):
        records = rows.drop(columns="trial_id").to_dict("records")
        histories[str(trial_id)] = [
            {k: v for k, v in r.items() if not (isinstance(v, float) and math.isnan(v))}
            for r in records
        ]
    return histories


def replay_table(
    histories: Mapping[str, list[dict[str, Any]]], policies: Mapping[str, StoppingPolicy]
) -> pd.DataFrame:
    """One row per trial: its planned steps and, per policy, the step it would stop at."""
    rows: dict[str, dict[str, Any]] = {
        trial_id: {"trial_id": trial_id, STEPS_PLANNED: reports[-1].get(STEPS_PLANNED)}
        for trial_id, reports in histories.items()
    }
    for name, policy in policies.items():
        for trial_id, stop in replay(policy, histories).items():
            rows[trial_id][f"{name}_stop_step"] = stop.reason.step if stop else math.nan
    return pd.DataFrame(list(rows.values()))


def predictive_vs_reactive(
    run_dir: Path, constraints: Mapping[str, float], margin: float = 0.1, window: int = 5
) -> dict[str, Any]:
    """Judge the predictive rule against ground truth from a run made with stopping off.

    Ground truth: a trial is infeasible if the reactive rule stops it at some report of its
    full history. Reports: how many steps earlier the predictive rule acts on the trials both
    rules stop, and its false-stop rate (stopped, yet the trial finished within its limits).
    """
    histories = load_histories(run_dir)
    table = replay_table(
        histories,
        {
            "reactive": from_constraints(constraints),
            "predictive": PredictivePolicy(constraints, margin=margin, window=window),
        },
    )
    infeasible = table["reactive_stop_step"].notna()
    predicted = table["predictive_stop_step"].notna()
    both = infeasible & predicted
    earlier = (table["reactive_stop_step"] - table["predictive_stop_step"])[both]
    feasible_count = int((~infeasible).sum())
    false_stops = int((predicted & ~infeasible).sum())
    return {
        "trials": len(table),
        INFEASIBLE: int(infeasible.sum()),
        "predicted_stops": int(predicted.sum()),
        "caught": int(both.sum()),
        "missed": int((infeasible & ~predicted).sum()),
        "false_stops": false_stops,
        "false_stop_rate": false_stops / feasible_count if feasible_count else 0.0,
        "median_steps_earlier": float(earlier.median()) if len(earlier) else math.nan,
        "median_share_of_planned_saved": float((earlier / table[STEPS_PLANNED][both]).median())
        if len(earlier)
        else math.nan,
        "margin": margin,
        "table": table,
    }
