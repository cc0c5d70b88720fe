"""Drawing: each function takes tables computed elsewhere and returns a PNG.

matplotlib's object API on its Agg canvas: no pyplot global state and no display, so reports
are drawn the same way on a headless server, in a thread, or in a test.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before anything touches a backend: reports never need a display

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from leantune.report._document import format_value
from leantune.report._frontier import CONSTRAINT_LABELS
from leantune.report._rq1 import HYPERPARAMETER_LABELS, RQ1_METRICS
from leantune.trials import DIVERGED, FAILED, FEASIBLE, INFEASIBLE, PROGRESS_PCT, STEPS_PLANNED

DPI = 90
MODEL_COLOURS = {"linear": "#1f77b4", "logistic": "#1f77b4", "svm": "#d62728"}
STATUS_COLOURS = {
    FEASIBLE: "#2a9d3f",
    INFEASIBLE: "#e08a00",
    DIVERGED: "#c0392b",
    FAILED: "#7f7f7f",
    "unknown": "#7f7f7f",
}
# Stop reasons get these, in order of first appearance.
STOP_COLOURS = ("#7b4fc9", "#1f77b4", "#e377c2", "#17becf", "#8c564b", "#bcbd22", "#ff7f0e")


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _log_axis(ax, axis: str, values: Sequence[float], base: int) -> None:
    positive = [v for v in values if v is not None and math.isfinite(v)]
    if positive and min(positive) > 0:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=base)


def _spans(values: Sequence[float], ratio: float = 20.0) -> bool:
    finite = [v for v in values if math.isfinite(v) and v > 0]
    return bool(finite) and max(finite) / min(finite) >= ratio


def category_colours(categories: Sequence[str]) -> dict[str, str]:
    colours, stops = {}, 0
    for name in categories:
        base = name.split(":")[0]
        if base in STATUS_COLOURS and ":" not in name:
            colours[name] = STATUS_COLOURS[base]
        elif base == INFEASIBLE:
            colours[name] = STATUS_COLOURS[INFEASIBLE]
        else:
            colours[name] = STOP_COLOURS[stops % len(STOP_COLOURS)]
            stops += 1
    return colours


def main_effects(levels: pd.DataFrame, frame: pd.DataFrame, hyperparameter: str) -> bytes:
    """Median and interquartile range of each system metric per level, one line per model."""
    figure = Figure(figsize=(16, 3.2))
    axes = figure.subplots(1, len(RQ1_METRICS))
    label = HYPERPARAMETER_LABELS[hyperparameter]
    models = sorted(frame["model"].dropna().unique()) if "model" in frame else []
    from leantune.report._rq1 import is_continuous, level_of

    continuous = is_continuous(frame[hyperparameter]) if hyperparameter in frame else False
    for ax, metric in zip(axes, RQ1_METRICS, strict=True):
        drawn = []
        for offset, model in enumerate(models or [None]):
            chosen = frame if model is None else frame[frame["model"] == model]
            level = level_of(chosen[hyperparameter], continuous)
            stats = (
                pd.DataFrame({"level": level, "value": chosen[metric.name]})
                .dropna()
                .groupby("level")["value"]
                .quantile([0.25, 0.5, 0.75])
                .unstack()
            )
            if stats.empty:
                continue
            x = stats.index.to_numpy(float)
            # Nudge models apart a little so their bars do not hide each other.
            x = x * (1.0 + 0.04 * (offset - (len(models) - 1) / 2)) if len(models) > 1 else x
            ax.errorbar(
                x,
                stats[0.5],
                yerr=[stats[0.5] - stats[0.25], stats[0.75] - stats[0.5]],
                marker="o",
                markersize=4,
                capsize=2,
                linewidth=1.3,
                color=MODEL_COLOURS.get(str(model), "#444"),
                label=str(model) if model else None,
            )
            drawn += list(stats[0.5])
        if not drawn:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        base = 2 if hyperparameter == "batch_size" else 10
        _log_axis(ax, "x", list(levels["level"]) if len(levels) else [], base)
        if metric.log_scale and _spans(drawn, 10):
            ax.set_yscale("log")
            ax.yaxis.set_minor_formatter(NullFormatter())  # 2×10², 3×10², ... is clutter
        _at_least_span(ax, MIN_SPANS.get(metric.name))
        ax.set_xlabel(label + (" (decade)" if continuous else ""))
        ax.set_title(metric.label, fontsize=10)
        ax.grid(alpha=0.3)
    if len(models) > 1:
        axes[0].legend(fontsize=8)
    # A fixed layout: tight_layout would draw the 5 panels once more just to measure them.
    figure.subplots_adjust(left=0.04, right=0.99, bottom=0.17, top=0.9, wspace=0.32)
    return _png(figure)


# The least a linear y axis spans for these metrics: a fraction of a MB of private memory or
# a few CPU points between levels is measurement noise, and an axis fitted to it would draw
# it as a strong effect.
MIN_SPANS = {"peak_memory_mb": 10.0, "cpu_percent": 10.0}


def _at_least_span(ax: Any, span: float | None) -> None:
    """Widen a linear y axis to `span` around what it shows (never below zero)."""
    if not span or ax.get_yscale() != "linear":
        return
    low, high = ax.get_ylim()
    if high - low >= span:
        return
    bottom = max(0.0, (low + high) / 2 - span / 2) if low >= 0 else (low + high) / 2 - span / 2
    ax.set_ylim(bottom, bottom + span)


def heatmaps(grids: Mapping[str, pd.DataFrame]) -> bytes:
    """Batch size × learning rate, one panel a metric, median per cell, log colour scale."""
    figure = Figure(figsize=(6.2 * len(grids), 0.32 * _rows(grids) + 2.2))
    axes = np.atleast_1d(figure.subplots(1, len(grids)))
    for ax, (metric, grid) in zip(axes, grids.items(), strict=True):
        label = dict((m.name, m.label) for m in RQ1_METRICS)[metric]
        ax.set_title(f"median {label}", fontsize=10)
        if grid.empty:
            ax.text(0.5, 0.5, "no trial ran to its end", ha="center", va="center")
            ax.set_axis_off()
            continue
        values = grid.to_numpy(float)
        finite = values[np.isfinite(values) & (values > 0)]
        norm = (
            LogNorm(finite.min(), finite.max())
            if finite.size and finite.max() > finite.min()
            else None
        )
        image = ax.imshow(
            np.ma.masked_invalid(values), aspect="auto", cmap="viridis", norm=norm, origin="lower"
        )
        ax.set_xticks(range(grid.shape[1]), [f"{v:g}" for v in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [f"{int(v):,}" for v in grid.index])
        ax.set_xlabel("learning rate")
        ax.set_ylabel("batch size")
        if grid.size <= 160:
            threshold = math.sqrt(finite.min() * finite.max()) if finite.size else 0
            for (i, j), value in np.ndenumerate(values):
                if math.isfinite(value):
                    ax.text(
                        j,
                        i,
                        format_value(float(value)),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if value < threshold else "black",
                    )
        figure.colorbar(image, ax=ax, shrink=0.9)
    figure.tight_layout()
    return _png(figure)


def _rows(grids: Mapping[str, pd.DataFrame]) -> int:
    return max([len(g) for g in grids.values()] + [4])


def pareto(
    frame: pd.DataFrame,
    metrics: Sequence[str],
    constraints: Mapping[str, float],
    quality_label: str,
    higher_is_better: bool,
) -> bytes:
    """Validation quality against each trade-off metric: infeasible region shaded, the front of
    feasible trials as a step line, the chosen config as a star."""
    figure = Figure(figsize=(5.2 * max(2, len(metrics)), 4.4))
    axes = np.atleast_1d(figure.subplots(1, len(metrics)))
    colours = category_colours(sorted(frame["category"].unique()) if len(frame) else [])
    legend: dict[str, Any] = {}
    for ax, metric in zip(axes, metrics, strict=True):
        data = frame.dropna(subset=[metric, "quality"]) if len(frame) else frame
        blown = data[data["off_scale"].astype(bool)] if "off_scale" in data else data.iloc[:0]
        data = data.drop(blown.index)
        for name, group in data.groupby("category") if len(data) else []:
            finished = group[group["quality_kind"] == "CV mean"]
            partial = group[group["quality_kind"] != "CV mean"]
            if len(finished):
                legend[name] = ax.scatter(
                    finished[metric], finished["quality"], s=18, color=colours[name], alpha=0.8
                )
            if len(partial):
                handle = ax.scatter(
                    partial[metric],
                    partial["quality"],
                    s=18,
                    facecolors="none",
                    edgecolors=colours[name],
                    alpha=0.8,
                )
                legend.setdefault(name, handle)
        front_flags = data.get(f"front_{metric}", pd.Series(False, index=data.index))
        front = data[front_flags.astype(bool)] if len(data) else data
        if len(front):
            front = front.sort_values(metric)
            (legend["Pareto front of feasible trials"],) = ax.step(
                front[metric], front["quality"], where="post", color="#222", linewidth=1.2
            )
        chosen = data[data["chosen"].astype(bool)] if len(data) else data
        if len(chosen):
            legend["chosen config"] = ax.scatter(
                chosen[metric],
                chosen["quality"],
                marker="*",
                s=240,
                color="gold",
                edgecolors="black",
                zorder=5,
            )
        shown = [*(data[metric] if len(data) else []), *blown[metric]]
        values = [v for v in shown if math.isfinite(v)]
        limit = constraints.get(metric)
        high = max(values) if values else (limit or 1.0)
        # A limit far beyond every trial would squash the data against the left edge: name it
        # instead of drawing it.
        far = limit is not None and values and limit > 10 * high
        span = values + ([limit] if limit is not None and not far else [])
        use_log = _spans(span, 30)
        if use_log:
            ax.set_xscale("log")
            low = min(v for v in span if v > 0)
            ax.set_xlim(low / 1.5, max(span) * 2)
        else:
            ax.set_xlim(min([0.0, *span]), (max(span) if span else 1.0) * 1.15 or 1.0)
        if limit is not None and not far:
            ax.axvline(limit, color="#c0392b", linestyle="--", linewidth=1)
            legend["over the limit (infeasible)"] = ax.axvspan(
                limit, ax.get_xlim()[1], color="#c0392b", alpha=0.10
            )
        _label_better_unfinished(ax, data, chosen, metric, higher_is_better)
        if len(blown):
            legend[_OFF_SCALE] = _at_top_edge(ax, blown[metric], blown["category"], colours)
        # A far limit is named in the axis label: inside the plot it would cover points.
        ax.set_xlabel(
            CONSTRAINT_LABELS.get(metric, metric)
            + ", highest value reached"
            + (f"\n(limit {limit:g}: far right of every trial)" if far else "")
        )
        ax.set_ylabel(
            f"validation {quality_label} ({'higher' if higher_is_better else 'lower'} is better)"
        )
        ax.grid(alpha=0.3)
        if data.empty:
            ax.text(0.5, 0.5, "no trial reported", ha="center", va="center", transform=ax.transAxes)
    for extra in axes[len(metrics) :]:
        extra.set_axis_off()
    if legend:
        legend["hollow: did not finish (score at its last report)"] = Line2D(
            [], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor="#555"
        )
        figure.legend(
            list(legend.values()),
            list(legend),
            loc="lower center",
            ncol=min(4, len(legend)),
            fontsize=8,
            frameon=False,
        )
        figure.tight_layout(rect=(0, 0.06 + 0.045 * math.ceil(len(legend) / 4), 1, 1))
    else:
        figure.tight_layout()
    return _png(figure)


_OFF_SCALE = "diverged or blown up: off the scale, at the top edge"
# At most this many unfinished trials are named on one plot; the table has them all.
_LABELLED = 6


def _label_better_unfinished(
    ax: Any, data: pd.DataFrame, chosen: pd.DataFrame, metric: str, higher_is_better: bool
) -> None:
    """Name the trials that did not finish yet score better than the pick: without a word a
    reader takes them for better configs, but their score is a partial one and they broke a
    limit (or were cut) on the way."""
    if chosen.empty or data.empty:
        return
    pick = float(chosen["quality"].iloc[0])
    partial = data[data["quality_kind"] != "CV mean"]
    better = (
        partial[partial["quality"] > pick]
        if higher_is_better
        else partial[partial["quality"] < pick]
    )
    to_axes = ax.transAxes.inverted()
    for _, row in better.head(_LABELLED).iterrows():
        # Labels point inwards, so none runs off the plot's right edge.
        where = ax.transData.transform((row[metric], row["quality"]))
        right = to_axes.transform(where)[0] > 0.5
        ax.annotate(
            f"{row['category']} (not finished)",
            (row[metric], row["quality"]),
            xytext=(-5 if right else 5, -9),
            textcoords="offset points",
            ha="right" if right else "left",
            fontsize=7,
            color="#555",
        )


def _at_top_edge(ax: Any, x: pd.Series, categories: pd.Series, colours: dict[str, str]) -> Any:
    """Trials whose score is off the scale, drawn as triangles on the top edge at their x."""
    ax.autoscale_view()
    ax.set_ylim(*ax.get_ylim())  # fixed first: points drawn at the edge must not move it
    top = ax.get_ylim()[1]
    return ax.scatter(
        x,
        [top] * len(x),
        marker="^",
        s=36,
        color=[colours.get(c, "#777") for c in categories],
        clip_on=False,
        zorder=4,
    )


# Each model's loss is its own: hinge (svm), log loss (logistic), squared error (linear).
_LOSS_NAMES = {"svm": "hinge", "logistic": "log loss", "linear": "squared error"}


def learning_curves(
    frame: pd.DataFrame,
    score_metric: str,
    score_label: str,
    counts: Mapping[str, int] | None = None,
) -> bytes:
    """Validation loss and score over each trial's progress, coloured by how it ended. With
    several models, each model's loss gets its own panel: their losses are not comparable.
    `counts`: the trials of each ending for the legend, where `frame` holds a sample of them."""
    models = sorted(frame["model"].dropna().unique()) if "model" in frame and len(frame) else []
    loss_panels = (
        [
            (
                frame[frame["model"] == m],
                "val_loss",
                f"validation {_LOSS_NAMES.get(m, 'loss')}, {m}",
            )
            for m in models
        ]
        if len(models) > 1
        else [(frame, "val_loss", "validation loss")]
    )
    panels = [*loss_panels, (frame, score_metric, f"validation {score_label}")]
    figure = Figure(figsize=(max(15.0, 5.6 * len(panels)), 4.2))
    axes = np.atleast_1d(figure.subplots(1, len(panels)))
    categories = sorted(frame["category"].unique()) if len(frame) else []
    colours = category_colours(categories)
    if counts is None:
        counts = frame.groupby("category")["trial_id"].nunique() if len(frame) else {}
    alpha = 0.8 if frame["trial_id"].nunique() < 30 else 0.35 if len(frame) else 0.8
    for ax, (rows, column, label) in zip(axes, panels, strict=True):
        _curve_panel(ax, rows, column, colours, alpha)
        ax.set_xlabel("progress (% of the planned steps of each trial), folds one after another")
        ax.set_ylabel(label)
        ax.set_xlim(-2, 102)  # room for the points at 0 and 100 %
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=colours[c], linewidth=2) for c in categories]
    labels = [f"{c} ({counts[c]})" for c in categories]
    if handles:
        axes[-1].legend(handles, labels, fontsize=8, loc="best")
    figure.tight_layout()
    return _png(figure)


def _curve_panel(
    ax: Any, frame: pd.DataFrame, column: str, colours: dict[str, str], alpha: float
) -> None:
    if column not in frame or frame[column].dropna().empty:
        ax.text(0.5, 0.5, "not reported", ha="center", va="center", transform=ax.transAxes)
        return
    for _, rows in frame.groupby("trial_id", sort=False):
        name = rows["category"].iloc[0]
        x, y = _broken_at_folds(rows, column)
        ax.plot(x, y, color=colours[name], linewidth=0.9, alpha=alpha, marker="o", markersize=2.5)
    # The scale is the trials' that did not blow up: a diverged curve runs off the top.
    blown = frame["off_scale"].astype(bool) if "off_scale" in frame else frame[column].isna()
    kept = frame.loc[~blown, column].dropna()
    if column == "val_loss" and "val_loss_start" in frame:  # where each loss curve starts
        kept = pd.concat([kept, frame.loc[~blown, "val_loss_start"].dropna()])
    kept = kept[np.isfinite(kept.astype(float))]
    log = column == "val_loss" and _spans(list(kept), 30)
    if log:
        ax.set_yscale("log")
    if len(kept):
        low, high = float(kept.min()), float(kept.max())
        if log:
            ax.set_ylim(low / 1.5, high * 1.5)
        else:
            pad = 0.06 * (high - low) or 0.05 * abs(high) or 1.0
            ax.set_ylim(low - pad, high + pad)
    off = frame.loc[blown, "trial_id"].nunique()
    if off and len(kept):
        ax.text(
            0.99,
            0.98,
            f"{off} diverged or blown-up trial{'s' if off > 1 else ''} off the top",
            ha="right",
            va="top",
            fontsize=8,
            color="#c0392b",
            transform=ax.transAxes,
        )


def _broken_at_folds(rows: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """x and y with a gap between folds: each fold trains a fresh model, so a line joining the
    end of one fold to the start of the next would draw a jump no model made. A loss curve
    starts each fold at the untrained model's loss, where the reports say it (so a fold that
    reported once, at its end, is a line, not a lone dot)."""
    x = rows[PROGRESS_PCT].to_numpy(float)
    y = rows[column].to_numpy(float)
    if "fold" not in rows or not len(rows):
        return x, y
    folds = rows["fold"].to_numpy()
    firsts = np.flatnonzero(np.r_[True, folds[1:] != folds[:-1]])
    starts = _fold_starts(rows, column, firsts)
    xs, ys = [], []
    for first, end, start in zip(firsts, [*firsts[1:], len(rows)], starts, strict=True):
        if start is not None:
            xs.append([start[0]])
            ys.append([start[1]])
        xs += [x[first:end], [np.nan]]
        ys += [y[first:end], [np.nan]]
    return np.concatenate(xs)[:-1], np.concatenate(ys)[:-1]


def _fold_starts(
    rows: pd.DataFrame, column: str, firsts: np.ndarray
) -> list[tuple[float, float] | None]:
    """(progress, loss) where each fold began, for a loss curve whose reports name them."""
    needed = {"fold_step", "step", STEPS_PLANNED, "val_loss_start"}
    if column != "val_loss" or not needed <= set(rows):
        return [None] * len(firsts)
    starts: list[tuple[float, float] | None] = []
    for first in firsts:
        row = rows.iloc[first]
        at = 100.0 * (row["step"] - row["fold_step"]) / row[STEPS_PLANNED]
        loss = row["val_loss_start"]
        fine = all(isinstance(v, int | float) and math.isfinite(v) for v in (at, loss))
        starts.append((float(at), float(loss)) if fine and row["fold_step"] > 0 else None)
    return starts


def arm_costs(arms: pd.DataFrame) -> bytes:
    """CPU-seconds and wall-seconds of each arm of a comparison."""
    figure = Figure(figsize=(10, 2.8))
    axes = figure.subplots(1, 2)
    colours = ["#2a9d3f", "#7f7f7f"]
    for ax, column, label in (
        (axes[0], "trial_cpu_s", "CPU-seconds spent in trials"),
        (axes[1], "study_wall_s", "study wall time (s)"),
    ):
        values = arms[column].to_numpy(float)
        bars = ax.barh(arms["arm"], values, color=colours[: len(values)])
        for bar, value in zip(bars, values, strict=True):
            ax.text(
                bar.get_width(),
                bar.get_y() + bar.get_height() / 2,
                f" {format_value(value)}",
                va="center",
                fontsize=9,
            )
        ax.set_xlabel(label)
        ax.set_xlim(0, (np.nanmax(values) if np.isfinite(values).any() else 1) * 1.25)
        ax.invert_yaxis()
        ax.grid(alpha=0.3, axis="x")
    figure.tight_layout()
    return _png(figure)


def estimate_scatter(check: pd.DataFrame) -> bytes:
    """The ledger's estimate of each cut trial's unfinished cost against the actual cost."""
    figure = Figure(figsize=(6, 4.6))
    ax = figure.subplots()
    data = check[check["matched"]] if len(check) else check
    colours = (
        category_colours([f"stopped: {r}" for r in sorted(data["stop_label"].unique())])
        if len(data)
        else {}
    )
    for rule, group in data.groupby("stop_label") if len(data) else []:
        ax.scatter(
            group["remaining_cpu_s_actual"],
            group["remaining_cpu_s_estimate"],
            s=22,
            color=colours[f"stopped: {rule}"],
            label=f"{rule} ({len(group)})",
            alpha=0.8,
        )
    values = (
        list(data["remaining_cpu_s_actual"]) + list(data["remaining_cpu_s_estimate"])
        if len(data)
        else []
    )
    positive = [v for v in values if math.isfinite(v) and v > 0]
    if positive:
        low, high = min(positive) / 1.5, max(positive) * 1.5
        ax.plot(
            [low, high],
            [low, high],
            color="#444",
            linestyle="--",
            linewidth=1,
            label="estimate = actual",
        )
        if high / low > 20:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    else:
        ax.text(
            0.5, 0.5, "no stopped trial to check", ha="center", va="center", transform=ax.transAxes
        )
    ax.set_xlabel("actual: CPU-s the unstopped arm spent after that step")
    ax.set_ylabel("ledger estimate of the CPU-s left (s)")
    ax.grid(alpha=0.3)
    figure.tight_layout()
    return _png(figure)


def correlation_overview(table: pd.DataFrame) -> bytes:
    """Spearman's ρ with its interval, per dataset, for every hyperparameter × metric pair."""
    pairs = [(h, m.name) for h in HYPERPARAMETER_LABELS for m in RQ1_METRICS]
    datasets = list(dict.fromkeys(table["dataset"])) if len(table) else []
    figure = Figure(figsize=(14, 0.3 * len(pairs) + 1.5))
    ax = figure.subplots()
    height = 0.8 / max(1, len(datasets))
    palette = ("#1f77b4", "#d62728", "#2a9d3f", "#9467bd", "#ff7f0e", "#8c564b")
    for k, dataset in enumerate(datasets):
        rows = table[table["dataset"] == dataset].set_index(["hyperparameter", "metric"])
        for i, pair in enumerate(pairs):
            if pair not in rows.index:
                continue
            item = rows.loc[pair]
            y = i + (k - (len(datasets) - 1) / 2) * height
            if math.isfinite(item["rho"]):
                low = item["ci_low"] if math.isfinite(item["ci_low"]) else item["rho"]
                high = item["ci_high"] if math.isfinite(item["ci_high"]) else item["rho"]
                ax.errorbar(
                    item["rho"],
                    y,
                    xerr=[[item["rho"] - low], [high - item["rho"]]],
                    fmt="o",
                    color=palette[k % len(palette)],
                    markersize=4,
                    capsize=2,
                    label=dataset if i == 0 or pair == pairs[0] else None,
                )
    labels = {m.name: m.label for m in RQ1_METRICS}
    ax.set_yticks(
        range(len(pairs)),
        [f"{HYPERPARAMETER_LABELS[h]} ↔ {labels[m]}" for h, m in pairs],
        fontsize=8,
    )
    ax.axvline(0, color="#444", linewidth=0.8)
    ax.set_xlim(-1.05, 1.05)
    ax.invert_yaxis()
    ax.set_xlabel("Spearman's ρ (95 % bootstrap interval)")
    ax.grid(alpha=0.3, axis="x")
    handles = [
        Line2D([], [], marker="o", linestyle="", color=palette[k % len(palette)])
        for k in range(len(datasets))
    ]
    if handles:
        ax.legend(handles, datasets, fontsize=8, loc="lower right")
    figure.tight_layout()
    return _png(figure)


