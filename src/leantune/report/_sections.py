"""The report's sections: each turns stored results into blocks (tables first, then figures).

A section takes a `prefix` so the same section can appear several times in one document (the
thesis chapter has one per dataset) with unique table and figure ids.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from leantune.metrics import CLOCK_WORDS, NEAR_LIMIT_SHARE, TIMED_METRICS
from leantune.report import _plots as plots
from leantune.report._document import Block, Figure, Heading, Paragraph, Table, format_value
from leantune.report._frontier import (
    CONSTRAINT_LABELS,
    category,
    curves_frame,
    off_scale,
    pareto_frame,
    trade_off_metrics,
)
from leantune.report._rq1 import (
    HYPERPARAMETER_LABELS,
    METRIC_LABELS,
    RAN_TO_THE_END,
    heatmap_grid,
    heatmap_long,
    level_table,
    level_table_shown,
    spearman_shown,
    spearman_table,
    system_frame,
)
from leantune.report._rq2 import (
    arms_table,
    decision_quality,
    estimate_by_rule,
    estimate_check,
    ledger_by_rule,
    ledger_totals,
    regret,
    savings,
)
from leantune.report._run import HYPERPARAMETERS, RunResults
from leantune.results import MODEL_DIR, BestSummary, Summary
from leantune.trials import (
    CV_SCORE_MEAN,
    DIVERGED,
    FAILED,
    INFEASIBLE,
    SKIPPED,
    STEPS_DONE,
    STEPS_PLANNED,
    STOPPED,
)

BATCH_SIZE_FACT = (
    "**How to read batch size.** scikit-learn's `partial_fit` updates the weights once per "
    "*sample*, so the batch size changes call overhead and step time, not what these models "
    "learn: given the same rows in the same order, every batch size ends with the same "
    "coefficients (leantune's tests check this to 1e-10). With a fixed number of epochs, "
    "leantune feeds every batch size the same seeded row order, so differences between batch "
    "sizes below are differences in cost, not in the model."
)

MINIBATCH_BATCH_SIZE_FACT = (
    "**How to read batch size.** This run trained with the `minibatch` backend: true mini-batch "
    "SGD, one update per batch with the gradient averaged over its rows. Here batch size "
    "changes what the model learns (fewer, smoother updates per epoch) as well as what a step "
    "costs, so differences between batch sizes below mix learning and cost."
)


def batch_size_fact(backends: set[str] | str) -> str:
    """How to read batch size under the backend(s) a run or a chapter used."""
    backends = {backends} if isinstance(backends, str) else set(backends)
    facts = [MINIBATCH_BATCH_SIZE_FACT] if "minibatch" in backends else []
    if not backends or backends - {"minibatch"}:
        facts.insert(0, BATCH_SIZE_FACT)
    return "\n\n".join(facts)


def chapter_caveats(synthetic: list[str], sampled: list[str], shared: str) -> list[Block]:
    """A chapter's warnings before any number: the sets that ran on synthetic stand-ins, and
    the subsampled ones (`sampled`: "name: how"); `shared` says how a chapter's arms share a
    sample."""
    blocks: list[Block] = []
    if synthetic:
        blocks.append(
            Paragraph(
                f"SYNTHETIC DATA: {', '.join(synthetic)} ran on seeded synthetic stand-ins "
                "(--synthetic-missing), not on the real sets. Their system figures show how the "
                "grid behaves at that shape; their scores say nothing about the real data.",
                kind="warning",
            )
        )
    if sampled:
        blocks.append(
            Paragraph(
                f"Subsampled: {'; '.join(sampled)}. {shared}; every time, throughput, memory "
                "and score of these sets describes the sample, not the whole set.",
                kind="warning",
            )
        )
    return blocks


SHOWN_ROWS = 40


def _id(prefix: str, name: str) -> str:
    return f"{prefix}-{name}" if prefix else name


def caveats(run: RunResults, *, who: str = "this run") -> list[Block]:
    """What a reader must know before any number: synthetic data, subsample, interruption."""
    blocks: list[Block] = []
    dataset = run.dataset
    if run.synthetic:
        like = dataset.get("synthetic_like")
        blocks.append(
            Paragraph(
                f"SYNTHETIC DATA: {who} trained on a seeded synthetic stand-in"
                f"{f' for {like}' if like else ''} (seed {dataset.get('seed', '?')}, "
                f"{dataset.get('generator', 'generated')}), not on the real set. Its system "
                "figures show how the grid behaves at that shape; its scores say nothing about "
                "the real data.",
                kind="warning",
            )
        )
    sample = run.subsample
    if sample:
        blocks.append(
            Paragraph(
                f"Subsample: {who} used a seeded subsample of {sample['rows']:,} of "
                f"{sample['of_rows']:,} rows (seed {sample['seed']}"
                f"{', stratified by class' if sample.get('stratified') else ''}), drawn before "
                "the split. Every time, throughput, memory and score below describes the sample.",
                kind="warning",
            )
        )
    if run.interrupted:
        blocks.append(
            Paragraph(
                f"{who.capitalize()} was interrupted: only the trials that ended are here, and no "
                "config was picked.",
                kind="warning",
            )
        )
    return blocks


def _timing_caveat(run: RunResults) -> str:
    """What the times and memory of RQ1 rest on, and what run order can still do to them."""
    order = run.summary.trial_order
    if run.clock == "cpu" and order != "grid":
        return (
            "Times are the training thread's CPU time, which another job on the machine does "
            "not add to, and memory is a fresh worker's baseline plus the trial's own rise. "
            f"Trials ran in a {order} order, so a drift over the run does not line up with "
            "any hyperparameter."
        )
    if run.clock == "cpu":
        return (
            "Times are the training thread's CPU time, which another job on the machine does "
            "not add to, and memory is a fresh worker's baseline plus the trial's own rise, "
            "which does not depend on what the reused worker ran before. Trials still run in "
            "grid order: a small effect of whichever hyperparameter changes slowest in that "
            "order (model, then learning rate) may be a drift over the run; read it with care "
            "(the thesis preset's shuffled-order repeats test it)."
        )
    return (
        "Timings are wall-clock: trials run in grid order, so a change in the machine's load "
        "during the run shows up as an effect of whichever hyperparameter changes slowest in "
        "that order (model, then learning rate); read small effects with care on a shared "
        "machine."
    )


def constraints_text(run: RunResults) -> str:
    """The limits, and the clock the time limits among them were judged on."""
    limits = ", ".join(f"{k} ≤ {v:g}" for k, v in run.constraints.items()) or "none"
    if set(run.constraints) & set(TIMED_METRICS):
        clock = CLOCK_WORDS.get(run.clock, CLOCK_WORDS["wall"])
        limits += f" (time limits judged on {clock})"
    quality = quality_constraints_text(run)
    if quality:
        limits = f"{limits}; {quality}" if run.constraints else quality
    return limits


def quality_constraints_text(run: RunResults) -> str:
    """`val_accuracy ≥ 0.8 (on each trial's final CV value)`, or "" when none is set."""
    bounds = [
        f"{metric} {'≥' if kind == 'min' else '≤'} {value:g}"
        for metric, bound in run.quality_constraints.items()
        for kind, value in bound.items()
    ]
    return f"{', '.join(bounds)} (on each trial's final CV value)" if bounds else ""


def objective_text(run: RunResults) -> str:
    """`minimize inference latency (ms/sample)`: what the pick optimized."""
    objective = run.objective
    verb = "minimize" if objective["mode"] == "min" else "maximize"
    return f"{verb} {CONSTRAINT_LABELS.get(objective['metric'], objective['metric'])}"


def overview(run: RunResults) -> Paragraph:
    summary = run.summary
    counts = summary.status_counts
    statuses = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no trials"
    constraints = constraints_text(run)
    stopping = "on" if run.stopping_enabled else "off (observe only: nothing stopped early)"
    return Paragraph(
        f"{run.dataset.get('name', '?')} ({run.task}, {format_value(run.dataset.get('rows'))} "
        f"rows × {format_value(run.dataset.get('features'))} features); models "
        f"{', '.join(summary.models) or '?'}; {len(run.trials)} trials by "
        f"{run.method} search, {summary.folds}-fold CV; objective: "
        f"{objective_text(run)}; constraints: {constraints}; "
        f"stopping {stopping}. Trials: {statuses}."
    )


# --- the chosen config -------------------------------------------------------------------


def chosen_config(run: RunResults, prefix: str = "") -> list[Block]:
    best = run.best
    if best is None:
        why = (
            "the run was interrupted before every trial ended"
            if run.interrupted
            else "no trial finished within every limit"
        )
        return [Paragraph(f"No config was chosen: {why}.", kind="note")]
    config = best.config
    metric = run.score_metric.removeprefix("val_")
    test = best.test
    rows = [
        ("model", config.get("model")),
        ("batch size", config.get("batch_size")),
        ("learning rate", config.get("learning_rate")),
        ("alpha", config.get("alpha")),
        (
            f"CV {metric} (mean ± sd over {run.summary.folds} folds)",
            f"{format_value(best.cv_score_mean)} ± {format_value(best.cv_score_std)}",
        ),
        *[
            (f"test {key.removeprefix('test_')} (held-out part)", value)
            for key, value in test.items()
            if not key.endswith("_start")  # the zero model's loss: a yardstick, not a score
        ],
        *(
            [(f"objective: {objective_text(run)} (trial's final value)", best.objective_value)]
            if not run.objective_is_score and best.objective_value is not None
            else []
        ),
        # One latency figure: the shipped model's (older runs: a separate per-1,000 timing).
        ("inference latency per sample, shipped model (ms)", best.inference_ms_per_sample),
        *(
            []
            if best.inference_measured
            else [("inference latency per batch of 1,000 (ms)", best.inference_ms_per_1000)]
        ),
        ("model size (bytes, pickled)", best.model_size_bytes),
    ]
    baseline = best.baseline.model_dump() if best.baseline else {}
    if baseline.get("value") is not None:
        rows.append((f"test {metric}, {baseline.get('how')} (baseline)", baseline["value"]))
    data = pd.DataFrame(rows, columns=["quantity", "value"])
    data["value"] = data["value"].astype(object)
    blocks: list[Block] = [
        Table(
            _id(prefix, "chosen_config"),
            "The chosen config: the candidate (a trial within every limit) with the best "
            + ("mean CV score" if run.objective_is_score else "value of the objective")
            + ", refit on the whole training part and scored on the held-out test part",
            data,
        )
    ]
    weak = _weak_model(test, baseline, run.higher_is_better)
    if weak:
        blocks.append(Paragraph(weak, kind="warning"))
    blocks += _pick_details(best, prefix, run.summary)
    headroom = limits_headroom(run)
    if len(headroom):
        blocks.append(
            Table(
                _id(prefix, "chosen_limits"),
                "The chosen config against every limit: the highest value its trial reached "
                "(what a limit is checked against) and the headroom left",
                headroom,
            )
        )
    blocks += _near_limit_blocks(run.summary, best.trial_id, prefix)
    return blocks


def _near_limit_blocks(summary: Summary, chosen: str, prefix: str) -> list[Block]:
    """The verdicts within NEAR_LIMIT_SHARE of a limit (summary.json near_limits): feasible
    or not by a margin a rerun, or other work on the machine, may cross."""
    near = summary.near_limits
    if not near:
        return []
    blocks: list[Block] = []
    if any(n.trial_id == chosen for n in near):
        blocks.append(
            Paragraph(
                f"The chosen config ended within {NEAR_LIMIT_SHARE:.0%} of a limit: on a busier "
                "machine, or in a rerun, it may break it. Leave it more headroom, or measure it "
                "again where it will run.",
                kind="warning",
            )
        )
    rows = [
        (
            n.trial_id,
            ", ".join(f"{k}={v}" for k, v in n.config.items()),
            n.status,
            CONSTRAINT_LABELS.get(n.metric, n.metric),
            n.value,
            n.limit,
            n.margin_pct,
        )
        for n in near[:_NEAR_SHOWN]
    ]
    shown = f", the {_NEAR_SHOWN} nearest" if len(near) > _NEAR_SHOWN else ""
    blocks.append(
        Table(
            _id(prefix, "near_limits"),
            f"Verdicts near a limit ({len(near)}{shown}): trials judged on their complete record "
            f"within {NEAR_LIMIT_SHARE:.0%} of a limit, either side, where the machine's own "
            "noise may judge them the other way (on a 2-core VM, quiet reruns alone turned "
            "configs that had run 4-8% under a limit)",
            pd.DataFrame(
                rows,
                columns=["trial", "config", "status", "limit on", "value", "limit", "margin %"],
            ).astype(object),
        )
    )
    return blocks


# At most this many near-limit verdicts in the report's table (summary.json holds them all).
_NEAR_SHOWN = 20


def _pick_details(best: BestSummary, prefix: str, summary: Summary) -> list[Block]:
    """How the pick was made, where the summary says: what it was judged on, how a tie in
    score was broken (`best.tie`), the shipped model against every deployment limit
    (`best.shipped`), and the configs whose shipped model broke one (`shipped_rejected`)."""
    blocks: list[Block] = []
    chosen_on = best.chosen_on
    if isinstance(chosen_on, str) and chosen_on.startswith("what it had reached"):
        blocks.append(
            Paragraph(
                f"Chosen on {chosen_on}: a quality rule ended it early, which breaks no limit, "
                "so it stayed a candidate.",
                kind="note",
            )
        )
    tie = best.tie
    if tie:
        blocks.append(Paragraph(_tie_text(tie), kind="note"))
    measured = best.inference_measured
    if measured:
        blocks.append(Paragraph(f"Inference latency of the shipped model: {measured}."))
    shipped = best.shipped
    if shipped:
        rows = [
            (
                str(metric),
                value.get("value") if isinstance(value, dict) else value,
                value.get("limit") if isinstance(value, dict) else None,
                ("yes" if value.get("met") else "no") if isinstance(value, dict) else "",
            )
            for metric, value in shipped.items()
        ]
        data = pd.DataFrame(rows, columns=["limit on", "shipped model", "limit", "met"])
        data["shipped model"] = data["shipped model"].astype(object)
        blocks.append(
            Table(
                _id(prefix, "shipped_checks"),
                "The model that ships (the refit), measured itself against every deployment "
                "limit: a refit can outgrow its trial's model",
                data,
            )
        )
    rejected = summary.shipped_rejected
    if isinstance(rejected, list) and rejected:
        said = "; ".join(
            f"{r.get('trial_id')} ({r.get('reason')})" for r in rejected if isinstance(r, dict)
        )
        blocks.append(
            Paragraph(
                f"Refit and refused before this one, their shipped model over a limit their "
                f"trial met: {said}.",
                kind="warning",
            )
        )
    return blocks


def _tie_text(tie: dict[str, Any]) -> str:
    tied = tie.get("tied_trials") or []
    costs = tie.get("tied_costs_s") or {}
    priciest = max((c for c in costs.values() if isinstance(c, int | float)), default=None)
    cost = tie.get("chosen_cost_s")
    than = (
        f" ({format_value(cost)} s against up to {format_value(priciest)} s)"
        if isinstance(cost, int | float) and priciest is not None
        else ""
    )
    return (
        f"A tie in score was broken: {len(tied)} other config(s) scored within "
        f"{format_value(tie.get('tolerance'))} (relative), float noise, of this one; it was "
        f"chosen as the cheapest by the median measured training time of its cost twins"
        f"{than}. Rule: {tie.get('rule', tie.get('broken_by', ''))}."
    )


def _weak_model(test: dict[str, Any], baseline: dict[str, Any], higher: bool) -> str | None:
    """A warning when the pick scores no better on the test part than learning nothing."""
    score, floor = test.get(baseline.get("metric", "")), baseline.get("value")
    if not isinstance(score, int | float) or not isinstance(floor, int | float):
        return None
    if (score > floor) if higher else (score < floor):
        return None
    name = str(baseline["metric"]).removeprefix("test_")
    return (
        f"Weak model: its test {name} ({format_value(score)}) is no better than "
        f"{baseline.get('how')} ({format_value(floor)}). Widen the search space or relax the "
        "limits before deploying it."
    )


def limits_headroom(run: RunResults) -> pd.DataFrame:
    """Each limit, the chosen trial's highest value over its reports, and what is left."""
    best, limits = run.best, run.constraints
    columns = ["limit on", "limit", "chosen config reached", "headroom", "headroom (% of limit)"]
    if best is None or not limits:
        return pd.DataFrame(columns=columns)
    reports = run.reports(list(limits))
    mine = reports[reports["trial_id"] == best.trial_id]
    rows = []
    for metric, limit in limits.items():
        reached = float(mine[metric].max()) if metric in mine and len(mine) else float("nan")
        left = limit - reached
        rows.append(
            (CONSTRAINT_LABELS.get(metric, metric), limit, reached, left, 100 * left / limit)
        )
    return pd.DataFrame(rows, columns=columns).astype(object)


