"""Rebuild every report under a directory, whatever it holds: a run, a comparison, a thesis."""

from __future__ import annotations

from pathlib import Path

from leantune.errors import LeantuneError
from leantune.report._build import write_comparison, write_run_report
from leantune.report._document import WrittenReport
from leantune.report._thesis_chapter import write_chapter
from leantune.results import STOPPED_ARM, UNSTOPPED_ARM, RunDir


def rebuild(path: Path | str) -> list[WrittenReport]:
    """Rebuild every report under a run, comparison or thesis directory; reruns nothing."""
    files = RunDir(path)
    path = files.path
    if not path.is_dir():
        raise LeantuneError(f"RUN_DIR: {str(path)!r} is not a directory")
    if files.is_thesis:
        return write_chapter(path, rebuild_runs=True)
    if files.is_comparison:
        return [
            write_run_report(files.stopped_arm.path),
            write_run_report(files.unstopped_arm.path),
            write_comparison(path),
        ]
    if files.is_run:
        return [write_run_report(path)]
    raise LeantuneError(
        f"RUN_DIR: {str(path)!r} is not a leantune run directory (no summary.json), a "
        f"comparison (no {STOPPED_ARM}/ and {UNSTOPPED_ARM}/ run directories) or a thesis "
        "directory (no thesis.json)"
    )
