"""The summary reaches the user as soon as the results are saved, before the report is drawn."""

import pytest

import leantune
from leantune.testing import tiny_spec

pytestmark = pytest.mark.slow


def test_on_summary_sees_the_saved_results_before_any_report_file(tmp_path):
    run_dir = tmp_path / "run"
    spec = tiny_spec(
        search={"space": {"batch_size": [64], "learning_rate": [0.01], "alpha": [0.0001]}},
        output={"dir": str(run_dir), "report": True},
        resources={"backend": "in-process"},
    )
    seen = []

    def on_summary(summary):
        seen.append((summary["outcome"], sorted(p.name for p in run_dir.iterdir())))

    result = leantune.run(spec, show_progress=False, on_summary=on_summary)
    ((outcome, files),) = seen
    assert outcome == "completed"
    assert "summary.json" in files and "trials.csv" in files
    assert "report.html" not in files
    assert (run_dir / "report.html").is_file() and result.summary["outcome"] == "completed"