# --- RQ1 ---------------------------------------------------------------------------------


def rq1(run: RunResults, prefix: str = "", *, level: int = 2, source: str = "") -> list[Block]:
    frame = system_frame(run)
    blocks: list[Block] = [
        Heading(
            "RQ1: how do hyperparameters change system performance?",
            level,
            anchor=_id(prefix, "rq1"),
        ),
        Paragraph(batch_size_fact(run.backend), kind="note"),
    ]
    ran = int(frame["status"].isin(RAN_TO_THE_END).sum()) if len(frame) else 0
    blocks.append(
        Paragraph(
            f"{source}{len(frame)} trials trained at least one step; {ran} ran every planned step. "
            "Step time, throughput, CPU and memory use every trial over the part it ran; total "
            "training time uses only trials that ran to their end (a stopped trial's time is "
            "not a total). Throughput is the rows one step trains on over the average step "
            "time. CPU is the trial's CPU-seconds over its training seconds. Memory is the "
            "peak private memory (RSS − shared) of the trial's worker. Cells show the median "
            "and, in brackets, the interquartile range over the trials at that level (all "
            "models and other hyperparameters pooled). " + _timing_caveat(run)
        )
    )
    invariance = batch_invariance(run)
    if invariance is not None:
        blocks.append(Paragraph(invariance))
    if frame.empty:
        blocks.append(Paragraph("No trial trained a step: nothing to analyse.", kind="note"))
        return blocks
    correlations = spearman_table(frame, seed=run.seed)
    blocks.append(
        Table(
            _id(prefix, "rq1_spearman"),
            "Spearman's rank correlation ρ of each hyperparameter with each system metric, over "
            f"trials, with a 95 % bootstrap interval ({correlations['bootstrap_samples'].iloc[0]} "
            f"resamples of the trials, seeded from training.seed = {run.seed})",
            correlations,
            spearman_shown(correlations),
        )
    )
    for hyperparameter in HYPERPARAMETERS:
        levels = level_table(frame, hyperparameter)
        label = HYPERPARAMETER_LABELS[hyperparameter]
        blocks.append(Heading(f"By {label}", level + 1))
        blocks.append(
            Table(
                _id(prefix, f"rq1_levels_{hyperparameter}"),
                f"System metrics per {label}: median [interquartile range]",
                levels,
                level_table_shown(levels, hyperparameter),
            )
        )
        if levels["level"].nunique() > 1:
            blocks.append(
                Figure(
                    _id(prefix, f"rq1_effect_{hyperparameter}"),
                    f"Main effect of {label}: median and interquartile range per level, one line "
                    f"per model{' (log axis)' if _positive(levels) else ''}",
                    plots.main_effects(levels, frame, hyperparameter),
                )
            )
        else:
            blocks.append(Paragraph(f"One {label} only: no effect to plot.", kind="note"))
    blocks.append(Heading("Batch size × learning rate", level + 1))
    grids = {m: heatmap_grid(frame, m) for m in ("step_time_ms", "train_time_s")}
    for metric, grid in grids.items():
        blocks.append(
            Table(
                _id(prefix, f"rq1_heatmap_{metric}"),
                f"Median {METRIC_LABELS[metric]} per batch size (rows) × learning rate (columns)",
                heatmap_long(grid, metric),
                _grid_shown(grid),
            )
        )
    blocks.append(
        Figure(
            _id(prefix, "rq1_heatmaps"),
            "Batch size × learning rate: median step time and median total training time "
            "(log colour scale; empty cells: no trial ran to its end there)",
            plots.heatmaps(grids),
        )
    )
    return blocks


