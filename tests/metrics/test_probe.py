"""The load probe: its idle reference is cached per machine, its readings rise when other work
crowds its core, and a trial reports its slowdown and a load-normalised cost."""

import json
import os
import statistics
import sys
import time

import psutil
import pytest

from leantune.metrics import _probe
from leantune.metrics._probe import LoadProbe, idle_reference, probe_once, slowdown
from leantune.testing import cpu_hog


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(_probe, "_latest", None)  # no reading of an earlier test taken over
    idle_reference.cache_clear()
    yield tmp_path / "leantune"
    idle_reference.cache_clear()


def test_the_idle_reference_is_measured_once_and_kept_in_the_cache(fresh_cache):
    reference = idle_reference()
    stored = json.loads((fresh_cache / "probe.json").read_text())
    ((key, entry),) = stored.items()
    assert f"v{_probe.PROBE_VERSION}" in key
    assert entry == {"compute_s": reference.compute_s, "memory_s": reference.memory_s}
    # read back, not measured again
    entry["compute_s"] = 123.0
    (fresh_cache / "probe.json").write_text(json.dumps(stored))
    idle_reference.cache_clear()
    assert idle_reference().compute_s == 123.0


def test_a_broken_cache_file_is_measured_again(fresh_cache):
    fresh_cache.mkdir(parents=True)
    (fresh_cache / "probe.json").write_text("not json")
    assert idle_reference().compute_s > 0


def test_a_probe_reads_at_its_cadence_and_keeps_its_own_time_apart(fresh_cache):
    probe = LoadProbe(every_s=0.5)
    probe.read()
    probe.read(0.1)  # not due yet
    assert len(probe.readings) == 1
    probe.read(0.6)
    assert len(probe.readings) == 2 and probe.cpu_seconds > 0
    assert probe.slowdown == pytest.approx(statistics.fmean(probe.readings))


def test_a_trial_starting_within_the_cadence_takes_over_the_latest_reading(fresh_cache):
    """Back-to-back short trials of one worker probe once per cadence, not once each."""
    first = LoadProbe(every_s=0.5)
    first.read()
    second = LoadProbe(every_s=0.5)
    second.read()
    assert second.readings == first.readings[-1:] and second.cpu_seconds == 0.0
    second.read(0.6)  # its own cadence still reads
    assert len(second.readings) == 2 and second.cpu_seconds > 0
    time.sleep(0.05)
    third = LoadProbe(every_s=0.01)  # the latest reading is older than its cadence
    third.read()
    assert third.cpu_seconds > 0 and third.readings != second.readings[-1:]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_the_slowdown_rises_when_spinning_processes_share_its_core(fresh_cache):
    """Bounded real processes (cpu_hog), pinned with the probe to one core; rounds alternate,
    so a machine whose other load drifts meets both conditions alike. Nothing about time is
    asserted, only that the crowded core reads slower than the same core alone."""
    reference = idle_reference()
    core = {sorted(os.sched_getaffinity(0))[-1]}
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, core)

    def mean_slowdown() -> float:
        readings = []
        for _ in range(100):
            # Give the core away first, as a trial's worker does while the driver takes its
            # report: crowded, another process runs and leaves the caches to the probe cold.
            os.sched_yield()
            readings.append(slowdown(probe_once(1), reference))
        return statistics.fmean(readings)

    quiet, crowded = [], []
    try:
        for _ in range(3):
            quiet.append(mean_slowdown())
            with cpu_hog(seconds=20) as a, cpu_hog(seconds=20) as b:
                for hog in (a, b):
                    os.sched_setaffinity(hog.pid, core)
                time.sleep(0.3)
                crowded.append(mean_slowdown())
    finally:
        os.sched_setaffinity(0, before)
    print(f"quiet {quiet}, crowded {crowded}", file=sys.stderr)
    assert statistics.median(crowded) > statistics.median(quiet)


def test_a_trial_reports_its_slowdown_and_a_normalised_cost(fresh_cache):
    from leantune.datasets import load_sklearn, make_splits
    from leantune.engine import TrainingPlan, TrialData, train_trial

    data = load_sklearn("breast_cancer")
    splits = make_splits(data, test_size=0.3, cv_folds=2, holdout_size=0.2, seed=0)
    trial_data = TrialData(data.X, data.y, data.task, data.n_classes, splits.folds)
    config = {"model": "logistic", "batch_size": 4, "learning_rate": 0.01, "alpha": 1e-4}
    runs = {}
    for clock in ("cpu", "normalized"):
        reports = []
        train_trial(config, trial_data, TrainingPlan(report_every=20, clock=clock), reports.append)
        runs[clock] = reports
    for report in runs["cpu"]:
        assert report["slowdown"] > 0 and report["probe_cpu_s"] >= 0
        assert report["train_time_norm_s"] == pytest.approx(
            report["train_time_cpu_s"] / report["slowdown"]
        )
        assert report["train_time_s"] == report["train_time_cpu_s"]
        assert report["step_time_norm_ms"] == pytest.approx(
            report["step_time_cpu_ms"] / report["slowdown"], rel=1e-6
        )
    for report in runs["normalized"]:
        assert report["train_time_s"] == report["train_time_norm_s"]
        assert report["step_time_ms"] == report["step_time_norm_ms"]
        assert report["inference_latency_ms"] == report["inference_latency_norm_ms"]
    # the probe's own time is kept apart from training time, and measured (not asserted small)
    last = runs["cpu"][-1]
    print(f"probe {last['probe_cpu_s']:.5f} CPU-s of {last['cpu_time_s']:.4f}", file=sys.stderr)


@pytest.mark.skipif(not os.path.exists("/proc/thread-self/schedstat"), reason="needs schedstat")
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_the_kernel_counts_the_time_a_crowded_thread_waits_for_its_core():
    """A spinning process (cpu_hog) pinned to this thread's core: the scheduler shares the core,
    so the thread waits for it a large share of the time it wants it, and is switched back in
    often; alone on the same core, it waits less. Counters, not clocks: nothing about time."""
    from leantune.metrics._probe import ContentionMeter

    core = {sorted(os.sched_getaffinity(0))[-1]}
    before = os.sched_getaffinity(0)

    def busy_share() -> float:
        meter = ContentionMeter()
        started = time.thread_time()
        while time.thread_time() - started < 0.2:
            sum(range(1000))
        reading = meter.read()
        assert reading is not None and reading.switches_per_cpu_s >= 0
        return reading.waiting_share

    os.sched_setaffinity(0, core)
    try:
        alone = busy_share()
        with cpu_hog(seconds=20) as hog:
            os.sched_setaffinity(hog.pid, core)
            spinning = psutil.Process(hog.pid)
            while sum(spinning.cpu_times()[:2]) < 0.1:  # past its start, spinning
                time.sleep(0.02)
            crowded = busy_share()
    finally:
        os.sched_setaffinity(0, before)
    assert crowded > 0.25 and crowded > alone


def test_a_trial_reports_how_much_it_shared_its_cpu(fresh_cache):
    from leantune.metrics._system import SystemSampler

    sampler = SystemSampler()
    sum(range(200_000))
    report = sampler.sample()
    if os.path.exists("/proc/thread-self/schedstat"):
        assert 0 <= report["cpu_waiting_share"] <= 1 and report["cpu_switches_per_s"] >= 0
    else:
        assert "cpu_waiting_share" not in report
