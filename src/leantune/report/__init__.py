"""The study report: tables computed from a run's stored results, figures drawn from them, and
both rendered to one self-contained HTML file, Markdown and CSV. Rebuilding reruns nothing."""

from leantune.report._build import (
    COMPARISON_FILE,
    STOPPED_ARM,
    UNSTOPPED_ARM,
    build_comparison_report,
    build_run_report,
    is_comparison_dir,
    write_comparison,
    write_run_report,
)
from leantune.report._document import Document, WrittenReport, to_html, to_markdown
from leantune.report._rebuild import rebuild
from leantune.report._run import RunResults, load_run
from leantune.results import is_run_dir

__all__ = [
    "COMPARISON_FILE",
    "STOPPED_ARM",
    "UNSTOPPED_ARM",
    "Document",
    "RunResults",
    "WrittenReport",
    "build_comparison_report",
    "build_run_report",
    "is_comparison_dir",
    "is_run_dir",
    "load_run",
    "rebuild",
    "to_html",
    "to_markdown",
    "write_comparison",
    "write_run_report",
]