def _positive(levels: pd.DataFrame) -> bool:
    return bool(len(levels)) and float(levels["level"].min()) > 0


def _grid_shown(grid: pd.DataFrame) -> pd.DataFrame:
    if grid.empty:
        return pd.DataFrame(columns=["batch size"])
    shown = grid.copy()
    shown.columns = [f"lr {c:g}" for c in shown.columns]
    shown.insert(0, "batch size", [f"{int(v):,}" for v in shown.index])
    return shown.reset_index(drop=True)


def batch_invariance(run: RunResults) -> str | None:
    """Measured: how far CV scores differ across batch sizes when all else is equal."""
    trials = run.trials
    if trials.empty or CV_SCORE_MEAN not in trials:
        return None
    finished = trials[trials["status"].isin(RAN_TO_THE_END) & trials[CV_SCORE_MEAN].notna()]
    # A blown-up trial (an RMSE of 1e12) would make the spread say nothing about the rest.
    blown = off_scale(finished["status"], finished[CV_SCORE_MEAN], run.higher_is_better)
    finished = finished[~blown]
    groups = finished.groupby(["model", "learning_rate", "alpha"])[CV_SCORE_MEAN]
    spans = groups.agg(lambda s: s.max() - s.min() if s.size > 1 else np.nan).dropna()
    if spans.empty:
        return None
    where = (
        "in the one group of finished trials that differ"
        if len(spans) == 1
        else f"across the {len(spans)} groups of finished trials that differ"
    )
    how = (
        "CV scores are identical"
        if spans.max() == 0
        else f"CV scores differ by at most {spans.max():.3g} ({run.score_label})"
    )
    skipped = f"; {int(blown.sum())} blown-up trials left out" if blown.any() else ""
    steps = (run.spec.get("training") or {}).get("max_steps")
    rows = (
        f" Each config trained {steps} steps a fold (training.max_steps), so a larger batch "
        "read more rows"
        + (
            ": under sklearn that, not the batch, is what moves the score."
            if run.backend == "sklearn"
            else "; the score moves with both."
        )
        if steps
        else ""
    )
    return f"Measured in this run: {where} only in batch size, {how}{skipped}.{rows}"


