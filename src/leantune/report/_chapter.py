"""The thesis preset's results chapter: RQ1 and RQ2 answered per dataset and overall.

A thesis directory of repeated runs (thesis.json layout "repeats", what the preset writes now)
gets the chapter of `_thesis_chapter`; an older one (one run or comparison per set) this one.

Built from `thesis.json` and the run (or comparison) directories it lists, so
`leantune report THESIS_DIR` rebuilds it, and the per-set reports, without rerunning anything.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from leantune.report import _plots as plots
from leantune.report import _sections as sections
from leantune.report._build import write_comparison, write_run_report
from leantune.report._document import (
    Block,
    Document,
    Figure,
    Heading,
    Link,
    Paragraph,
    Table,
    WrittenReport,
    format_value,
    write_document,
)
from leantune.report._rq1 import HYPERPARAMETER_LABELS, METRIC_LABELS, spearman_table, system_frame
from leantune.report._rq2 import comparison_summary
from leantune.report._run import RunResults, load_run
from leantune.report._thesis_chapter import RepeatedSet, axis_text, build_repeats_chapter
from leantune.results import RunDir


class _Set:
    """One dataset of the chapter: its outcome line from thesis.json and its results."""

    def __init__(self, entry: dict[str, Any], root: Path):
        self.entry = entry
        self.name: str = entry["name"]
        self.directory = root / entry["dir"] if entry.get("dir") else None
        self.stopped: RunResults | None = None
        self.unstopped: RunResults | None = None
        self.run: RunResults | None = None
        if self.directory is None:
            return
        files = RunDir(self.directory)
        if files.is_comparison:
            self.stopped = load_run(files.stopped_arm.path)
            self.unstopped = load_run(files.unstopped_arm.path)
            self.run = self.stopped
        elif files.is_run:
            self.run = load_run(files.path)
        elif files.stopped_arm.is_run:  # interrupted in the unstopped arm
            self.run = load_run(files.stopped_arm.path)

    @property
    def rq1_run(self) -> RunResults | None:
        """The unstopped arm when there is one: there every trial ran to its end."""
        return self.unstopped or self.run

    @property
    def data_note(self) -> str:
        run = self.run
        if run is None:
            return self.entry.get("reason") or self.entry.get("status", "")
        parts = ["SYNTHETIC stand-in" if run.synthetic else "real PMLB"]
        sample = run.subsample
        if sample:
            parts.append(
                f"subsample {sample['rows']:,} of {sample['of_rows']:,} rows "
                f"(seed {sample['seed']})"
            )
        else:
            parts.append(f"all {format_value(run.dataset.get('rows'))} rows")
        return ", ".join(parts)


def write_chapter(directory: Path | str, *, rebuild_runs: bool = False) -> list[WrittenReport]:
    """Write results.html, results.md and results/; with `rebuild_runs`, first rebuild every
    per-set report from its stored results."""
    directory = Path(directory)
    thesis = RunDir(directory).read_thesis().as_dict()
    written: list[WrittenReport] = []
    if thesis.get("layout") == "repeats":
        return _write_repeats_chapter(thesis, directory, rebuild_runs)
    sets = [_Set(entry, directory) for entry in thesis.get("datasets", [])]
    if rebuild_runs:
        for item in sets:
            if item.unstopped is not None and item.directory is not None:
                written += [
                    write_run_report(RunDir(item.directory).stopped_arm.path),
                    write_run_report(RunDir(item.directory).unstopped_arm.path),
                    write_comparison(item.directory),
                ]
            elif item.run is not None:
                written.append(write_run_report(item.run.run_dir))
    document = build_chapter(thesis, sets, directory)
    written.append(write_document(document, directory, stem="results"))
    return written


def _write_repeats_chapter(
    thesis: dict[str, Any], directory: Path, rebuild_runs: bool
) -> list[WrittenReport]:
    written: list[WrittenReport] = []
    several = len(thesis.get("backends") or []) > 1
    sets = [RepeatedSet(entry, directory, several=several) for entry in thesis.get("datasets", [])]
    if rebuild_runs:
        for item in sets:
            if item.run is not None:
                written.append(write_run_report(item.run.run_dir))
    document = build_repeats_chapter(thesis, sets, directory)
    written.append(write_document(document, directory, stem="results"))
    return written


def build_chapter(thesis: dict[str, Any], sets: list[_Set], directory: Path) -> Document:
    document = Document("Results: hyperparameters, system performance and stopping")
    ran = [s for s in sets if s.run is not None]
    options = thesis.get("options") or {}
    document.add(
        Paragraph(
            "Every number in this chapter comes from the run directories below and is "
            f"regenerated by: `{thesis.get('command', '?')}`. Rebuild the chapter and every "
            f"per-set report from the stored results, without rerunning: `leantune report "
            f"{directory}`."
        )
    )
    document.add(
        sections.chapter_caveats(
            [s.name for s in ran if s.run.synthetic],
            [f"{s.name}: {s.data_note}" for s in ran if s.run.subsample],
            "Both arms of a comparison use the same sample, so their savings and regret "
            "compare like with like (each table row below says so)",
        )
    )
    document.add(_data_section(sets, thesis))
    document.add(_rq1_overall(ran))
    document.add(_rq2_overall(ran, bool(options.get("compare_stopping"))))
    for item in ran:
        document.add(_dataset_section(item))
    skipped = [s for s in sets if s.run is None]
    if skipped:
        document.add(Heading("Skipped sets"))
        for item in skipped:
            document.add(
                Paragraph(f"{item.name}: {item.entry.get('reason') or item.entry.get('status')}")
            )
    if ran:
        document.add(sections.run_information(ran[0].run, "info", level=2))
    return document


def _data_section(sets: list[_Set], thesis: dict[str, Any]) -> list[Block]:
    protocol = thesis.get("protocol") or {}
    grid = thesis.get("grid") or {}
    options = thesis.get("options") or {}
    rows = []
    for item in sets:
        run = item.run
        rows.append(
            {
                "dataset": item.name,
                "task": item.entry.get("task") or (run.task if run else ""),
                "models": ", ".join(item.entry.get("models") or []),
                "data": item.data_note,
                "rows used": run.dataset.get("rows") if run else None,
                "features": run.dataset.get("features") if run else None,
                "trials": len(run.trials) if run else None,
                "wall time (s)": item.entry.get("wall_time_s"),
                "outcome": item.entry.get("status"),
            }
        )
    data = pd.DataFrame(rows)
    space = "; ".join(f"{k} {axis_text(v)}" for k, v in grid.items())
    return [
        Heading("Data and setup"),
        Paragraph(
            f"Grid: {space}. Protocol: {100 * (1 - float(protocol.get('test_size', 0.3))):.0f}/"
            f"{100 * float(protocol.get('test_size', 0.3)):.0f} split, "
            f"{protocol.get('cv_folds', '?')}-fold CV, {protocol.get('epochs', 1)} epoch, a "
            f"report every {protocol.get('report_every', 100)} steps, "
            f"{protocol.get('cpus_per_trial', 1)} CPU per trial. Limits: training time ≤ "
            f"{options.get('max_train_seconds'):g} s and private memory ≤ "
            f"{options.get('memory_mb'):g} MB per trial; stopping: the constraint rule, the "
            "predictive rule (margin 10 %) and divergence. Regression sets use the linear "
            "model, classification sets logistic regression and a linear SVM."
        ),
        Table("data", "The sets: real or synthetic, whole or subsampled", data),
    ]


def _rq1_overall(ran: list[_Set]) -> list[Block]:
    blocks: list[Block] = [
        Heading("RQ1 overall: how do hyperparameters change system performance?"),
        Paragraph(
            sections.batch_size_fact({item.rq1_run.backend for item in ran if item.rq1_run}),
            kind="note",
        ),
    ]
    frames = []
    for item in ran:
        run = item.rq1_run
        frame = system_frame(run)
        table = spearman_table(frame, seed=run.seed)
        table["median_at_lowest"], table["median_at_highest"] = _end_medians(frame, table)
        table.insert(0, "data", item.data_note)
        table.insert(0, "dataset", item.name)
        frames.append(table)
    if not frames:
        blocks.append(Paragraph("No set ran.", kind="note"))
        return blocks
    table = pd.concat(frames, ignore_index=True)
    blocks.append(
        Paragraph(
            "Spearman's ρ between each hyperparameter and each system metric, over the trials of "
            "each set (from the arm without stopping where there is one, where every trial ran "
            "to its end), with 95 % bootstrap intervals. A relation counts as clear where the "
            "interval excludes 0."
        )
    )
    blocks += [Paragraph(line) for line in _answers(table)]
    shown = []
    for (dataset, hyperparameter), group in table.groupby(
        ["dataset", "hyperparameter"], sort=False
    ):
        row = {
            "dataset": dataset,
            "data": group["data"].iloc[0],
            "hyperparameter": HYPERPARAMETER_LABELS[hyperparameter],
        }
        for item in group.itertuples():
            row[METRIC_LABELS[item.metric]] = _rho_text(item.rho, item.ci_low, item.ci_high)
        shown.append(row)
    blocks.append(
        Table(
            "rq1_spearman_all", "Spearman's ρ [95 % interval] per set", table, pd.DataFrame(shown)
        )
    )
    blocks.append(
        Figure(
            "rq1_spearman_all",
            "Spearman's ρ with 95 % bootstrap intervals, per set, for every hyperparameter × "
            "system metric pair",
            plots.correlation_overview(table),
        )
    )
    return blocks


def _end_medians(frame: pd.DataFrame, table: pd.DataFrame) -> tuple[list[float], list[float]]:
    """The metric's median at the lowest and at the highest level: how big the effect is."""
    lowest, highest = [], []
    for item in table.itertuples():
        pair = frame[[item.hyperparameter, item.metric]].dropna() if len(frame) else frame
        if pair.empty:
            lowest.append(math.nan)
            highest.append(math.nan)
            continue
        levels = pair[item.hyperparameter]
        lowest.append(float(pair[levels == levels.min()][item.metric].median()))
        highest.append(float(pair[levels == levels.max()][item.metric].median()))
    return lowest, highest


