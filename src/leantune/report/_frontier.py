"""Trade-offs and histories as data: the Pareto front of validation quality against each
constrained system metric, and every trial's learning curve labelled by how it ended."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from leantune.metrics import CATALOGUE
from leantune.report._run import HYPERPARAMETERS, RunResults
from leantune.trials import (
    CV_SCORE_MEAN,
    DIVERGED,
    FEASIBLE,
    INFEASIBLE,
    PROGRESS_PCT,
    STEPS_PLANNED,
    STOPPED,
)

CONSTRAINT_LABELS = {metric.name: metric.label for metric in CATALOGUE if metric.constrainable}
# The costs a Pareto front sets against quality: every catalogued metric but quality itself.
_COSTS = {metric.name for metric in CATALOGUE if metric.kind != "quality"}
# Shown when a study sets no constraint: the two costs every application has.
DEFAULT_TRADE_OFFS = ("train_time_s", "memory_mb")

# Points a learning curve keeps: enough to show its shape, few enough to draw hundreds fast.
CURVE_POINTS = 150


def category(status: str, stop_label: str) -> str:
    """How a trial ended, as the legend says it: `stopped: memory_mb`, `feasible`, ..."""
    label = stop_label if isinstance(stop_label, str) else ""
    if status in (STOPPED, INFEASIBLE) and label:
        return f"{status}: {label}"
    return str(status)


# A trial whose error is this many times the typical trial's has blown up: drawn at the edge of
# a plot, not on its scale, and left out of spreads, so one runaway RMSE (1e12) does not
# flatten every other trial onto one line.
BLOWN_UP_FACTOR = 100.0


def off_scale(status: pd.Series, quality: pd.Series, higher_is_better: bool) -> pd.Series:
    """True for a trial that diverged, or whose error (RMSE, loss: lower is better) is more
    than BLOWN_UP_FACTOR times the median of the others. A score such as accuracy is bounded
    and never off the scale unless the trial diverged."""
    diverged = status.astype(str) == DIVERGED
    if higher_is_better:
        return diverged
    values = pd.to_numeric(quality, errors="coerce")
    typical = values[~diverged & values.notna()].abs().median()
    if not (isinstance(typical, float) and math.isfinite(typical) and typical > 0):
        return diverged
    return diverged | (values.abs() > BLOWN_UP_FACTOR * typical)


def trade_off_metrics(run: RunResults) -> list[str]:
    """The objective first when it is a cost (latency, size, time, ...), then each constrained
    cost; with neither, training time and memory."""
    objective = run.objective["metric"]
    chosen = [objective] if objective in _COSTS else []
    constrained = [m for m in run.constraints if m in _COSTS and m not in chosen]
    return [*chosen, *constrained] or list(DEFAULT_TRADE_OFFS)


def pareto_frame(run: RunResults) -> pd.DataFrame:
    """One row per trial: its validation quality, the highest value each trade-off metric
    reached over its reports (what a limit is checked against), and whether it is on the
    front of feasible trials for that metric."""
    metrics = trade_off_metrics(run)
    trials = run.trials
    columns = ["trial_id", "model", *HYPERPARAMETERS, "status", "category", "quality"]
    if trials.empty:
        return pd.DataFrame(columns=[*columns, "quality_kind", "chosen", *metrics])
    frame = trials[[c for c in ["trial_id", "model", *HYPERPARAMETERS, "status"]]].copy()
    frame["category"] = [
        category(s, lbl)
        for s, lbl in zip(
            trials["status"],
            trials.get("stop_label", pd.Series("", index=trials.index)),
            strict=True,
        )
    ]
    cv = pd.to_numeric(trials.get(CV_SCORE_MEAN), errors="coerce")
    last = pd.to_numeric(trials.get(run.score_metric), errors="coerce")
    if cv is None:
        cv = pd.Series(np.nan, index=trials.index)
    if last is None:
        last = pd.Series(np.nan, index=trials.index)
    frame["quality"] = cv.fillna(last)
    frame["quality_kind"] = np.where(cv.notna(), "CV mean", "at its last report")
    frame["off_scale"] = off_scale(frame["status"], frame["quality"], run.higher_is_better)
    chosen = run.best.trial_id if run.best else ""
    frame["chosen"] = frame["trial_id"].astype(str) == chosen
    peaks = run.reports(metrics).groupby("trial_id").max(numeric_only=True)
    objective = run.objective["metric"]
    for metric in metrics:
        values = peaks[metric] if metric in peaks else pd.Series(dtype=float)
        frame[metric] = frame["trial_id"].astype(str).map(values).astype(float)
        if metric == objective and metric not in run.constraints and metric in trials:
            # An objective with no limit on it: the final value the pick was made on.
            frame[metric] = pd.to_numeric(trials[metric], errors="coerce").to_numpy()
        frame[f"front_{metric}"] = _front(frame, metric, run.higher_is_better)
    return frame.reset_index(drop=True)


def _front(frame: pd.DataFrame, metric: str, higher_is_better: bool) -> pd.Series:
    """Feasible trials no other feasible trial beats on both cost (lower) and quality."""
    on_front = pd.Series(False, index=frame.index)
    candidates = frame[(frame["status"] == FEASIBLE) & frame[metric].notna()]
    candidates = candidates[candidates["quality"].notna()]
    ordered = candidates.sort_values([metric, "quality"], ascending=[True, False])
    sign = 1.0 if higher_is_better else -1.0
    score = sign * ordered["quality"].to_numpy(float)
    # Cheapest first: a trial is on the front when it beats every cheaper trial's quality.
    best_before = np.maximum.accumulate(np.r_[-math.inf, score[:-1]])
    on_front[ordered.index[score > best_before]] = True
    return on_front


def curves_frame(run: RunResults) -> pd.DataFrame:
    """Every trial's validation loss and score over its progress, thinned to CURVE_POINTS."""
    columns = ["trial_id", PROGRESS_PCT, "step", "fold", "val_loss", run.score_metric]
    # Where each fold starts and the untrained model's loss there: a fold that reports only at
    # its end (a large batch) still draws as a line from its start.
    columns += ["fold_step", STEPS_PLANNED, "val_loss_start"]
    reports = run.reports(columns)
    if reports.empty or PROGRESS_PCT not in reports:
        return pd.DataFrame(columns=[*columns, "category"])
    reports = reports.dropna(subset=[PROGRESS_PCT])
    frame = _thinned(reports, CURVE_POINTS)
    trials = run.trials
    if not trials.empty:
        labels = trials.get("stop_label", pd.Series("", index=trials.index))
        categories = dict(
            zip(
                trials["trial_id"].astype(str),
                [category(s, lbl) for s, lbl in zip(trials["status"], labels, strict=True)],
                strict=True,
            )
        )
        frame["category"] = frame["trial_id"].map(categories).fillna("unknown")
        models = dict(zip(trials["trial_id"].astype(str), trials["model"], strict=True))
        frame["model"] = frame["trial_id"].map(models)
        missing = pd.Series(np.nan, index=trials.index)
        last = pd.to_numeric(trials.get(run.score_metric, missing), errors="coerce")
        quality = pd.to_numeric(trials.get(CV_SCORE_MEAN, missing), errors="coerce").fillna(last)
        blown = off_scale(trials["status"], quality, run.higher_is_better)
        frame["off_scale"] = frame["trial_id"].isin(set(trials["trial_id"].astype(str)[blown]))
    else:
        frame["category"] = "unknown"
        frame["off_scale"] = False
    return frame


def _thinned(reports: pd.DataFrame, points: int) -> pd.DataFrame:
    """Each trial's reports, grouped in the order trials first appear, with a trial of more
    than `points` reports cut to `points` evenly spaced ones (its first and last kept).

    Vectorised: the positions kept depend only on a trial's report count, so they are worked
    out once per distinct count, not once per trial (10,000 trials took seconds).
    """
    codes, _ = pd.factorize(reports["trial_id"])
    grouped = reports.iloc[np.argsort(codes, kind="stable")].reset_index(drop=True)
    codes = np.sort(codes, kind="stable")
    sizes = np.bincount(codes)
    size = sizes[codes]
    position = np.arange(len(codes)) - (np.cumsum(sizes) - sizes)[codes]
    keep = size <= points
    for count in np.unique(size[~keep]):
        kept = np.zeros(count, dtype=bool)
        kept[np.unique(np.linspace(0, count - 1, points).round().astype(int))] = True
        these = size == count
        keep[these] = kept[position[these]]
    return grouped[keep].reset_index(drop=True)