# --- RQ2 ---------------------------------------------------------------------------------


def rq2_single(run: RunResults, prefix: str = "", *, level: int = 2) -> list[Block]:
    blocks: list[Block] = [
        Heading(
            "RQ2: what does stopping on system criteria save?", level, anchor=_id(prefix, "rq2")
        ),
    ]
    if not run.stopping_enabled:
        broke = int((run.trials["status"] == INFEASIBLE).sum()) if len(run.trials) else 0
        blocks.append(
            Paragraph(
                f"Stopping was off in this run (observe only): {broke} trials broke a limit and "
                "ran on to their end, so nothing was saved. Run the study with "
                "`leantune run STUDY --compare-stopping` to measure what stopping saves.",
                kind="note",
            )
        )
    else:
        blocks.append(
            Paragraph(
                "From the budget ledger (ledger.json). Spent figures are measured; savings are "
                "the ledger's *estimates*: a stopped trial's remaining steps × its step time "
                "plus its share of evaluation. `leantune run STUDY --compare-stopping` measures "
                "them instead."
            )
        )
    blocks.append(Table(_id(prefix, "rq2_ledger"), "Budget ledger", ledger_totals(run)))
    by_rule = ledger_by_rule(run)
    if len(by_rule):
        blocks.append(
            Table(_id(prefix, "rq2_ledger_by_rule"), "Estimated savings per stopping rule", by_rule)
        )
    forecasts = run.summary.forecasts
    coverage = forecast_coverage_table(forecasts)
    if len(coverage):
        blocks.append(
            Paragraph(
                f"How often the cost model's forecasts held: each {forecasts['level']:.0%} "
                "interval it gives (before a config runs, and for a running trial's training "
                "time) against the final of each trial that ran every step, forecast from the "
                f"trials that started before it. An interval states its level once "
                f"{forecasts['calibrated_after']} finals have measured the model's own errors; "
                f"before that it is ±{forecasts['uncalibrated_spread']:.0%}."
            )
        )
        blocks.append(Table(_id(prefix, "rq2_forecasts"), "Forecast coverage", coverage))
    return blocks


