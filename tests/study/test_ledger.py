import math

import pytest

from leantune.engine import TrialRecord
from leantune.stoppers import StopReason
from leantune.study._ledger import build_ledger


def _record(trial_id, status, cpu, done, planned, reason=None, wall=2.0):
    record = TrialRecord(trial_id, {"batch_size": 2}, status=status, stop_reason=reason)
    record.reports = [{"step": done, "steps_planned": planned, "cpu_time_s": cpu}]
    record.started_at, record.ended_at = 100.0, 100.0 + wall
    return record


def test_spent_is_measured_and_saved_is_an_estimate_per_rule():
    memory = StopReason("constraint", "memory_mb", 300, 200, 250)
    predicted = StopReason("predictive", "train_time_s", 90, 60, 100)
    ledger = build_ledger(
        [
            _record("a", "feasible", cpu=4.0, done=1000, planned=1000),
            _record("b", "stopped", cpu=1.0, done=250, planned=1000, reason=memory),
            _record("c", "stopped", cpu=0.5, done=100, planned=1000, reason=predicted),
        ]
    )
    assert ledger["spent_cpu_s"] == pytest.approx(5.5)
    assert ledger["spent_wall_s"] == pytest.approx(6.0)
    # b: 750 steps left at 4 ms of CPU each = 3 s; c: 900 left at 5 ms = 4.5 s
    assert ledger["by_rule"]["memory_mb"]["saved_cpu_s_estimate"] == pytest.approx(3.0)
    assert ledger["by_rule"]["predicted train_time_s"]["saved_cpu_s_estimate"] == pytest.approx(4.5)
    assert ledger["saved_cpu_s_estimate"] == pytest.approx(7.5)
    assert ledger["share_of_full_grid_spent_estimate"] == pytest.approx(5.5 / 13.0)
    assert list(ledger["by_rule"]) == ["predicted train_time_s", "memory_mb"]
    assert "estimate" in ledger["note"]
    entry = next(t for t in ledger["trials"] if t["trial_id"] == "b")
    assert entry["remaining_wall_s_estimate"] == pytest.approx(750 * 2.0 / 250)


def test_a_trial_with_nothing_left_saves_nothing():
    reason = StopReason("constraint", "train_time_s", 2, 1, 1000)
    ledger = build_ledger(
        [_record("a", "stopped", cpu=1.0, done=1000, planned=1000, reason=reason)]
    )
    assert ledger["saved_cpu_s_estimate"] == 0
    assert ledger["share_of_full_grid_spent_estimate"] == 1.0


def test_an_empty_study_has_an_empty_ledger():
    ledger = build_ledger([])
    assert ledger["spent_cpu_s"] == 0 and ledger["by_rule"] == {}
    assert not math.isnan(ledger["share_of_full_grid_spent_estimate"])


def test_observe_only_trials_that_broke_a_limit_saved_nothing():
    reason = StopReason("constraint", "memory_mb", 300, 200, 250)
    ledger = build_ledger(
        [_record("a", "infeasible", cpu=4.0, done=1000, planned=1000, reason=reason)]
    )
    assert ledger["by_rule"] == {} and ledger["saved_cpu_s_estimate"] == 0


def test_a_trial_stopped_at_a_first_report_is_estimated_from_its_step_time():
    """Stopped at step 20 after 0.3 CPU-s, most of it set-up and four evaluations: the steps
    left cost what its steps cost (2 ms) and an evaluation every 100 steps, not 15 ms each."""
    predicted = StopReason("predictive", "train_time_s", 14.0, 3.0, 20)
    record = _record("a", "stopped", cpu=0.3, done=20, planned=7000, reason=predicted)
    record.reports = [
        {"step": s, "steps_planned": 7000, "cpu_time_s": 0.3, "step_time_cpu_ms": 2.0}
        for s in (5, 10, 15, 20)
    ]
    record.reports[-1]["train_time_cpu_s"] = 0.04 + 0.02  # 20 steps of 2 ms, 4 evaluations
    entry = build_ledger([record])["trials"][0]
    per_step = 0.002 + (0.02 / 4) / 100
    assert entry["remaining_cpu_s_estimate"] == pytest.approx(6980 * per_step)


def test_the_full_grid_estimate_carries_the_interval_the_study_s_forecasts_earned():
    predicted = StopReason("predictive", "train_time_s", 90, 60, 100)
    records = [
        _record("a", "feasible", cpu=4.0, done=1000, planned=1000),
        _record("c", "stopped", cpu=0.5, done=100, planned=1000, reason=predicted),
    ]
    ledger = build_ledger(records, (0.9, 1.2, 0.9))
    # measured 4.5 CPU-s; the 4.5 CPU-s saved is a forecast, in [0.9, 1.2] of itself
    assert ledger["full_grid_cpu_s_interval"] == pytest.approx([4.5 + 4.05, 4.5 + 5.4])
    assert ledger["full_grid_interval_level"] == 0.9
    unbanded = build_ledger(records)
    assert unbanded["full_grid_cpu_s_interval"] == pytest.approx([9.0, 9.0])
    assert unbanded["full_grid_interval_level"] is None


def test_a_contended_grid_is_also_estimated_on_cpus_of_its_own():
    """Each trial's cost (spent and estimated) is divided by the contention factor of the share
    of the time it waited for a CPU; a trial not told it (skipped) by the median one's."""
    from leantune.stoppers import contention_factor

    reason = StopReason("constraint", "memory_mb", 300, 200, 250)
    records = [
        _record("a", "feasible", cpu=4.0, done=1000, planned=1000),
        _record("b", "stopped", cpu=1.0, done=250, planned=1000, reason=reason),
        _record("c", "feasible", cpu=2.0, done=1000, planned=1000),
    ]
    for record, waiting in zip(records, (0.5, 0.7, None), strict=True):
        if waiting is not None:
            record.reports[-1]["cpu_waiting_share"] = waiting
    ledger = build_ledger(records)
    assert ledger["cpu_waiting_share"] == pytest.approx(0.6)
    expected = (
        4.0 / contention_factor(0.5) + 4.0 / contention_factor(0.7) + 2.0 / (contention_factor(0.6))
    )
    assert ledger["full_grid_cpu_s_uncontended_estimate"] == pytest.approx(expected)
    assert ledger["full_grid_cpu_s_uncontended_estimate"] < ledger["full_grid_cpu_s_estimate"]


def test_a_ledger_without_the_kernel_s_account_has_no_uncontended_estimate():
    ledger = build_ledger([_record("a", "feasible", cpu=4.0, done=1000, planned=1000)])
    assert ledger["cpu_waiting_share"] is None
    assert ledger["full_grid_cpu_s_uncontended_estimate"] is None
