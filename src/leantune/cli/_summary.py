"""The short summary printed when a study ends."""

from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from leantune.errors import LeantuneError
from leantune.metrics import CLOCK_WORDS, NEAR_LIMIT_SHARE, TIMED_METRICS
from leantune.results import BestSummary, RunDir, Summary
from leantune.trials._status import INFEASIBLE, SKIPPED, STOPPED

_SHOWN_STOPS = 10
_SHOWN_A_GROUP = 3


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def _config_text(config: dict[str, Any]) -> str:
    return (
        f"{config['model']}, batch_size={config['batch_size']}, "
        f"learning_rate={config['learning_rate']:g}, alpha={config['alpha']:g}"
    )


def _dataset_lines(dataset: dict[str, Any], out: Any) -> None:
    """Caveats about the data, first: nobody should read results without them."""
    if dataset.get("synthetic"):
        like = dataset.get("synthetic_like")
        of = f" for {like} (seed {dataset.get('seed')})" if like else ""
        out(
            f"[bold yellow]Dataset is a SYNTHETIC stand-in{of}, not real data[/]: its scores say "
            "nothing about the real set; use it for scale and resource checks only.",
            highlight=False,
        )
    sample = dataset.get("subsample")
    if sample:
        out(
            f"[yellow]Dataset: a seeded subsample of {sample['rows']:,} of {sample['of_rows']:,} "
            f"rows (seed {sample['seed']})[/]: every figure below describes the sample.",
            highlight=False,
        )
    unused = dataset.get("subsample_not_needed")
    if unused:
        out(
            f"Dataset: subsample of {unused['asked_rows']:,} rows asked for, but the set has "
            f"only {unused['rows']:,}: every row is used.",
            highlight=False,
        )
    dropped = dataset.get("dropped_rows_with_nan") or 0
    if dropped and not sample:
        out(
            f"[yellow]Dataset: {dropped:,} of {dataset['rows'] + dropped:,} rows held NaN and "
            "were dropped on load.[/]",
            highlight=False,
        )


def _objective_line(summary: Summary, best: BestSummary, out: Any) -> None:
    """What the pick optimized, when it is not the validation score, and the quality limits."""
    objective, floors = summary.objective, summary.quality_constraints
    bounds = [
        f"{metric} {'≥' if kind == 'min' else '≤'} {value:g}"
        for metric, bound in floors.items()
        for kind, value in bound.items()
    ]
    subject = f", subject to {', '.join(bounds)} (final CV value)" if bounds else ""
    if objective is not None and objective.metric != best.cv_metric:
        verb = "minimize" if objective.mode == "min" else "maximize"
        value = best.objective_value
        shown = f"{value:.4g}" if value is not None else "n/a"
        out(
            f"  [bold]objective[/]: {verb} {objective.metric} → {shown} (trial's final "
            f"value){subject}",
            highlight=False,
        )
    elif subject:
        out(f"  picked{subject}", highlight=False)


# How each group of trials that did not finish feasible is headed: a quality limit is judged
# on the finished trial, so it breaks a limit, never stops one; a skipped trial never ran.
_GROUP_HEADINGS = {
    STOPPED: "Stopped",
    SKIPPED: "Skipped, never trained",
    INFEASIBLE: "Broke a limit (not stopped)",
}


def _ended_early_lines(summary: Summary, out: Any) -> None:
    """Stopped, skipped and infeasible trials, each group under its own heading and count."""
    stops = summary.stopped_trials
    groups: dict[str, list[dict[str, Any]]] = {}
    for stop in stops:
        groups.setdefault(stop["status"], []).append(stop)
    labels = _labels_by_status(summary, groups)
    shown = 0
    for status, members in groups.items():
        heading = _GROUP_HEADINGS.get(status, status.capitalize())
        by = labels.get(status)
        how = ", ".join(f"{n} by {label}" for label, n in by.items()) if by else ""
        out(f"{heading} ({len(members)}){': ' + how if how else ''}", highlight=False)
        # Every group shows a few, whatever came before it.
        room = max(_SHOWN_A_GROUP, _SHOWN_STOPS - shown)
        for stop in members[:room]:
            out(
                f"  {_config_text(stop['config'])}: {stop['reason']}", highlight=False, markup=False
            )
        shown += min(room, len(members))
        if len(members) > room:
            out(f"  … and {len(members) - room} more in trials.csv")