def _calibrated_share(got: dict[str, Any]) -> str:
    held, made = got.get("calibrated_held"), got.get("calibrated_forecasts")
    if held is None or not made:  # a summary written before calibrated_held was counted
        return "–"
    return f"{held} of {made} ({held / made:.0%})"


def forecast_coverage_table(forecasts: dict[str, Any]) -> pd.DataFrame:
    """summary["forecasts"] as rows: metric, when forecast, finals inside, stated level."""
    rows = []
    for when, label in (("untried", "before it ran"), ("running", "while it ran")):
        for metric, got in (forecasts.get(when) or {}).items():
            if not got.get("forecasts"):
                continue
            stated = got.get("stated_level")
            rows.append(
                {
                    "metric": metric,
                    "forecast": label,
                    "finals inside": f"{got['held']} of {got['forecasts']} "
                    f"({got['held'] / got['forecasts']:.0%})",
                    "stated level": f"{stated:.0%} ({got['calibrated_forecasts']} forecasts)"
                    if stated
                    else "none yet",
                    # The check of the stated level: the forecasts that stated it, held.
                    "of those, inside": _calibrated_share(got) if stated else "–",
                }
            )
    return pd.DataFrame(rows)


def rq2_comparison(
    stopped: RunResults, unstopped: RunResults, prefix: str = "", *, level: int = 2
) -> list[Block]:
    arms = arms_table(stopped, unstopped)
    saved = savings(stopped, unstopped)
    loss = regret(stopped, unstopped)
    check = estimate_check(stopped, unstopped)
    by_rule = estimate_by_rule(check)
    blocks: list[Block] = [
        Heading(
            "RQ2: what does stopping on system criteria save?", level, anchor=_id(prefix, "rq2")
        ),
        Paragraph(
            "The same study ran twice on the same seeds, data and grid: once with its stopping "
            "policies, once with stopping off (every trial ran to its end; one that broke a "
            "limit ended `infeasible`). Both arms pick only among feasible trials. CPU-seconds "
            "are the trials' worker CPU time (measured); wall-seconds are the study's own wall "
            "time. Timing varies between runs, so a trial near a limit may be feasible in one "
            "arm and not the other."
        ),
        Table(
            _id(prefix, "rq2_arms"), "The two arms: spend, outcome and the config each picked", arms
        ),
        Figure(
            _id(prefix, "rq2_arm_costs"),
            "CPU-seconds and wall time of each arm",
            plots.arm_costs(arms),
        ),
    ]
    metric = loss["metric"]
    better = "higher" if unstopped.higher_is_better else "lower"
    rows = [
        ("CPU-seconds saved (measured)", saved["cpu_s_saved"]),
        ("share of the unstopped arm's CPU-seconds saved", _pct(saved["cpu_share_saved"])),
        ("wall-seconds saved (measured)", saved["wall_s_saved"]),
        ("share of the unstopped arm's wall time saved", _pct(saved["wall_share_saved"])),
        ("CPU-seconds saved, the ledger's estimate", saved["ledger_saved_cpu_s_estimate"]),
        ("both arms picked the same config", _same_pick(loss)),
        (f"regret, CV {metric} (absolute)", loss["cv_regret"]),
        (f"regret, CV {metric} (relative)", _pct(loss["cv_regret_relative"])),
        (f"regret, test {metric} (absolute)", loss["test_regret"]),
        (f"regret, test {metric} (relative)", _pct(loss["test_regret_relative"])),
    ]
    blocks.append(
        Table(
            _id(prefix, "rq2_savings"),
            "What stopping saved, and what it cost: regret is how much worse the stopped arm's "
            f"pick scores than the unstopped arm's ({better} {metric} is better; 0: no loss)",
            pd.DataFrame(rows, columns=["quantity", "value"]).astype({"value": object}),
        )
    )
    quality = decision_quality(stopped, unstopped)
    if len(quality):
        missed = quality.attrs.get("missed_violations", 0)
        blocks.append(
            Table(
                _id(prefix, "rq2_decisions"),
                "How right the stops were: each stop on a limit against the same config run "
                "with stopping off. Right: that run broke a limit. False: it finished within "
                f"every limit. Missed violations (finished here, broke a limit there): {missed}",
                quality,
            )
        )
    blocks.append(
        Table(
            _id(prefix, "rq2_by_rule"),
            "Per stopping rule: the ledger's estimated CPU-seconds saved beside what the "
            "unstopped arm actually spent on the same configs after the step where they were "
            "stopped (estimate / actual: 1 is exact)",
            by_rule,
        )
    )
    if len(check):
        matched = check[check["matched"]]
        blocks.append(
            Paragraph(
                f"{len(check)} trials were cut short in the stopped arm; {len(matched)} of them "
                "ran past that step in the unstopped arm and can be checked."
            )
        )
        blocks.append(
            Figure(
                _id(prefix, "rq2_estimates"),
                "How good were the ledger's estimates? Each point is a trial the stopped arm cut "
                "short: estimated CPU-seconds left against what the unstopped arm spent",
                plots.estimate_scatter(check),
            )
        )
        blocks.append(
            Table(
                _id(prefix, "rq2_estimate_check"),
                f"Per trial cut short: estimated and actual remaining cost (first {SHOWN_ROWS} "
                "shown; the CSV has all)",
                check,
                check.head(SHOWN_ROWS),
            )
        )
    else:
        blocks.append(Paragraph("No trial was cut short in the stopped arm.", kind="note"))
    return blocks


