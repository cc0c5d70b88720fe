"""A study states how often its cost model's forecasts held (summary.json `forecasts`), trials
in process: every config after its first cost twin was forecast before it ran."""

import pytest

import leantune
from leantune.cli._summary import _forecast_line
from leantune.report._sections import forecast_coverage_table
from leantune.testing import tiny_spec
from leantune.tracking import NullTracker

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("stopping", [True, False], ids=["stopping", "observe-only"])
def test_the_summary_states_each_forecast_s_coverage(tmp_path, stopping):
    """Counted live on the driver, whatever rules decide: with stopping off too."""
    spec = tiny_spec(
        search={
            "method": "grid",
            "space": {"batch_size": [8, 32], "learning_rate": [0.1, 0.01, 0.001], "alpha": [1e-4]},
        },
        constraints={"train_time_s": 100.0},  # every config runs every step: each has a final
        stopping={"enabled": stopping},
        resources={"backend": "in-process"},
        output={"dir": str(tmp_path / "run"), "report": False},
    )
    summary = leantune.run(spec, show_progress=False, tracker=NullTracker()).summary
    forecasts = summary["forecasts"]
    assert forecasts["level"] == pytest.approx(0.9)
    before = forecasts["untried"]["train_time_s"]
    # two cost twins of each batch size came after their first: four forecasts before a run
    assert before["forecasts"] == 4
    assert 0 <= before["held"] <= 4
    # too few finals to state a level: the band is the uncalibrated one
    assert before["stated_level"] is None and forecasts["calibrated_after"] == 19
    line = _forecast_line(forecasts)
    assert line.startswith("Forecasts: the training time's 90% intervals held")
    assert f"{before['held']} of 4 before the config ran" in line
    table = forecast_coverage_table(forecasts)
    assert {"train_time_s"} <= set(table["metric"])
    assert set(table["stated level"]) == {"none yet"}
    # the kernel's account of CPU sharing, and the allowance it gave (Linux)
    waiting = forecasts["cpu_waiting_share"]
    assert waiting is None or 0 <= waiting <= 1
    assert forecasts["contention_allowance"] >= 1


def test_the_forecast_line_says_when_trials_shared_their_cpus():
    forecasts = {
        "level": 0.9,
        "untried": {"train_time_s": {"forecasts": 10, "held": 9}},
        "cpu_waiting_share": 0.67,
        "contention_allowance": 1.2,
    }
    line = _forecast_line(forecasts)
    assert "waited for a CPU 67% of the time" in line and "last 20%" in line
    assert "waited" not in _forecast_line({**forecasts, "cpu_waiting_share": 0.02})


def test_the_budget_line_gives_the_grid_on_cpus_of_its_own_when_trials_shared_them():
    from leantune.cli._summary import _uncontended

    ledger = {"cpu_waiting_share": 0.7, "full_grid_cpu_s_uncontended_estimate": 310.25}
    assert "on CPUs of their own the full grid would take an estimated 310.2" in _uncontended(
        ledger
    )
    assert _uncontended({**ledger, "cpu_waiting_share": 0.02}) == ""
    assert _uncontended({"cpu_waiting_share": None}) == ""


def test_the_forecast_line_checks_the_stated_level_on_the_forecasts_that_stated_it():
    forecasts = {
        "level": 0.9,
        "untried": {
            "train_time_s": {
                "forecasts": 40,
                "held": 38,
                "calibrated_forecasts": 21,
                "calibrated_held": 19,
            }
        },
    }
    line = _forecast_line(forecasts)
    assert "held 38 of 40 before the config ran (19 of the 21 that stated it)" in line
