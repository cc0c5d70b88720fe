"""Cheap stops in a real study, trials in process: a clearly infeasible config is stopped at one
of its first reports, and its cost twins are skipped or stopped at their first."""

import pytest

import leantune
from leantune.testing import tiny_spec
from leantune.tracking import NullTracker
from leantune.trials import SKIPPED, STOPPED

pytestmark = pytest.mark.slow


def test_a_clear_violator_and_its_twins_cost_a_few_steps_each(tmp_path):
    spec = tiny_spec(
        search={
            "method": "grid",
            "space": {"batch_size": [1], "learning_rate": [0.1, 0.01, 0.001], "alpha": [1e-4]},
        },
        training={"epochs": 1, "report_every": 100, "seed": 0, "first_reports": [5, 10, 20]},
        # ~400 steps of about a millisecond: far over 5 ms whatever the machine's load
        constraints={"train_time_s": 0.005},
        stopping={"predictive": {"margin": 0.1}, "skip_predicted": True},
        resources={"backend": "in-process"},
        output={"dir": str(tmp_path / "run"), "report": False},
    )
    result = leantune.run(spec, show_progress=False, tracker=NullTracker())
    records = result.records
    assert {r.status for r in records} <= {STOPPED, SKIPPED}
    assert all(r.last["step"] <= 20 for r in records)  # at a first report, not at step 100
    assert records[0].status == STOPPED
    # the last twin: skipped, or (its twins stopped at their very first reports, under load)
    # stopped at its own first
    assert records[-1].last["step"] <= 5, [(r.status, r.last["step"]) for r in records]