def _same_pick(loss: dict[str, Any]) -> str:
    if loss["same_config"]:
        return "yes"
    if loss["same_model"]:
        return (
            "the same model, learning rate and alpha at another batch size (the same weights: "
            "scores tie, and the trial that trained faster in that arm won the tie)"
        )
    return "no"


def _pct(value: float) -> str:
    # + 0.0 turns a negative zero (a regret of -0.0) into 0.
    return "–" if value is None or not math.isfinite(value) else f"{100 * value + 0.0:.1f} %"


# --- trade-offs and curves ---------------------------------------------------------------


def trade_offs(run: RunResults, prefix: str = "", *, level: int = 2, arm: str = "") -> list[Block]:
    """`arm`: which arm of a comparison the figures come from, said in the heading."""
    frame = pareto_frame(run)
    metrics = trade_off_metrics(run)
    limits = run.constraints
    intro = (
        "Validation quality against each constrained metric"
        if limits
        else "No constraint was set; validation quality against training time and memory"
    )
    if not run.objective_is_score:
        subject = (
            f", among those with {quality_constraints_text(run)}" if run.quality_constraints else ""
        )
        intro = (
            f"The objective is to {objective_text(run)}: the pick is the feasible trial with "
            f"the best final value{subject} (the first panel shows each trial's final value). "
            f"{intro}"
        )
    blocks: list[Block] = [
        Heading(f"Trade-offs: the Pareto front{arm}", level, anchor=_id(prefix, "pareto")),
        Paragraph(
            f"{intro}. Each point is a trial at the highest value it reached over its reports "
            "(what a limit is checked against). Filled points finished all folds and show their "
            "mean CV score; hollow ones did not and show the score at their last report. The "
            "shaded region is over the limit; the line is the front of feasible trials (none "
            "cheaper and better); the star is the chosen config."
        ),
    ]
    if frame.empty:
        blocks.append(Paragraph("No trial ended: nothing to plot.", kind="note"))
        return blocks
    front_columns = [f"front_{m}" for m in metrics]
    shown = frame[frame[front_columns].any(axis=1) | frame["chosen"]]
    blocks.append(
        Table(
            _id(prefix, "pareto"),
            "Trials on a Pareto front, and the chosen config (the CSV has every trial)",
            frame,
            shown[["model", *HYPERPARAMETERS, "status", "quality", *metrics, "chosen"]].rename(
                columns={
                    "quality": f"{run.score_label} (CV)",
                    **{m: CONSTRAINT_LABELS.get(m, m) for m in metrics},
                }
            ),
        )
    )
    blocks.append(
        Figure(
            _id(prefix, "pareto"),
            f"Validation {run.score_label} against "
            + ", ".join(CONSTRAINT_LABELS.get(m, m) for m in metrics),
            plots.pareto(frame, metrics, limits, run.score_label, run.higher_is_better),
        )
    )
    return blocks


