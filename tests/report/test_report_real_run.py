"""The report of a real tiny run: written at the end of `leantune run`, attached to the MLflow
parent run, and rebuilt by `leantune report` from the stored files without rerunning."""

import os
import subprocess
import sys

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import leantune
from leantune.testing import tiny_spec

pytestmark = pytest.mark.slow

# Batch 1 makes ~4,000 partial_fit calls a fold at 20 epochs and is forecast over the 1 s limit
# within its first reports; batch 128 makes 40 and finishes. Two learning rates and two alphas
# give every main-effect plot two levels.
SPEC = tiny_spec(
    search={"space": {"batch_size": [1, 128], "learning_rate": [0.01, 0.1], "alpha": [1e-4, 1e-2]}},
    training={"epochs": 20, "report_every": 10, "seed": 0},
    constraints={"train_time_s": 1.0, "memory_mb": 100_000},
    stopping={"predictive": {"margin": 0.1}},
    output={"report": True},
)
FIGURES = {
    "rq1_effect_batch_size",
    "rq1_effect_learning_rate",
    "rq1_effect_alpha",
    "rq1_heatmaps",
    "pareto",
    "curves",
}
TABLES = {
    "chosen_config",
    "chosen_limits",
    "rq1_spearman",
    "rq1_levels_batch_size",
    "rq1_levels_learning_rate",
    "rq1_levels_alpha",
    "rq1_heatmap_step_time_ms",
    "rq1_heatmap_train_time_s",
    "rq2_ledger",
    "rq2_ledger_by_rule",
    "rq2_forecasts",
    "pareto",
    "endings",
    "stopped_trials",
    "run_info",
}


@pytest.fixture(scope="module")
def run_dir(ray_session, tmp_path_factory):
    root = tmp_path_factory.mktemp("report-run")
    spec = leantune.load_spec(SPEC, [f"output.dir={root / 'run'}"])
    leantune.run(spec, show_progress=False)
    return root / "run"


def test_the_run_writes_one_self_contained_report_with_every_figure_and_table(run_dir, parsed):
    report = parsed(run_dir / "report.html")
    assert set(report.figures) == FIGURES
    assert set(report.tables) == TABLES
    assert all(rows > 1 for rows in report.tables.values()), report.tables
    assert "AMD" in report_text(run_dir) or "logical CPUs" in report_text(run_dir)
    markdown = (run_dir / "report.md").read_text()
    for table in TABLES:
        assert (run_dir / "report" / f"{table}.csv").is_file(), table
    assert markdown.count("| --- |") >= len(TABLES)
    trials = pd.read_csv(run_dir / "trials.csv")
    # skip_predicted is on by default with a limit: a twin of a stopped config may be skipped
    assert {"stopped", "feasible"} <= set(trials["status"]) <= {"stopped", "skipped", "feasible"}


def report_text(run_dir):
    return (run_dir / "report.html").read_text()


def test_the_report_is_attached_to_the_mlflow_parent_run(run_dir):
    summary = pd.read_json(run_dir / "summary.json", typ="series")
    client = MlflowClient(summary["tracking_uri"])
    parent = summary["mlflow_parent_run_id"]
    paths = {a.path for a in client.list_artifacts(parent)}
    assert {"report.html", "report.md", "report"} <= paths
    tables = {a.path for a in client.list_artifacts(parent, "report")}
    assert "report/rq1_spearman.csv" in tables and "report/figures" in tables


def test_leantune_report_rebuilds_from_stored_results_without_rerunning(run_dir, parsed):
    stored = {
        p: p.stat().st_mtime_ns
        for p in run_dir.rglob("*")
        if "report" not in p.parts
        and p.name not in ("report.html", "report.md")
        and p.is_file()
        and "mlartifacts" not in p.parts
        and p.name != "mlflow.db"
    }
    (run_dir / "report.html").unlink()
    before = pd.read_csv(run_dir / "report" / "rq1_spearman.csv")
    result = subprocess.run(
        [sys.executable, "-m", "leantune", "report", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {run_dir / 'report.html'}" in result.stdout
    report = parsed(run_dir / "report.html")
    assert set(report.figures) == FIGURES and set(report.tables) == TABLES
    # Nothing the run wrote changed, and the numbers are the same (the bootstrap is seeded).
    assert {p: p.stat().st_mtime_ns for p in stored} == stored
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "report" / "rq1_spearman.csv"), before)