# --- RQ2 as a curve ------------------------------------------------------------------------

CURVE_STYLES = {
    "train_time_s": ("#1f77b4", "training-time limit, constraint rule (replayed)"),
    "step_time_ms": ("#2a9d3f", "step-time limit, constraint rule (replayed)"),
}
PALETTE = ("#1f77b4", "#d62728", "#2a9d3f", "#9467bd", "#ff7f0e", "#8c564b")


def _by_level(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean, min and max of `column` over repeats, per level (x: the level's quantile)."""
    grouped = rows.groupby("level", sort=False)
    out = pd.DataFrame(
        {
            "x": grouped["quantile"].mean(),
            "mean": grouped[column].mean(),
            "low": grouped[column].min(),
            "high": grouped[column].max(),
        }
    )
    return out.sort_values("x")


def rq2_curve(curve: pd.DataFrame, measured: pd.DataFrame, score_label: str) -> bytes:
    """One set: CPU saved, wrong decisions and the pick's regret as the limit tightens (left:
    tight). Lines are replayed levels (mean over repeats, band: their range); points with bars
    are stopped arms run at a level with every rule of the study."""
    figure = Figure(figsize=(15, 3.6))
    saved, wrong, regret = figure.subplots(1, 3)
    for metric, (colour, label) in CURVE_STYLES.items():
        rows = curve[curve["metric"] == metric]
        if rows.empty:
            continue
        for ax, column, scale in (
            (saved, "cpu_share_saved", 100),
            (regret, "regret_cv", 1),
        ):
            line = _by_level(rows, column)
            ax.plot(line["x"] * 100, scale * line["mean"], "o-", color=colour, label=label)
            ax.fill_between(
                line["x"] * 100, scale * line["low"], scale * line["high"], color=colour, alpha=0.2
            )
        if metric == "train_time_s":
            oracle = _by_level(rows, "oracle_share_saved")
            saved.plot(
                oracle["x"] * 100,
                100 * oracle["mean"],
                "--",
                color="#555",
                label="oracle: skip every violating config",
            )
        for column, marker in (("false_stops", "o"), ("missed_violations", "x")):
            line = _by_level(rows, column)
            wrong.plot(
                line["x"] * 100,
                line["mean"],
                marker=marker,
                linestyle="-" if column == "false_stops" else ":",
                color=colour,
                label=f"{column.replace('_', ' ')}, {metric.split('_')[0]} limit (replayed)",
            )
    if not measured.empty:
        for ax, column, scale in (
            (saved, "cpu_share_saved", 100),
            (regret, "regret_cv", 1),
        ):
            points = _by_level(measured, column)
            ax.errorbar(
                points["x"] * 100,
                scale * points["mean"],
                yerr=[
                    scale * (points["mean"] - points["low"]),
                    scale * (points["high"] - points["mean"]),
                ],
                fmt="s",
                color="#d62728",
                capsize=3,
                label="stopped arm, every rule (measured)",
            )
        for column, marker in (("false_stops", "s"), ("missed_violations", "D")):
            points = _by_level(measured, column)
            wrong.plot(
                points["x"] * 100,
                points["mean"],
                marker,
                color="#d62728",
                label=f"{column.replace('_', ' ')}, stopped arm (measured)",
            )
    saved.set_ylabel("CPU-seconds saved (% of unstopped)")
    wrong.set_ylabel("trials (mean over repeats)")
    regret.set_ylabel(f"regret of the pick (CV {score_label})")
    for ax in (saved, wrong, regret):
        ax.set_xlabel("limit: % of configs that meet it")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    figure.tight_layout()
    return _png(figure)


def rq2_curve_overview(curve: pd.DataFrame, measured: pd.DataFrame) -> bytes:
    """Every set: CPU saved by the training-time limit's constraint rule as the limit tightens
    (replayed, band: range over repeats), and the stopped arms measured at their levels."""
    figure = Figure(figsize=(12, 3.8))
    train, step = figure.subplots(1, 2)
    datasets = list(dict.fromkeys(curve["dataset"])) if len(curve) else []
    for k, dataset in enumerate(datasets):
        colour = PALETTE[k % len(PALETTE)]
        for ax, metric in ((train, "train_time_s"), (step, "step_time_ms")):
            rows = curve[(curve["dataset"] == dataset) & (curve["metric"] == metric)]
            if rows.empty:
                continue
            line = _by_level(rows, "cpu_share_saved")
            ax.plot(line["x"] * 100, 100 * line["mean"], "o-", color=colour, label=dataset)
            ax.fill_between(
                line["x"] * 100, 100 * line["low"], 100 * line["high"], color=colour, alpha=0.2
            )
        points = measured[measured["dataset"] == dataset] if len(measured) else measured
        if len(points):
            agg = _by_level(points, "cpu_share_saved")
            train.errorbar(
                agg["x"] * 100,
                100 * agg["mean"],
                yerr=[100 * (agg["mean"] - agg["low"]), 100 * (agg["high"] - agg["mean"])],
                fmt="s",
                color=colour,
                capsize=3,
                mfc="white",
                label=f"{dataset}: stopped arm (measured)",
            )
    train.set_title("training-time limit", fontsize=9)
    step.set_title("step-time limit (replayed only)", fontsize=9)
    for ax in (train, step):
        ax.set_xlabel("limit: % of configs that meet it")
        ax.set_ylabel("CPU-seconds saved (% of unstopped)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    figure.tight_layout()
    return _png(figure)


# --- RQ1: batch size under each backend ------------------------------------------------------

BACKEND_COLOURS = {"sklearn": "#e08a00", "minibatch": "#1f77b4"}
BACKEND_ROLES = {"sklearn": "overhead axis", "minibatch": "learning axis"}


def batch_by_backend(summary: pd.DataFrame, score_label: str) -> bytes:
    """One set, side by side per backend: step time, time per row and CV score by batch size
    (lines: mean over repeats of the median over configs, or of the best; bands: range over
    repeats). Log-log for the costs."""
    figure = Figure(figsize=(15, 3.8))
    step, row, score = figure.subplots(1, 3)
    backends = list(dict.fromkeys(summary["backend"])) if len(summary) else []
    for k, backend in enumerate(backends):
        rows = summary[summary["backend"] == backend].sort_values("batch_size")
        colour = BACKEND_COLOURS.get(backend, PALETTE[k % len(PALETTE)])
        name = f"{backend} ({BACKEND_ROLES.get(backend, backend)})"
        # A fixed step count reads steps × batch rows: there the score follows rows read.
        read = " (rows read grow with batch)" if rows["arm"].iloc[0].startswith("overhead") else ""
        panels = (
            (step, "step_time_ms", "o-", name),
            (row, "time_per_row_us", "o-", name),
            (score, "score_best", "o-", f"{backend}: best config{read}"),
            (score, "score_median", "x--", f"{backend}: median config{read}"),
        )
        for ax, column, style, label in panels:
            ax.plot(rows["batch_size"], rows[column], style, color=colour, label=label)
            ax.fill_between(
                rows["batch_size"],
                rows[f"{column}_low"],
                rows[f"{column}_high"],
                color=colour,
                alpha=0.15,
            )
    step.set_ylabel("step time (CPU ms, median config)")
    row.set_ylabel("time per row (CPU µs, median config)")
    score.set_ylabel(f"CV {score_label}")
    for ax in (step, row, score):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax, column in ((step, "step_time_ms"), (row, "time_per_row_us")):
        _log_axis(ax, "y", summary[column].tolist() if len(summary) else [], 10)
    step.set_title("what a step costs", fontsize=9)
    row.set_title("what a row costs", fontsize=9)
    score.set_title("what the configs learned", fontsize=9)
    figure.tight_layout()
    return _png(figure)