def _rho_text(rho: float, low: float, high: float) -> str:
    if not math.isfinite(rho):
        return "–"
    if not math.isfinite(low):
        return f"{rho:+.2f} (no interval: too few trials)"
    return f"{rho:+.2f} [{low:+.2f}, {high:+.2f}]"


def _answers(table: pd.DataFrame) -> list[str]:
    """One sentence per hyperparameter × metric pair with a clear relation on some set."""
    lines = []
    for (hyperparameter, metric), group in table.groupby(["hyperparameter", "metric"], sort=False):
        clear = group[(group["ci_low"] > 0) | (group["ci_high"] < 0)]
        if clear.empty:
            continue
        ups = clear[clear["rho"] > 0]
        downs = clear[clear["rho"] < 0]
        parts = []
        for subset, verb in ((ups, "rises"), (downs, "falls")):
            if len(subset):
                where = ", ".join(
                    f"{r.dataset} (ρ = {r.rho:+.2f}; median {format_value(r.median_at_lowest)} "
                    f"→ {format_value(r.median_at_highest)})"
                    for r in subset.itertuples()
                )
                parts.append(f"{verb} on {where}")
        unclear = sorted(set(group["dataset"]) - set(clear["dataset"]))
        tail = f"; no clear relation on {', '.join(unclear)}" if unclear else ""
        lines.append(
            f"**{HYPERPARAMETER_LABELS[hyperparameter].capitalize()} → "
            f"{METRIC_LABELS[metric]}**: from its lowest to its highest level, the metric "
            f"{' and '.join(parts)}{tail}."
        )
    return lines or ["No hyperparameter has a clear monotone relation with a system metric here."]