def _labels_by_status(
    summary: Summary, groups: dict[str, list[dict[str, Any]]]
) -> dict[str, Counter[str]]:
    """How many trials of each status each rule ended, from trials.csv (a label a trial);
    with one status only, the summary's own counts say it."""
    path = RunDir(summary.run_dir).trials_csv
    if summary.run_dir and path.is_file():
        with path.open(newline="") as rows:
            counts: dict[str, Counter[str]] = {}
            for row in csv.DictReader(rows):
                if row.get("status") in groups and row.get("stop_label"):
                    label = row["stop_label"].removeprefix("skipped: ")
                    counts.setdefault(row["status"], Counter())[label] += 1
            return {status: Counter(dict(c.most_common())) for status, c in counts.items()}
    if len(groups) == 1:
        (status,) = groups
        by = summary.stopped_by
        return {status: Counter({k.removeprefix("skipped: "): v for k, v in by.items()})}
    return {}


def _pick_lines(summary: Summary, best: BestSummary, out: Any) -> None:
    """A tie broken by cost, configs refused for their shipped model, stops that came late."""
    tie = best.tie
    if tie:
        out(
            f"  tied within float noise with {len(tie['tied_trials'])} other config(s): the "
            f"cheapest ({tie['chosen_cost_s']:.3g} s, median of its cost twins) was chosen",
            highlight=False,
        )
    for rejected in summary.shipped_rejected:
        out(
            f"  [yellow]refused[/] {_config_text(rejected['config'])}: its {rejected['reason']}, "
            "a limit its trial met",
            highlight=False,
        )
    near = next((n for n in summary.near_limits if n.trial_id == best.trial_id), None)
    if near is not None:
        side = "under" if near.margin_pct <= 0 else "over"
        out(
            f"  [yellow]near a limit[/]: its {near.metric} {near.value:.4g} is "
            f"{abs(near.margin_pct):.1f} % {side} the limit of {near.limit:g}; a busier "
            "machine may put it over",
            highlight=False,
        )
    late = summary.late_stops
    if late:
        out(
            f"  {len(late)} trial(s) finished before a stop reached them: judged on their "
            "complete records (late_stop in trials.csv)",
            highlight=False,
        )


def _near_limit_line(summary: Summary, out: Any) -> None:
    """How many verdicts the machine's own noise could turn (summary.json near_limits)."""
    near = {n.trial_id: n for n in reversed(summary.near_limits)}  # the nearest limit each
    if not near:
        return
    feasible = sum(1 for n in near.values() if n.status != INFEASIBLE)
    out(
        f"Near a limit: {len(near)} config(s) ended within {NEAR_LIMIT_SHARE:.0%} of one "
        f"({feasible} feasible, {len(near) - feasible} over), where a rerun or other work on "
        "the machine may judge them the other way (near_limits in summary.json)",
        highlight=False,
    )


# A waiting share from which the CLI says the trials shared their CPUs: a study's own driver
# and a quiet machine's housekeeping stay under it.
CONTENDED_SHARE = 0.1


def _uncontended(ledger: dict[str, Any]) -> str:
    """Where the trials shared their CPUs, what the full grid would take on CPUs of its own."""
    waiting, uncontended = (
        ledger.get("cpu_waiting_share"),
        ledger.get("full_grid_cpu_s_uncontended_estimate"),
    )
    if waiting is None or uncontended is None or waiting < CONTENDED_SHARE:
        return ""
    return (
        f"; the trials waited for a CPU {waiting:.0%} of the time they wanted one, and on CPUs "
        f"of their own the full grid would take an estimated {uncontended:.1f} CPU-s"
    )


# When the CLI suggests packing: a study of at least this much wall time on Ray Tune whose
# trials were at work less than this share of it, even counted as if they ran one at a time.
# Tune starts and ends each trial: 800 trials of ~0.01 s ran at 28 trials/s on Tune and 145 on
# the process pool, side by side (BENCHMARKS.md P8, "Eighth session"). Their own time was a
# share of a Tune study's wall of 0.19 quiet, 0.31 beside a spinning core, 0.25 beside another
# study, 0.43 beside both (waiting for a CPU counts in a trial's own time).
PACKING_HINT_AFTER_S = 30.0
PACKING_HINT_BUSY_SHARE = 0.5


def _packing_line(summary: Summary) -> str | None:
    """A study on Ray Tune whose trials were too short for Tune's per-trial round trip: what
    would run them faster. The share is an upper bound: `trial_wall_s` over the study's wall
    counts the trials as one at a time, and any that ran side by side lower it."""
    if summary.search.backend != "ray" or summary.trial_wall_s is None or not summary.trials:
        return None
    wall = summary.wall_time_s
    if wall < PACKING_HINT_AFTER_S or summary.trial_wall_s >= PACKING_HINT_BUSY_SHARE * wall:
        return None
    return (
        f"Packing: the trials were at work for {summary.trial_wall_s:.1f} s of the study's "
        f"{wall:.0f} s ({summary.trials} trials, {summary.trial_wall_s / summary.trials:.2f} s "
        "each): Ray Tune's start and end of a trial outweigh trials this short. "
        "resources.backend: processes (this machine) or ray-pool (a cluster) runs them in "
        'long-lived workers instead (README, "Search backends").'
    )


