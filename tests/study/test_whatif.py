import math

import pandas as pd
import pytest

from leantune.errors import LeantuneError
from leantune.study import load_histories, predictive_vs_reactive


def _trial(trial_id, seconds_per_100_steps, reports=10):
    return [
        {
            "trial_id": trial_id,
            "step": 100 * i,
            "steps_planned": 100 * reports,
            "train_time_s": seconds_per_100_steps * i,
            "fold": 0,
        }
        for i in range(1, reports + 1)
    ]


@pytest.fixture
def run_dir(tmp_path):
    rows = (
        _trial("slow", 0.2)  # ends at 2.0 s: infeasible under a 1.5 s limit
        + _trial("fast", 0.1)  # ends at 1.0 s: feasible
        + _trial("edge", 0.16)  # ends at 1.6 s: infeasible, but only just
    )
    pd.DataFrame(rows).to_parquet(tmp_path / "reports.parquet")
    return tmp_path


def test_histories_come_back_in_order_per_trial(run_dir):
    histories = load_histories(run_dir)
    assert list(histories) == ["slow", "fast", "edge"]
    assert [r["step"] for r in histories["fast"]] == list(range(100, 1001, 100))


def test_predictive_is_judged_against_the_full_runs(run_dir):
    result = predictive_vs_reactive(run_dir, {"train_time_s": 1.5}, margin=0.0)
    assert (result["trials"], result["infeasible"]) == (3, 2)
    table = result["table"].set_index("trial_id")
    # slow: reactive at 0.2·8 = 1.6 > 1.5 → step 800; predictive at step 300, its third report
    # (min_reports: two give a slope but no bound on it), forecast 2.0
    assert table.loc["slow", "reactive_stop_step"] == 800
    assert table.loc["slow", "predictive_stop_step"] == 300
    assert math.isnan(table.loc["fast", "predictive_stop_step"])
    assert result["false_stops"] == 0 and result["caught"] == 2
    assert result["median_steps_earlier"] > 0


def test_a_margin_trades_missed_trials_for_safety(run_dir):
    result = predictive_vs_reactive(run_dir, {"train_time_s": 1.5}, margin=0.1)
    assert result["missed"] == 1  # "edge" is forecast 1.6 s, within 10% of the limit


def test_a_run_without_reports_is_a_clear_error(tmp_path):
    with pytest.raises(LeantuneError, match="no reports.parquet"):
        load_histories(tmp_path)
