"""RQ2 measured: the same study run twice on the same seeds, with and without stopping.

The stopped arm is the study as specified. The unstopped arm is the same study with
`stopping.enabled: false` and no scheduler: every trial runs to its end, so what stopping
saved, and whether it cost the pick anything, is measured rather than estimated. Layout:

    RUN_DIR/
      stopped/      a complete run directory (summary.json, trials.csv, report.html, ...)
      unstopped/    the same for the arm without stopping
      mlflow.db, mlartifacts/   one MLflow store; the arms are parent runs named after them
      comparison.json           the headline numbers
      report.html, report.md, report/   the comparison report
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from leantune.errors import SpecError
from leantune.results import RunDir
from leantune.spec import StudySpec, load_spec
from leantune.study._prepare import prepare_study
from leantune.study._runner import StudyResult, run_study
from leantune.tracking import attach_artifacts, open_tracker


@dataclass
class ComparisonResult:
    run_dir: Path
    stopped: StudyResult
    unstopped: StudyResult
    comparison: dict[str, Any]
    """comparison.json: savings, regret, and the ledger's estimates against the actual cost."""


def arm_specs(spec: StudySpec, run_dir: Path) -> tuple[StudySpec, StudySpec]:
    """The two arms: as specified, and with stopping off. Same seeds, data, grid and limits."""
    arms = RunDir(run_dir)
    stopped = load_spec(spec, [f"output.dir={arms.stopped_arm.path}"])
    unstopped = load_spec(
        spec,
        [
            f"output.dir={arms.unstopped_arm.path}",
            "stopping.enabled=false",
            # ASHA stops trials too: the arm without stopping must not have it either.
            "search.scheduler=null",
        ],
    )
    return stopped, unstopped


def comparison_dir(spec: StudySpec) -> Path:
    """Where a comparison goes: output.dir, else runs/<name>-compare-<timestamp>. It must be
    new or empty, so no earlier result is overwritten."""
    if spec.output.dir is None:
        return Path("runs") / f"{spec.name}-compare-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = spec.output.dir.expanduser()
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise SpecError(
            f"output.dir: {str(run_dir)!r} already exists and is not an empty directory; a "
            "comparison writes two runs into it. Choose a new directory"
        )
    return run_dir


def run_comparison(
    spec: StudySpec,
    *,
    console: Console | None = None,
    show_progress: bool = True,
) -> ComparisonResult:
    """Run the stopped arm, then the unstopped arm, then write the comparison and its report."""
    from leantune.report import write_comparison

    console = console or Console(stderr=True)
    if not spec.stopping.enabled:
        raise SpecError(
            "--compare-stopping: compares the study with its stopping policies against the same "
            "study without them, but this study has stopping.enabled: false; remove it"
        )
    run_dir = comparison_dir(spec)
    stopped_spec, unstopped_spec = arm_specs(spec, run_dir)
    # Check everything (data included) before the shared store creates anything.
    prepare_study(stopped_spec)
    run_dir.mkdir(parents=True, exist_ok=True)
    experiment = spec.tracking.experiment or spec.name
    results = []
    for label, arm in (("with stopping", stopped_spec), ("without stopping", unstopped_spec)):
        console.print(f"[bold]Arm {len(results) + 1} of 2[/]: {label}", highlight=False)
        # Both arms share one store (the user's, or one in RUN_DIR), so `leantune ui RUN_DIR`
        # shows them side by side.
        tracker = open_tracker(spec.tracking_uri, experiment, run_dir)
        results.append(
            run_study(arm, console=console, show_progress=show_progress, tracker=tracker)
        )
    stopped, unstopped = results
    written = write_comparison(run_dir)
    arms = RunDir(run_dir)
    comparison = arms.read_comparison().as_dict()
    files = [arms.comparison_file, *written.paths]
    for arm in (arms.stopped_arm, arms.unstopped_arm):
        summary = arm.read_summary()
        run_id = summary.mlflow_parent_run_id
        if run_id and summary.tracking_uri:
            try:
                attach_artifacts(summary.tracking_uri, run_id, files, "comparison")
            except Exception as error:  # the files are on disk; MLflow is a copy
                console.print(
                    f"[yellow]Could not attach the comparison to MLflow run {run_id}: {error}[/]",
                    highlight=False,
                )
    return ComparisonResult(run_dir, stopped, unstopped, comparison)
