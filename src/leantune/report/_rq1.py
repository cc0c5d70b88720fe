"""RQ1 as data: how batch size, learning rate and alpha change the system metrics of training.

One row per trial with its hyperparameters and five system metrics; per level of each
hyperparameter, the median and spread; Spearman's rank correlation with a seeded bootstrap
confidence interval; and the batch size × learning rate grids behind the heatmaps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from leantune.metrics import label
from leantune.report._document import format_value
from leantune.report._run import HYPERPARAMETERS, RunResults
from leantune.trials import FEASIBLE, INFEASIBLE, STEPS_DONE


@dataclass(frozen=True)
class SystemMetric:
    name: str
    label: str
    log_scale: bool
    """Spans orders of magnitude across a grid, so plots use a log axis."""


# What RQ1 relates to the hyperparameters: a trial's costs, labelled from the metric catalogue,
# with throughput and peak memory derived here. Not the catalogue's `SYSTEM_METRICS` (every
# metric of kind "system", as measured at a report).
RQ1_METRICS = (
    SystemMetric("step_time_ms", label("step_time_ms"), True),
    SystemMetric("train_time_s", f"total {label('train_time_s')}", True),
    SystemMetric("throughput_samples_s", "throughput (samples/s)", True),
    SystemMetric("cpu_percent", label("cpu_percent"), False),
    SystemMetric("peak_memory_mb", "private memory, peak (MB)", False),
)
METRIC_LABELS = {m.name: m.label for m in RQ1_METRICS}

HYPERPARAMETER_LABELS = {
    "batch_size": "batch size",
    "learning_rate": "learning rate",
    "alpha": "alpha (L2)",
}

# Statuses of trials that ran every planned step: only their total time is a total.
RAN_TO_THE_END = (FEASIBLE, INFEASIBLE)

BOOTSTRAP_SAMPLES = 1000
# Fewer trials than this get ρ but no interval: resampling a handful of points says nothing.
MIN_TRIALS_FOR_INTERVAL = 10


def system_frame(run: RunResults) -> pd.DataFrame:
    """One row per trial that trained at least one step: config, status and system metrics.

    Total training time counts only trials that ran to their end; a stopped trial's time so
    far is not a total. Throughput is the rows one step trains on over the step time (a
    fold's last batch may be partial, so rows per step come from the fold size). CPU % is the
    trial's CPU-seconds over its training seconds.
    """
    trials = run.trials
    if trials.empty or STEPS_DONE not in trials:
        return pd.DataFrame(columns=["trial_id", "model", *HYPERPARAMETERS, "status"])
    frame = trials[trials[STEPS_DONE].fillna(0) > 0].copy()
    keep = ["trial_id", "model", *HYPERPARAMETERS, "status", "stop_label"]
    out = frame[[c for c in keep if c in frame]].copy()
    if "stop_label" not in out:
        out["stop_label"] = ""
    out["step_time_ms"] = _column(frame, "step_time_ms")
    out["train_time_s"] = _column(frame, "train_time_s").where(frame["status"].isin(RAN_TO_THE_END))
    per_step = rows_per_step(frame["batch_size"].astype(float), run.fold_train_rows)
    out["throughput_samples_s"] = per_step / (out["step_time_ms"] / 1e3)
    cpu, train = _column(frame, "cpu_time_s"), _column(frame, "train_time_s")
    out["cpu_percent"] = (100.0 * cpu / train).where(train > 0)
    peak = _column(frame, "peak_memory_mb")
    out["peak_memory_mb"] = peak.fillna(_column(frame, "memory_mb"))
    return out.reset_index(drop=True)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[name], errors="coerce")


def rows_per_step(batch_size: pd.Series, fold_rows: float) -> pd.Series:
    """Rows a step trains on: the batch size, or less where a fold's last batch is partial."""
    if not math.isfinite(fold_rows) or fold_rows <= 0:
        return batch_size
    steps = np.ceil(fold_rows / batch_size)
    return np.minimum(batch_size, fold_rows / steps)


# --- levels ------------------------------------------------------------------------------


def is_continuous(values: pd.Series) -> bool:
    """Sampled (random, TPE) rather than a grid: too many distinct values to read as levels."""
    distinct = values.dropna().unique()
    return len(distinct) > 12 and len(distinct) > 0.5 * len(values.dropna())


def level_of(values: pd.Series, continuous: bool) -> pd.Series:
    """The level each value belongs to: itself on a grid, its decade when sampled."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    if not continuous:
        return numbers
    positive = numbers.where(numbers > 0)
    # A decade is labelled by its lower edge: 1e-3 holds [1e-3, 1e-2).
    return 10.0 ** np.floor(np.log10(positive) + 1e-9)


def level_label(value: float, hyperparameter: str, continuous: bool) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "–"
    if hyperparameter == "batch_size" and not continuous:
        return f"{int(value):,}"
    if continuous:
        return f"[{value:g}, {value * 10:g})"
    return f"{value:g}"


def level_table(frame: pd.DataFrame, hyperparameter: str) -> pd.DataFrame:
    """Per level: trials, and the median, quartiles and range of each system metric."""
    columns = ["hyperparameter", "level", "level_label", "metric", "n", "median", "q25", "q75"]
    if frame.empty or hyperparameter not in frame:
        return pd.DataFrame(columns=[*columns, "min", "max"])
    continuous = is_continuous(frame[hyperparameter])
    levels = level_of(frame[hyperparameter], continuous)
    rows = []
    for level in sorted(levels.dropna().unique()):
        chosen = frame[levels == level]
        for metric in RQ1_METRICS:
            values = chosen[metric.name].dropna()
            rows.append(
                {
                    "hyperparameter": hyperparameter,
                    "level": float(level),
                    "level_label": level_label(float(level), hyperparameter, continuous),
                    "metric": metric.name,
                    "n": len(values),
                    "median": values.median() if len(values) else np.nan,
                    "q25": values.quantile(0.25) if len(values) else np.nan,
                    "q75": values.quantile(0.75) if len(values) else np.nan,
                    "min": values.min() if len(values) else np.nan,
                    "max": values.max() if len(values) else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=[*columns, "min", "max"])


def level_table_shown(table: pd.DataFrame, hyperparameter: str) -> pd.DataFrame:
    """The long level table as a reader wants it: one row a level, `median [q25–q75]` cells."""
    label = HYPERPARAMETER_LABELS[hyperparameter]
    if table.empty:
        return pd.DataFrame(columns=[label])
    rows = []
    for (_, level_text), group in table.groupby(["level", "level_label"], sort=True):
        row = {label: level_text, "trials": int(group["n"].max())}
        for item in group.itertuples():
            row[METRIC_LABELS[item.metric]] = _median_spread(item.median, item.q25, item.q75)
        rows.append(row)
    return pd.DataFrame(rows)


def _median_spread(median: float, low: float, high: float) -> str:
    if isinstance(median, float) and math.isnan(median):
        return "–"
    if low == high:
        return format_value(median)
    return f"{format_value(median)} [{format_value(low)}–{format_value(high)}]"


# --- correlation -------------------------------------------------------------------------


def spearman_table(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Spearman's ρ of each hyperparameter with each system metric, over trials, with a 95 %
    percentile bootstrap interval (trials resampled with replacement, seeded)."""
    rows = []
    for position, hyperparameter in enumerate(HYPERPARAMETERS):
        for index, metric in enumerate(RQ1_METRICS):
            pair = (
                frame[[hyperparameter, metric.name]].apply(pd.to_numeric, errors="coerce").dropna()
                if not frame.empty and hyperparameter in frame
                else pd.DataFrame()
            )
            x = pair[hyperparameter].to_numpy(float) if len(pair) else np.empty(0)
            y = pair[metric.name].to_numpy(float) if len(pair) else np.empty(0)
            rho, low, high = spearman_with_interval(x, y, seed=seed + 100 * position + index)
            rows.append(
                {
                    "hyperparameter": hyperparameter,
                    "metric": metric.name,
                    "n": len(x),
                    "levels": len(np.unique(x)),
                    "rho": rho,
                    "ci_low": low,
                    "ci_high": high,
                    "bootstrap_samples": BOOTSTRAP_SAMPLES,
                    "seed": seed + 100 * position + index,
                }
            )
    return pd.DataFrame(rows)


def spearman_with_interval(
    x: np.ndarray, y: np.ndarray, *, seed: int, samples: int = BOOTSTRAP_SAMPLES
) -> tuple[float, float, float]:
    """(ρ, 2.5th percentile, 97.5th percentile); NaN where a variable does not vary."""
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan, math.nan
    rho = float(_rank_correlation(x[None, :], y[None, :])[0])
    if len(x) < MIN_TRIALS_FOR_INTERVAL:
        return rho, math.nan, math.nan
    boot = _bootstrap_rank_correlation(x, y, seed=seed, samples=samples)
    boot = boot[np.isfinite(boot)]
    if len(boot) < samples // 2:
        return rho, math.nan, math.nan
    low, high = np.percentile(boot, [2.5, 97.5])
    return rho, float(low), float(high)


def _bootstrap_rank_correlation(
    x: np.ndarray, y: np.ndarray, *, seed: int, samples: int
) -> np.ndarray:
    """ρ of each of `samples` resamples of the pairs (drawn with replacement, seeded).

    The same draws and the same ρ as ranking `x[picks]` and `y[picks]`, without sorting any
    resample: a resample is a count of copies of each trial, a value's tie-averaged rank in it
    is the copies below its value plus the midpoint of its own value's copies, and ρ is the
    count-weighted Pearson r of those ranks. O(samples × n) instead of a sort per resample,
    which at 10,000 trials took seconds a pair.
    """
    n = len(x)
    rng = np.random.default_rng(seed)
    x_ties, y_ties = _tie_groups(x), _tie_groups(y)
    block = max(1, _BOOTSTRAP_BLOCK_CELLS // n)
    rhos = []
    for start in range(0, samples, block):
        rows = min(block, samples - start)
        # Drawn block by block, the stream is the one a single (samples, n) draw gives.
        picks = rng.integers(0, n, size=(rows, n))
        picks += n * np.arange(rows)[:, None]  # each resample counts into its own row
        counts = np.bincount(picks.ravel(), minlength=rows * n).reshape(rows, n).astype(float)
        rx = _resampled_ranks(counts, *x_ties)
        ry = _resampled_ranks(counts, *y_ties)
        rx -= _row_sums(counts, rx)[:, None] / n
        ry -= _row_sums(counts, ry)[:, None] / n
        weighted = counts * rx
        covariance = _row_sums(weighted, ry)
        spread = np.sqrt(_row_sums(weighted, rx) * _row_sums(counts * ry, ry))
        with np.errstate(invalid="ignore", divide="ignore"):
            rhos.append(covariance / spread)
    return np.concatenate(rhos)


# Resample cells handled at once: a block's arrays (1 MB each) stay in the CPU's cache, which
# at 10,000 trials made the bootstrap a third faster than blocks of 8 MB.
_BOOTSTRAP_BLOCK_CELLS = 131_072


def _row_sums(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ a·b along each row, without the product's temporary."""
    return np.einsum("ij,ij->i", a, b)


def _tie_groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order that sorts `values`, where each run of equal values starts in that order, the
    run each value belongs to)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new_run = np.r_[True, ordered[1:] != ordered[:-1]]
    run_of = np.empty(len(values), dtype=np.int64)
    run_of[order] = np.cumsum(new_run) - 1
    return order, np.flatnonzero(new_run), run_of


def _resampled_ranks(
    counts: np.ndarray, order: np.ndarray, starts: np.ndarray, run_of: np.ndarray
) -> np.ndarray:
    """Each value's tie-averaged rank within each resample (row of `counts`)."""
    copies = counts[:, order]
    if len(starts) < len(order):  # ties: one column per distinct value
        copies = np.add.reduceat(copies, starts, axis=1)
    below = np.cumsum(copies, axis=1) - copies
    return (below + (copies + 1) / 2)[:, run_of]


def _rank_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's ρ of each row pair: Pearson's r of the (tie-averaged) ranks."""
    rx = rankdata(x, axis=1)
    ry = rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denominator = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=1) / denominator


def spearman_shown(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for hyperparameter, group in table.groupby("hyperparameter", sort=False):
        row = {"hyperparameter": HYPERPARAMETER_LABELS[str(hyperparameter)]}
        for item in group.itertuples():
            label = METRIC_LABELS[item.metric]
            if math.isnan(item.rho):
                row[label] = "– (one level)" if item.levels <= 1 else "–"
            elif math.isnan(item.ci_low):
                row[label] = f"{item.rho:+.2f} (too few trials for an interval)"
            else:
                row[label] = f"{item.rho:+.2f} [{item.ci_low:+.2f}, {item.ci_high:+.2f}]"
        row["trials"] = format_value(int(group["n"].max()))
        rows.append(row)
    return pd.DataFrame(rows)


# --- heatmap -----------------------------------------------------------------------------


def heatmap_grid(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Median of `metric` per batch size (rows) × learning rate (columns, decades if sampled)."""
    if frame.empty or frame[metric].dropna().empty:
        return pd.DataFrame()
    batch = level_of(frame["batch_size"], is_continuous(frame["batch_size"]))
    rate = level_of(frame["learning_rate"], is_continuous(frame["learning_rate"]))
    data = pd.DataFrame({"batch_size": batch, "learning_rate": rate, metric: frame[metric]})
    grid = data.pivot_table(
        index="batch_size", columns="learning_rate", values=metric, aggfunc="median"
    )
    return grid.sort_index().sort_index(axis=1)


def heatmap_long(grid: pd.DataFrame, metric: str) -> pd.DataFrame:
    if grid.empty:
        return pd.DataFrame(columns=["batch_size", "learning_rate", f"median_{metric}"])
    stacked = grid.stack(future_stack=True).rename(f"median_{metric}").reset_index()
    return stacked
