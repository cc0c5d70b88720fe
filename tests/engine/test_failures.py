"""Trials that fail, are retried, or run out of memory, on the real engine (local Ray). A worker
killed from outside, and retries as a study records them, are in tests/study/test_failures.py.

Misbehaviour is injected with test-only faults (leantune.engine.Fault) that travel to the
worker inside the request; attempts are counted from outside, by marker files the worker
writes, not only by the driver's own bookkeeping.
"""

import resource

import pytest

from leantune.datasets import load_sklearn, make_splits
from leantune.engine import Fault, MemoryCap, SearchRequest, TrainingPlan, TrialData, run_search
from leantune.stoppers import from_constraints
from leantune.testing import NeverStop, RecordingObserver

pytestmark = pytest.mark.slow


def _request(tmp_path, *, learning_rates=(0.01, 0.1), epochs=1, report_every=5, **options):
    data = load_sklearn("breast_cancer")
    splits = make_splits(data, test_size=0.3, cv_folds=2, holdout_size=0.2, seed=0)
    return SearchRequest(
        name="t",
        param_space={
            "model": ["logistic"],
            "batch_size": [8],
            "learning_rate": list(learning_rates),
            "alpha": [1e-4],
        },
        data=TrialData(data.X, data.y, data.task, data.n_classes, splits.folds),
        plan=TrainingPlan(epochs=epochs, report_every=report_every),
        storage_dir=tmp_path / "ray",
        max_concurrent=1,
        **options,
    )


def _by_rate(records):
    return {r.config["learning_rate"]: r for r in records}


def test_a_persistent_error_gives_exactly_max_failures_plus_one_attempts(ray_session, tmp_path):
    markers = tmp_path / "markers"
    fault = Fault(match={"learning_rate": 0.1}, raise_at_step=3, marker_dir=str(markers))
    observer = RecordingObserver()
    records = run_search(_request(tmp_path, faults=(fault,), max_failures=2), NeverStop(), observer)
    failed = _by_rate(records)[0.1]
    assert sorted(p.name for p in markers.iterdir()) == ["attempt-1", "attempt-2", "attempt-3"]
    assert failed.status == "failed" and failed.attempts == 3
    assert failed.attempt_errors == [
        f"InjectedFault: injected fault at step 3 (attempt {n})" for n in (1, 2, 3)
    ]
    assert _by_rate(records)[0.01].status == "feasible"
    # one trial, started once as far as the observer is concerned, restarted twice
    assert observer.events.count(("started", failed.trial_id)) == 1
    assert observer.events.count(("restarted", failed.trial_id)) == 2


def test_memory_the_constraint_stops_a_slow_leak_and_the_hard_cap_fails_a_fast_one(
    ray_session, tmp_path
):
    """A slow leak (4 MB a step, a report every 5 steps) is stopped by memory_mb within one
    window (20 MB) of the limit, long before the machine runs short and Ray's memory monitor or
    the kernel's OOM killer would end the worker (the trial would then be `failed`, not
    `stopped`). A fast leak (200 MB a step) outruns the reports and meets the hard cap
    (resources.memory_limit_mb) between two of them: an allocation fails, the trial ends
    `failed: memory limit`, is not retried, and the worker and the study go on."""
    limit, cap = 450.0, 700.0  # a Ray worker holds ~170 MB privately before a trial allocates
    markers = tmp_path / "fast"
    slow = Fault(match={"learning_rate": 0.1}, allocate_mb_per_step=4)
    fast = Fault(match={"learning_rate": 0.03}, allocate_mb_per_step=200, marker_dir=str(markers))
    records = run_search(
        _request(
            tmp_path,
            learning_rates=(0.1, 0.03, 0.01),
            epochs=5,
            faults=(slow, fast),
            memory_limit_mb=cap,
            max_failures=1,
        ),
        from_constraints({"memory_mb": limit}),
        RecordingObserver(),
        # As a study does: the worker stops at the report that breaks the limit.
        worker_policy=from_constraints({"memory_mb": limit}),
    )
    by_rate = _by_rate(records)
    stopped = by_rate[0.1]
    assert stopped.status == "stopped"
    reason = stopped.stop_reason
    assert (reason.rule, reason.metric) == ("constraint", "memory_mb")
    assert limit < reason.value < limit + 5 * 4 + 10
    assert stopped.last["step"] < 250  # 5 epochs × 2 folds × ~25 steps, cut short

    capped = by_rate[0.03]
    assert capped.status == "failed"  # not WorkerDied: the worker survived its cap
    assert capped.error.startswith("memory limit: the trial needed more private memory than ")
    assert "resources.memory_limit_mb = 700 MB" in capped.error
    assert capped.last["step"] < 5  # between two reports: the stopper had no chance
    assert capped.attempts == 1 and len(list(markers.iterdir())) == 1  # the cap is not retried
    assert by_rate[0.01].status == "feasible"


def test_the_cap_is_lifted_after_the_trial_even_when_it_is_hit():
    before = resource.getrlimit(resource.RLIMIT_DATA)
    with pytest.raises(MemoryError), MemoryCap(64, private_mb=0) as cap:
        assert cap.enforced
        bytearray(256 * 2**20)
    assert resource.getrlimit(resource.RLIMIT_DATA) == before
    assert len(bytearray(256 * 2**20)) == 256 * 2**20  # room again
    assert "memory limit" in cap.describe_hit(step=3)