def _once_calibrated(got: dict[str, Any]) -> str:
    """The check of the stated level, where some forecasts were made before it was measured."""
    made, held = got.get("calibrated_forecasts"), got.get("calibrated_held")
    if not made or held is None or made == got.get("forecasts"):
        return ""
    return f" ({held} of the {made} that stated it)"


def _forecast_line(forecasts: dict[str, Any]) -> str | None:
    """How often the training-time forecasts held, when the cost model made any."""
    before = (forecasts.get("untried") or {}).get("train_time_s") or {}
    running = (forecasts.get("running") or {}).get("train_time_s") or {}
    parts = [
        f"{got['held']} of {got['forecasts']} {when}{_once_calibrated(got)}"
        for got, when in ((before, "before the config ran"), (running, "while it ran"))
        if got.get("forecasts")
    ]
    if not parts:
        return None
    line = (
        f"Forecasts: the training time's {forecasts['level']:.0%} intervals held "
        f"{' and '.join(parts)} (summary.json forecasts)"
    )
    waiting = forecasts.get("cpu_waiting_share")
    if waiting is not None and waiting >= CONTENDED_SHARE:
        # Other work inflates CPU times the clock cannot tell apart (BENCHMARKS.md, P9).
        line += (
            f". Trials waited for a CPU {waiting:.0%} of the time they wanted one: other work "
            f"on the machine, so no stop rested on the last "
            f"{forecasts.get('contention_allowance', 1.0) - 1:.0%} of a time over its limit"
        )
    return line


def print_summary(
    summary: Summary | dict[str, Any],
    console: Console,
    command_wall_s: float | None = None,
    *,
    report_line: bool = True,
) -> None:
    """`command_wall_s`: the command's own wall time, start-up (imports, Ray) included.
    `report_line`: end with where the report is; off while it is still being drawn
    (`print_report_line` says it once it is)."""
    out = console.print
    summary = summary if isinstance(summary, Summary) else Summary.model_validate(summary)
    best = summary.best
    _dataset_lines(summary.dataset.model_dump(), out)
    if best is not None:
        metric = best.cv_metric.removeprefix("val_")
        test = best.test.get(f"test_{metric}")
        # Within every limit, but not always `feasible`: a quality rule may have ended it.
        out(f"[bold green]Chosen config[/]: {_config_text(best.config)}")
        if best.cv_score_mean is not None:
            scored = (
                f"CV {metric} {best.cv_score_mean:.4f} ± {best.cv_score_std or 0.0:.4f} "
                f"({summary.folds} folds)"
            )
        else:  # ended early by a quality rule: picked on what it had reached
            scored = f"{metric} {_or_nan(best.objective_value):.4f} reached ({best.chosen_on})"
        tested = f"[bold]test {metric} {test:.4f}[/]" if test is not None else ""
        out(f"  {scored} · {tested}", highlight=False)
        out(
            f"  model {best.model_size_bytes or 0:,} bytes · predict "
            f"{_or_nan(best.inference_ms_per_sample) * 1e3:.2f} µs/sample",
            highlight=False,
        )
        _objective_line(summary, best, out)
        _pick_lines(summary, best, out)
    else:
        out(
            "[bold red]No feasible config[/]: every trial broke a constraint, diverged or "
            "failed. Loosen `constraints` or widen the search space."
        )
    counts = " · ".join(f"{k} {v}" for k, v in summary.status_counts.items())
    out(f"Trials: {summary.trials} · {counts}", highlight=False)
    timed = [m for m in summary.constraints if m in TIMED_METRICS]
    if timed:
        clock = summary.clock
        what = CLOCK_WORDS.get(clock, "wall-clock time")
        out(f"Time limits ({', '.join(timed)}) judged on {what} (constraints.clock: {clock})")
    _near_limit_line(summary, out)
    _ended_early_lines(summary, out)
    for diverged in summary.diverged_trials[:_SHOWN_STOPS]:
        out(
            f"  [yellow]diverged[/] {_config_text(diverged['config'])}: "
            f"{escape(diverged['reason'])}",
            highlight=False,
        )
    for failure in summary.failed_trials[:_SHOWN_STOPS]:
        if failure["error"]:
            attempts = failure.get("attempts", 1)
            tries = f" (after {attempts} attempts)" if attempts > 1 else ""
            out(
                f"  [red]{failure['status']}[/] {_config_text(failure['config'])}{tries}: "
                f"{escape(failure['error'])}",
                highlight=False,
            )
    ledger = summary.ledger
    if ledger.get("saved_cpu_s_estimate"):
        # Only a grid has a full grid to be a share of; sampled searches do not.
        share = (
            f", so {ledger['share_of_full_grid_spent_estimate']:.0%} of the full grid's "
            "estimated cost was spent"
            if summary.search.method == "grid"
            else ""
        )
        out(
            f"Budget: {ledger['spent_cpu_s']:.1f} CPU-s spent in trials; stopping saved an "
            f"estimated {ledger['saved_cpu_s_estimate']:.1f} CPU-s{share}{_uncontended(ledger)} "
            "(ledger.json)",
            highlight=False,
        )
    forecast = _forecast_line(summary.forecasts)
    if forecast:
        out(forecast, highlight=False)
    sessions = summary.sessions
    resumed = f" (over {sessions} sessions: resumed {sessions - 1}×)" if sessions > 1 else ""
    whole = (
        f" ({command_wall_s:.1f} s with start-up)"
        if command_wall_s is not None and command_wall_s > summary.wall_time_s
        else ""
    )
    out(
        f"Time: {summary.wall_time_s:.1f} s wall{whole} · {summary.trial_cpu_s:.1f} CPU-s in "
        f"trials · {summary.driver_cpu_s:.1f} CPU-s on the driver{resumed}",
        highlight=False,
    )
    packing = _packing_line(summary)
    if packing:
        out(f"[yellow]{packing}[/]", highlight=False)
    run_dir = summary.run_dir
    # Paths and URIs are the user's text: printed as they are, never read as markup.
    plain = {"highlight": False, "markup": False}
    out(
        f"Run directory: {run_dir} (summary.json, trials.csv, ledger.json, reports.parquet)",
        **plain,
    )
    out(f"MLflow store: {summary.tracking_uri} · browse: leantune ui {run_dir}", **plain)
    if report_line:
        print_report_line(run_dir, console)