def _rq2_overall(ran: list[_Set], compared: bool) -> list[Block]:
    blocks: list[Block] = [Heading("RQ2 overall: what does stopping on system criteria save?")]
    rows = []
    for item in ran:
        run = item.run
        ledger = run.ledger or {}
        counts = run.summary.status_counts
        row: dict[str, Any] = {
            "dataset": item.name,
            "data": item.data_note,
            "trials": len(run.trials),
            "stopped": counts.get("stopped", 0),
            "CPU-s with stopping": ledger.get("spent_cpu_s"),
            "CPU-s saved (ledger estimate)": ledger.get("saved_cpu_s_estimate"),
        }
        if item.unstopped is not None:
            headline = comparison_summary(item.stopped, item.unstopped)
            saved, loss, estimates = (
                headline["savings"],
                headline["regret"],
                headline["estimates"],
            )
            row.update(
                {
                    "CPU-s without stopping": saved["cpu_s_unstopped"],
                    "CPU-s saved (measured)": saved["cpu_s_saved"],
                    "CPU share saved": _pct(saved["cpu_share_saved"]),
                    "wall-s with / without": f"{format_value(saved['wall_s_stopped'])} / "
                    f"{format_value(saved['wall_s_unstopped'])}",
                    "same pick": "yes"
                    if loss["same_config"]
                    else "same model, other batch size"
                    if loss["same_model"]
                    else "no",
                    "test regret (abs / rel)": f"{format_value(loss['test_regret'])} / "
                    f"{_pct(loss['test_regret_relative'])}",
                    "estimate / actual, unfinished CPU-s": estimates["estimate_over_actual"],
                }
            )
        rows.append(row)
    if not compared:
        blocks.append(
            Paragraph(
                "These runs did not compare arms (no --compare-stopping): savings are the "
                "budget ledger's estimates (remaining steps × cost per step so far).",
                kind="note",
            )
        )
    else:
        blocks.append(
            Paragraph(
                "Each set ran twice on the same seeds: with its stopping policies and with "
                "stopping off. Savings are measured as the difference in the trials' CPU-seconds; "
                "regret is how much worse the stopped arm's pick scores on the held-out test part "
                "(0: no loss; below 0: it happened to score better). The last column says how "
                "well the ledger's estimate of the cost left in stopped trials matched what the "
                "unstopped arm actually spent on them (1 is exact)."
            )
        )
    blocks += [Paragraph(line) for line in _rq2_answers(rows)]
    blocks.append(Table("rq2_all", "What stopping saved, per set", pd.DataFrame(rows)))
    return blocks