# Curves the learning-curve figure draws at most: beyond a few hundred, lines only hide each
# other, and each costs the report ~2 ms (10,000 trials: 90 s).
MAX_CURVES = 400
# Trials of each ending drawn at least (all of them where there are fewer).
_FEWEST_DRAWN = 10


def sample_curves(frame: pd.DataFrame, limit: int) -> tuple[pd.DataFrame, dict[str, int] | None]:
    """The curves of at most about `limit` trials, sampled within each ending in proportion
    (seeded, so a rebuilt report draws the same), with the trial counts of every ending; the
    frame itself and None when it holds no more than `limit` trials."""
    per_trial = frame.drop_duplicates("trial_id")[["trial_id", "category"]]
    if len(per_trial) <= limit:
        return frame, None
    counts = per_trial["category"].value_counts()
    chosen = []
    for ending, trials in per_trial.groupby("category", sort=True):
        share = max(_FEWEST_DRAWN, round(limit * counts[ending] / len(per_trial)))
        chosen.append(trials["trial_id"].sample(min(share, len(trials)), random_state=0))
    drawn = frame[frame["trial_id"].isin(pd.concat(chosen))]
    return drawn, {str(ending): int(count) for ending, count in counts.items()}


def learning_curves(
    run: RunResults, prefix: str = "", *, level: int = 2, arm: str = ""
) -> list[Block]:
    frame = curves_frame(run)
    trials = run.trials
    blocks: list[Block] = [
        Heading(f"Learning curves{arm}", level, anchor=_id(prefix, "curves")),
    ]
    if trials.empty:
        blocks.append(Paragraph("No trial ended.", kind="note"))
        return blocks
    labels = trials.get("stop_label", pd.Series("", index=trials.index))
    endings = pd.Series(
        [category(s, lbl) for s, lbl in zip(trials["status"], labels, strict=True)]
    ).value_counts()
    endings_table = endings.rename_axis("how the trial ended").reset_index(name="trials")
    blocks.append(Table(_id(prefix, "endings"), "How the trials ended", endings_table))
    if frame.empty:
        blocks.append(Paragraph("No trial reported a validation score.", kind="note"))
    else:
        drawn, counts = sample_curves(frame, MAX_CURVES)
        which = "Every trial's"
        if counts is not None:
            which = (
                f"{drawn['trial_id'].nunique():,} of the {frame['trial_id'].nunique():,} trials' "
                f"(more than {MAX_CURVES:,} lines hide each other: a random sample within each "
                "ending, at least a few of each; the legend counts every trial)"
            )
        blocks.append(
            Figure(
                _id(prefix, "curves"),
                f"{which} validation loss and score over its progress, coloured by how it "
                "ended (stopped trials by the rule that stopped them). Each fold trains a fresh "
                "model from zero weights, so each curve has one segment a fold, and a loss "
                "segment starts at the untrained model's loss; a dot is a report (large batches "
                "report only at a fold's end: one dot a fold in the score panel).",
                plots.learning_curves(drawn, run.score_metric, run.score_label, counts),
            )
        )
    not_feasible = not_feasible_trials(trials)
    if len(not_feasible):
        more = f" (first {SHOWN_ROWS} shown)" if len(not_feasible) > SHOWN_ROWS else ""
        blocks.append(
            Table(
                _id(prefix, "stopped_trials"),
                f"Trials that did not finish feasible ({len(not_feasible)}), and why{more}",
                not_feasible,
                not_feasible.head(SHOWN_ROWS),
            )
        )
    return blocks


# How a trial can end other than feasible; skipped trials never ran, but are decisions too.
_NOT_FEASIBLE = (STOPPED, SKIPPED, INFEASIBLE, DIVERGED, FAILED)


def not_feasible_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """Every trial that did not finish feasible, with the reason in one column (the rule that
    stopped or skipped it, the limit it broke, or its error)."""
    if "status" not in trials:
        return pd.DataFrame()
    rows = trials[trials["status"].isin(_NOT_FEASIBLE)]
    reasons = [
        rows[c].astype("string") if c in rows else pd.Series(pd.NA, index=rows.index)
        for c in ("stop_reason", "error")
    ]
    why = reasons[0].fillna(reasons[1]).fillna("").astype(str)
    columns = [c for c in ["model", *HYPERPARAMETERS, "status"] if c in rows]
    data = rows[columns].assign(reason=why)
    steps = [c for c in (STEPS_DONE, STEPS_PLANNED) if c in rows]
    return pd.concat([data, rows[steps]], axis=1).reset_index(drop=True)


def using_the_model(run: RunResults, prefix: str = "") -> list[Block]:
    """Where the chosen model is and how to load or serve it, with paths a reader can paste."""
    best = run.best
    model_dir = run.run_dir / ((best.model if best else None) or MODEL_DIR)
    if best is None or not (model_dir / "MLmodel").is_file():
        return []
    path = str(model_dir.resolve())
    blocks: list[Block] = [
        Heading("How to use the chosen model", 3, anchor=_id(prefix, "use")),
        Paragraph(
            f"The chosen config, refit on the whole training part, is an MLflow model "
            f"(scikit-learn flavour, a pipeline that scales raw feature rows, then predicts) "
            f"in `{path}`."
        ),
        Paragraph(
            f'With MLflow: `model = mlflow.pyfunc.load_model("{path}")`, then '
            "`model.predict(X)` on rows of the training data's features, in its column order."
        ),
        Paragraph(
            f'With leantune: `leantune.load("{run.run_dir.resolve()}").best_estimator` is the '
            "scikit-learn pipeline (`predict`, and `predict_proba` where the model has it)."
        ),
        Paragraph(
            f"As a REST service, offline, in this environment: `mlflow models serve -m {path} "
            '--env-manager local --port 5001`, then POST `{"inputs": [[...], ...]}` to '
            "`http://127.0.0.1:5001/invocations`."
        ),
    ]
    run_id = run.summary.mlflow_parent_run_id
    if run_id:
        blocks.append(
            Paragraph(
                f"The same model is on the study's MLflow run: `runs:/{run_id}/model` "
                f"(tracking URI `{run.summary.tracking_uri}`)."
            )
        )
    return blocks


