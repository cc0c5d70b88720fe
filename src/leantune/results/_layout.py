"""The run directory's layout: every file name a study writes, in one place, and how to tell a
run directory, a comparison and a thesis directory apart (docs/run-directory.md)."""

from __future__ import annotations

from pathlib import Path

SUMMARY_FILE = "summary.json"
TRIALS_CSV = "trials.csv"
TRIALS_PARQUET = "trials.parquet"
REPORTS_FILE = "reports.parquet"
LEDGER_FILE = "ledger.json"
SPEC_FILE = "spec.yaml"
MODEL_DIR = "model"
"""The chosen model, an MLflow model directory (also on the MLflow parent run)."""
REPORT_HTML, REPORT_MD = "report.html", "report.md"
REPORT_ASSETS_DIR = "report"
"""The report's CSV tables and PNG figures."""
MLFLOW_FILE, MLFLOW_ARTIFACTS_DIR = "mlflow.db", "mlartifacts"
"""The study's own MLflow store (the default), and its artifacts."""
STATE_DIR = "state"
"""What a resume needs (study/_state.py): the study's meta and its trials' log."""
STATE_STUDY_FILE = f"{STATE_DIR}/study.json"
STATE_TRIALS_DIR = f"{STATE_DIR}/trials"
STATE_TRIALS_LOG = f"{STATE_TRIALS_DIR}/log.jsonl"
"""Every trial's start and end, a JSON line each (before it, format 1: a file a trial)."""

# A --compare-stopping directory: one run directory per arm, and the comparison's headline.
STOPPED_ARM, UNSTOPPED_ARM = "stopped", "unstopped"
COMPARISON_FILE = "comparison.json"
# A `leantune study thesis` directory.
THESIS_FILE = "thesis.json"


def is_run_dir(path: Path | str) -> bool:
    return (Path(path) / SUMMARY_FILE).is_file()


def is_comparison_dir(path: Path | str) -> bool:
    path = Path(path)
    return is_run_dir(path / STOPPED_ARM) and is_run_dir(path / UNSTOPPED_ARM)


def is_thesis_dir(path: Path | str) -> bool:
    return (Path(path) / THESIS_FILE).is_file()
