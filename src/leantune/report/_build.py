"""Whole reports: one run, a with/without-stopping comparison, and rebuilding either from disk.

Layout of a comparison directory (written by `leantune run --compare-stopping`):

    RUN_DIR/
      stopped/      the study as specified: a complete run directory with its own report
      unstopped/    the same study with stopping.enabled: false (and no scheduler)
      mlflow.db, mlartifacts/   one MLflow store; the arms are parent runs named after them
      comparison.json           the headline RQ2 numbers
      report.html, report.md, report/   the comparison (RQ2) with RQ1 from the unstopped arm
"""

from __future__ import annotations

from pathlib import Path

from leantune.report import _sections as sections
from leantune.report._document import Document, Heading, Link, WrittenReport
from leantune.report._document import write_document as _write
from leantune.report._rq2 import comparison_summary
from leantune.report._run import RunResults, load_run
from leantune.results import (
    COMPARISON_FILE,
    REPORT_HTML,
    STOPPED_ARM,
    UNSTOPPED_ARM,
    Comparison,
    RunDir,
    is_comparison_dir,
)


def build_run_report(run: RunResults) -> Document:
    document = Document(f"leantune report: {run.name}")
    document.add(sections.caveats(run))
    document.add(sections.overview(run))
    document.add(Heading("The chosen config"))
    document.add(sections.chosen_config(run))
    document.add(sections.using_the_model(run))
    document.add(sections.rq1(run))
    document.add(sections.rq2_single(run))
    document.add(sections.trade_offs(run))
    document.add(sections.learning_curves(run))
    document.add(sections.run_information(run))
    return document


def write_run_report(run_dir: Path | str) -> WrittenReport:
    """Write report.html, report.md and report/ (CSV tables, PNG figures) into a run directory,
    from its stored results alone."""
    run = load_run(run_dir)
    return _write(build_run_report(run), run.run_dir)


def build_comparison_report(stopped: RunResults, unstopped: RunResults) -> Document:
    document = Document(f"leantune comparison: {stopped.name} with and without stopping")
    document.add(sections.caveats(stopped, who="both arms"))
    document.add(sections.overview(stopped))
    document.add(
        Link("The stopped arm's full report", f"{STOPPED_ARM}/{REPORT_HTML}"),
        Link("The unstopped arm's full report", f"{UNSTOPPED_ARM}/{REPORT_HTML}"),
    )
    document.add(sections.rq2_comparison(stopped, unstopped, "cmp"))
    document.add(
        sections.rq1(
            unstopped,
            "unstopped",
            source="From the unstopped arm, where every trial ran to its end: ",
        )
    )
    document.add(Heading("The chosen config (stopped arm)"))
    document.add(sections.chosen_config(stopped, "stopped"))
    # Each figure says which arm it comes from: curves show where stops cut trials short, the
    # Pareto front needs every trial's whole run.
    document.add(
        sections.learning_curves(stopped, "stopped", arm=" (stopped arm: where the rules cut)")
    )
    document.add(
        sections.trade_offs(unstopped, "unstopped", arm=" (unstopped arm: every trial run out)")
    )
    document.add(sections.run_information(stopped, "stopped"))
    return document


def write_comparison(directory: Path | str) -> WrittenReport:
    """comparison.json and the comparison report, from the two arms stored in `directory`."""
    files = RunDir(directory)
    stopped = load_run(files.stopped_arm.path)
    unstopped = load_run(files.unstopped_arm.path)
    headline = comparison_summary(stopped, unstopped)
    headline["layout"] = {"stopped": STOPPED_ARM, "unstopped": UNSTOPPED_ARM}
    files.write_comparison(Comparison.model_validate(headline))
    return _write(build_comparison_report(stopped, unstopped), files.path)


__all__ = [
    "COMPARISON_FILE",
    "STOPPED_ARM",
    "UNSTOPPED_ARM",
    "build_comparison_report",
    "build_run_report",
    "is_comparison_dir",
    "write_comparison",
    "write_run_report",
]
