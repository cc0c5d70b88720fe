"""The verdicts a rerun may turn: trials judged on their complete record near a limit."""

from __future__ import annotations

from leantune.metrics import NEAR_LIMIT_SHARE
from leantune.study._results import near_limits
from leantune.trials import FEASIBLE, INFEASIBLE, STOPPED, TrialRecord

LIMITS = {"train_time_s": 3.0, "memory_mb": 200.0}


def _record(trial_id: str, status: str, **last: float) -> TrialRecord:
    return TrialRecord(trial_id, {"model": "svm", "batch_size": 16}, status=status, reports=[last])


def test_only_verdicts_within_the_band_either_side_are_near_nearest_first():
    inside = 3.0 * (1 - NEAR_LIMIT_SHARE / 2)
    records = [
        _record("under", FEASIBLE, train_time_s=inside, memory_mb=50.0),
        _record("over", INFEASIBLE, train_time_s=3.03, memory_mb=50.0),
        _record("clear", FEASIBLE, train_time_s=3.0 * (1 - 2 * NEAR_LIMIT_SHARE), memory_mb=50.0),
        # cut short: its last reading is no end value
        _record("stopped", STOPPED, train_time_s=2.99, memory_mb=50.0),
        _record("memory", FEASIBLE, train_time_s=1.0, memory_mb=199.0),
    ]
    near = near_limits(records, LIMITS)
    assert [n["trial_id"] for n in near] == ["memory", "over", "under"]
    over = near[1]
    assert over["metric"] == "train_time_s" and over["limit"] == 3.0
    assert over["margin_pct"] == 100 * (3.03 / 3.0 - 1) and over["status"] == INFEASIBLE
    assert near[2]["margin_pct"] < 0  # under the limit


def test_a_trial_without_the_metric_or_a_finite_value_is_not_near():
    records = [
        _record("none", FEASIBLE, memory_mb=10.0),
        _record("nan", FEASIBLE, train_time_s=float("nan"), memory_mb=10.0),
    ]
    assert near_limits(records, LIMITS) == []
