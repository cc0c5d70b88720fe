"""What a trial measures belongs to the trial: both clocks, latency as a median of repeats, and
memory that does not depend on how many trials ran before in the same process."""

import math
from collections import deque
from types import SimpleNamespace

import pytest

from leantune.datasets import load_sklearn, make_splits
from leantune.engine import START_PHASE, TrainingPlan, TrialData, _trial, train_trial
from leantune.metrics import CATALOGUE, CLOCKS


def _data():
    data = load_sklearn("breast_cancer")
    splits = make_splits(data, test_size=0.3, cv_folds=2, holdout_size=0.2, seed=0)
    return TrialData(data.X, data.y, data.task, data.n_classes, splits.folds)


def _run(plan, config=None, data=None):
    reports = []
    config = config or {"model": "logistic", "batch_size": 16, "learning_rate": 0.01, "alpha": 1e-4}
    train_trial(config, data or _data(), plan, reports.append)
    return reports


@pytest.mark.parametrize("clock", CLOCKS)
def test_every_catalogued_metric_is_reported_on_both_clocks(clock):
    reports = _run(TrainingPlan(report_every=20, clock=clock))
    last = reports[-1]
    for metric in CATALOGUE:
        if metric.task not in (None, "classification"):  # val_rmse: regression only
            continue
        assert metric.name in last, metric.name
        if metric.timed:
            for each in CLOCKS:
                assert metric.on_clock(each) in last
            # the plain name carries the study's clock
            assert last[metric.name] == last[metric.on_clock(clock)]
    assert last["train_time_cpu_s"] > 0 and last["train_time_wall_s"] > 0


def test_latency_is_the_median_of_the_last_timed_calls(monkeypatch):
    readings = iter(
        [0.0, 0.001, 1.0, 1.003, 2.0, 2.002, 3.0, 3.9, 4.0, 4.001, 5.0, 5.8, 6.0, 6.0015]
    )
    monkeypatch.setattr(_trial.time, "perf_counter", lambda: next(readings))
    run = _trial._TrialRun.__new__(_trial._TrialRun)
    run.plan = TrainingPlan(clock="wall")
    run.sampler = SimpleNamespace(probe=None)  # no load probe: a slowdown of 1
    run.latency_walls, run.latency_cpus = deque(maxlen=5), deque(maxlen=5)
    run.latency_timed_at, run.step_cpu_seconds = -math.inf, 0.0

    class Adapter:  # the model adapter's deployment calls
        def predict(self, estimator, rows):
            return estimator.predict(rows)

        def size_bytes(self, estimator):
            return 1024

    run.model = Adapter()

    class Model:
        def predict(self, rows):
            return rows

    run.estimator, run.latency_rows = Model(), [0.0] * 1000
    # the first report times five calls, of 1, 3, 2, 900 and 1 ms: one slow call does not
    # move the median (2 ms)
    assert run._deployment_metrics()["inference_latency_wall_ms"] == pytest.approx(2e-3, rel=1e-3)
    # a later report times one call (800 ms, then 1.5 ms) once enough training has passed
    # since the last timing, and gives the median of the last five
    run.step_cpu_seconds = _trial.LATENCY_EVERY_TRAIN_S
    assert run._deployment_metrics()["inference_latency_wall_ms"] == pytest.approx(3e-3, rel=1e-3)
    run.step_cpu_seconds += _trial.LATENCY_EVERY_TRAIN_S / 2  # too soon: the last reading
    assert run._deployment_metrics()["inference_latency_wall_ms"] == pytest.approx(3e-3, rel=1e-3)
    run.step_cpu_seconds += _trial.LATENCY_EVERY_TRAIN_S / 2
    assert run._deployment_metrics()["inference_latency_wall_ms"] == pytest.approx(2e-3, rel=1e-3)


def test_memory_of_a_config_does_not_depend_on_what_ran_before_in_the_process():
    data = _data()
    plan = TrainingPlan(max_steps=20, report_every=10)
    config = {"model": "svm", "batch_size": 64, "learning_rate": 0.01, "alpha": 1e-4}
    first = _run(plan, config, data)[-1]["memory_mb"]
    for rate in (0.1, 0.05, 0.02, 0.005, 0.002) * 6:
        _run(plan, {**config, "learning_rate": rate}, data)
    after_30 = _run(plan, config, data)[-1]["memory_mb"]
    assert abs(after_30 - first) <= 0.5


def test_a_start_report_comes_before_the_first_step_when_asked():
    reports = _run(TrainingPlan(max_steps=10, report_every=5, announce_start=True))
    start = reports[0]
    assert start["trial_phase"] == START_PHASE and start["step"] == 0
    assert start["steps_planned"] == 20 and start["memory_mb"] > 0
    assert "trial_phase" not in reports[1]
