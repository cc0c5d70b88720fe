"""A trial a quality rule ended early broke no limit: it stays a candidate for the pick, is
refit to the steps it had reached, and the summary, the CLI and the report say so."""

import json

from typer.testing import CliRunner

import leantune
from leantune.cli import app
from leantune.testing import tiny_spec


def test_a_pick_a_quality_rule_ended_is_refit_to_where_it_stopped(tmp_path):
    run_dir = tmp_path / "run"
    spec = tiny_spec(
        search={"space": {"batch_size": [4, 8], "learning_rate": [0.5, 0.1]}},
        training={"epochs": 3, "report_every": 5, "seed": 0},
        # Patience 1 on the validation loss: every trial ends at its first report that does not
        # improve, long before its planned steps.
        stopping={"patience": {"metric": "val_loss", "patience": 1}},
        resources={"backend": "in-process"},
        output={"dir": str(run_dir), "report": True},
    )
    result = leantune.run(leantune.load_spec(spec), show_progress=False)
    trials = result.trials
    assert (trials.status == "stopped").all() and (trials.stop_rule == "patience").all()
    best = result.summary["best"]
    assert best is not None and best["chosen_on"].startswith("what it had reached when patience")
    assert best["cv_score_mean"] is None and best["objective_value"] > 0.5
    assert "refit to" in best["chosen_on"]
    assert result.best_estimator is not None
    report = (run_dir / "report.md").read_text()
    assert "a quality rule ended it early" in report
    # The command's summary, read back from the run directory, says it in words.
    summary = json.loads((run_dir / "summary.json").read_text())
    printed = CliRunner().invoke(app, ["report", str(run_dir)])
    assert printed.exit_code == 0, printed.output
    assert summary["best"]["trial_id"] == best["trial_id"]