# --- run information ---------------------------------------------------------------------


def run_information(run: RunResults, prefix: str = "", *, level: int = 2) -> list[Block]:
    summary, dataset, spec = run.summary, run.dataset, run.spec
    environment = summary.environment
    sample = run.subsample
    provenance = (
        "SYNTHETIC stand-in"
        if run.synthetic
        else f"real ({dataset.get('source', '?')}"
        + (", from the local PMLB cache)" if dataset.get("source") == "pmlb" else ")")
    )
    seeds = [f"training.seed = {run.seed}"]
    if run.synthetic:
        seeds.append(f"synthetic generator seed = {dataset.get('seed')}")
    if sample:
        seeds.append(f"subsample seed = {sample.get('seed')}")
    seeds.append(f"bootstrap seeds from training.seed = {run.seed}")
    rows: list[tuple[str, Any]] = [
        ("study", run.name),
        ("run directory", str(run.run_dir)),
        ("outcome", summary.outcome),
        ("dataset", f"{dataset.get('name', '?')}: {provenance}"),
        ("dataset location", dataset.get("location", "?")),
        (
            "rows × features",
            f"{format_value(dataset.get('rows'))} × {format_value(dataset.get('features'))}",
        ),
        (
            "task",
            f"{run.task}"
            + (f", {dataset.get('classes')} classes" if dataset.get("classes") else ""),
        ),
        (
            "subsample",
            f"{sample['rows']:,} of {sample['of_rows']:,} rows, seed {sample['seed']}"
            if sample
            else _no_subsample(dataset.get("subsample_not_needed")),
        ),
        ("rows dropped for NaN on load", dataset.get("dropped_rows_with_nan", 0)),
        ("models", ", ".join(summary.models)),
        (
            "search",
            f"{run.method}"
            + (f", scheduler {summary.search.scheduler}" if summary.search.scheduler else ""),
        ),
        ("search space", _space_text(summary.search_space)),
        ("training", _training_text(spec.get("training") or {})),
        (
            "validation",
            f"test part {(spec.get('validation') or {}).get('test_size', 0.3):g}, "
            f"{summary.folds}-fold CV",
        ),
        ("constraints", constraints_text(run)),
        ("stopping", _stopping_text(spec.get("stopping") or {}, run.stopping_enabled)),
        ("seeds", "; ".join(seeds)),
        ("study wall time (s)", summary.wall_time_s),
        ("CPU-seconds in trials", summary.trial_cpu_s),
        ("machine", _machine_text(environment)),
        ("versions", _versions_text(summary, environment)),
        ("MLflow store", summary.tracking_uri),
        ("MLflow parent run", summary.mlflow_parent_run_id or "–"),
    ]
    data = pd.DataFrame(rows, columns=["item", "value"]).astype({"value": object})
    return [
        Heading("Run information", level, anchor=_id(prefix, "run-info")),
        Table(_id(prefix, "run_info"), "How this run was made", data),
    ]


def _no_subsample(asked: dict[str, Any] | None) -> str:
    if not asked:
        return "none (every row)"
    return (
        f"none: {asked['asked_rows']:,} rows were asked for, but the set has only "
        f"{asked['rows']:,}, so every row is used"
    )


def _space_text(space: dict[str, Any]) -> str:
    parts = []
    for name, values in space.items():
        if isinstance(values, list):
            shown = ", ".join(str(v) for v in values[:6]) + (" …" if len(values) > 6 else "")
            parts.append(f"{name}: {shown} ({len(values)})")
        else:
            parts.append(f"{name}: {values}")
    return "; ".join(parts)


def _training_text(training: dict[str, Any]) -> str:
    how = (
        f"max_steps {training['max_steps']}"
        if training.get("max_steps")
        else f"{training.get('epochs', 1)} epoch(s)"
    )
    return (
        f"{how}, report every {training.get('report_every', '?')} steps, shuffle "
        f"{'on' if training.get('shuffle', True) else 'off'}"
    )


def _stopping_text(stopping: dict[str, Any], enabled: bool) -> str:
    if not enabled:
        return "off (observe only)"
    rules = [
        name
        for name in ("constraint", "predictive", "divergence", "prechelt", "patience")
        if stopping.get(name)
    ]
    return "on: " + (", ".join(rules) or "constraint")


def _machine_text(environment: dict[str, Any]) -> str:
    if not environment:
        return "not recorded (a run made before leantune recorded its machine)"
    memory = environment.get("memory_gb")
    return (
        f"{environment.get('platform', '?')}; {environment.get('cpu', '?')}; "
        f"{environment.get('logical_cpus', '?')} logical CPUs"
        + (f"; {memory:.1f} GB memory" if isinstance(memory, int | float) else "")
    )


def _versions_text(summary: Summary, environment: dict[str, Any]) -> str:
    versions = {"leantune": summary.leantune_version, "python": summary.python}
    versions.update(environment.get("versions") or {})
    return ", ".join(f"{k} {v}" for k, v in versions.items() if v)