def _rq2_answers(rows: list[dict[str, Any]]) -> list[str]:
    """The measured answer, one sentence per set, from the comparison columns."""
    lines = []
    for row in rows:
        if "CPU share saved" not in row:
            continue
        ratio = row["estimate / actual, unfinished CPU-s"]
        lines.append(
            f"**{row['dataset']}** ({row['data']}): stopping {row['stopped']} of "
            f"{row['trials']} trials saved {row['CPU share saved']} of the CPU-seconds "
            f"({format_value(row['CPU-s saved (measured)'])} of "
            f"{format_value(row['CPU-s without stopping'])}); test regret "
            f"{row['test regret (abs / rel)']}; the ledger's estimate of the unfinished cost "
            + (
                f"was {format_value(ratio)} × what it actually cost."
                if isinstance(ratio, float) and math.isfinite(ratio)
                else "could not be checked (no trial was cut short)."
            )
        )
    return lines


def _pct(value: float) -> str:
    # + 0.0 turns a negative zero (a regret of -0.0) into 0.
    return "–" if value is None or not math.isfinite(value) else f"{100 * value + 0.0:.1f} %"


def _dataset_section(item: _Set) -> list[Block]:
    run = item.run
    prefix = item.name.replace("_", "-")
    blocks: list[Block] = [
        Heading(f"{item.name}", 2, anchor=f"set-{prefix}"),
        *sections.caveats(run, who=f"{item.name}"),
        sections.overview(run),
    ]
    if item.unstopped is not None:
        blocks += [
            Link(f"{item.name}: the comparison report", f"{item.entry['dir']}/report.html"),
            *sections.rq1(
                item.unstopped,
                prefix,
                level=3,
                source="From the unstopped arm, where every trial ran to its end: ",
            ),
            *sections.rq2_comparison(item.stopped, item.unstopped, prefix, level=3),
        ]
    else:
        blocks += [
            Link(f"{item.name}: the full report", f"{item.entry['dir']}/report.html"),
            *sections.rq1(run, prefix, level=3),
            *sections.rq2_single(run, prefix, level=3),
        ]
    blocks.append(Heading("The chosen config", 3))
    blocks += sections.chosen_config(run, prefix)
    blocks += sections.learning_curves(run, prefix, level=3)
    return blocks