def report_asked(run_dir: str | Path) -> bool:
    """Whether the study's spec (its copy in the run directory) asks for a report."""
    try:
        spec = RunDir(run_dir).read_spec()
    except LeantuneError:
        return True
    return spec is None or spec.output.report


def print_report_line(run_dir: str | Path, console: Console) -> None:
    """Where the study's report is, or how to write it."""
    report = RunDir(run_dir).report_html
    if report.is_file():
        text = f"Report: {report} (rebuild: leantune report {run_dir})"
    else:
        text = f"Report: not written · write it with: leantune report {run_dir}"
    console.print(text, highlight=False, markup=False)


def print_comparison(comparison: Any, console: Console) -> None:
    """Both arms in a few lines, then what stopping saved and what it cost."""
    out = console.print
    arms = [
        (label, Summary.model_validate(result.summary))
        for label, result in (
            ("with stopping", comparison.stopped),
            ("without stopping", comparison.unstopped),
        )
    ]
    _dataset_lines(arms[0][1].dataset.model_dump(), out)
    headline = comparison.comparison
    saved, regret = headline["savings"], headline["regret"]
    for label, summary in arms:
        best = summary.best
        pick = "no feasible config"
        if best is not None:
            metric = best.cv_metric.removeprefix("val_")
            pick = (
                f"{_config_text(best.config)}: CV {metric} "
                f"{_or_nan(best.cv_score_mean):.4f}, test "
                f"{metric} {_or_nan(best.test.get(f'test_{metric}')):.4f}"
            )
        counts = " · ".join(f"{k} {v}" for k, v in summary.status_counts.items() if v)
        out(
            f"[bold]{label}[/]: {summary.ledger['spent_cpu_s']:.1f} CPU-s in trials, "
            f"{summary.wall_time_s:.1f} s wall · {counts}\n  best: {pick}",
            highlight=False,
        )
    share = saved.get("cpu_share_saved")
    out(
        f"Stopping saved {saved['cpu_s_saved']:.1f} CPU-s (measured"
        + (f", {share:.0%} of the unstopped arm" if share is not None else "")
        + f"; the ledger estimated {saved['ledger_saved_cpu_s_estimate'] or 0:.1f})",
        highlight=False,
    )
    test_regret = regret.get("test_regret")
    out(
        "Regret of the stopped arm: "
        + (
            f"test {regret['metric']} {test_regret:+.4g}"
            + (
                " (same config picked)"
                if regret.get("same_config")
                else " (same model at another batch size)"
                if regret.get("same_model")
                else ""
            )
            if test_regret is not None
            else "undefined (an arm found no feasible config)"
        ),
        highlight=False,
    )
    out(
        f"Comparison: {RunDir(comparison.run_dir).report_html} · "
        f"{RunDir(comparison.run_dir).comparison_file}"
        f" · arms in {comparison.run_dir / 'stopped'} and {comparison.run_dir / 'unstopped'}",
        highlight=False,
        markup=False,
    )
