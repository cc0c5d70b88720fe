"""The process-pool backend: long-lived worker processes pulling configs (no Ray), with the
same decisions as every backend: the study's pick, skips decided before a step is trained,
a dead worker's trial failed and the rest going on."""

import contextlib
import os
import signal
import threading
from pathlib import Path

import psutil
import pytest
import yaml
from tests.search.test_matrix import _study

import leantune
from leantune.engine import Fault
from leantune.search import ProcessPoolBackend, _processes
from leantune.study._policies import build_decisions
from leantune.study._prepare import prepare_study
from leantune.study._search import search, search_request, training_plan
from leantune.testing import RecordingObserver, tiny_spec

pytestmark = pytest.mark.slow

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"


def _spec(tmp_path, out, backend, **sections):
    return leantune.load_spec(
        tiny_spec(
            search={"space": {"batch_size": [16, 64], "learning_rate": [0.1, 0.01]}},
            resources={"backend": backend, **sections.pop("resources", {})},
            output={"dir": str(tmp_path / out), "report": False},
            **sections,
        )
    )


def test_the_pool_picks_what_the_in_process_backend_picks(tmp_path):
    pooled = leantune.run(_spec(tmp_path, "pool", "processes"), show_progress=False)
    alone = leantune.run(_spec(tmp_path, "alone", "in-process"), show_progress=False)
    assert pooled.summary["status_counts"]["feasible"] == 4
    assert pooled.best_config == alone.best_config
    assert pooled.best_score == pytest.approx(alone.best_score)


def test_the_quickstart_on_the_pool_stops_or_skips_what_cannot_fit(tmp_path):
    raw = yaml.safe_load(QUICKSTART.read_text())
    raw["output"] = {"dir": str(tmp_path / "run"), "report": False}
    raw["resources"] = {"backend": "processes"}
    result = leantune.run(leantune.load_spec(raw), show_progress=False)
    trials = result.trials
    small = trials[trials.batch_size <= 2]
    assert set(small.status) <= {"stopped", "skipped"}
    assert set(trials[trials.batch_size >= 128].status) == {"feasible"}
    # A skipped trial trained no step: the driver answered its start report first.
    assert (trials[trials.status == "skipped"].steps_done.fillna(0) == 0).all()


def test_a_killed_worker_fails_its_trial_and_the_study_goes_on(tmp_path):
    # The first config (grid order) takes seconds: the one worker is on it when it is killed.
    slow = Fault(match={"batch_size": 16, "learning_rate": 0.1}, sleep_s_per_step=0.3)

    def kill_the_worker():
        for child in psutil.Process().children():
            with contextlib.suppress(psutil.Error):
                if "spawn_main" in " ".join(child.cmdline()):  # not the resource tracker
                    os.kill(child.pid, signal.SIGKILL)

    spec = _spec(tmp_path, "run", "processes", resources={"max_concurrent": 1})
    killer = threading.Timer(4.0, kill_the_worker)
    killer.start()
    try:
        result = leantune.run(spec, show_progress=False, faults=(slow,))
    finally:
        killer.cancel()
    failed = result.trials[result.trials.status == "failed"]
    assert len(failed) == 1 and "WorkerDied" in failed.error.iloc[0]
    assert result.summary["status_counts"]["feasible"] == 3


@pytest.mark.parametrize("method", ["random", "tpe", "asha"])
def test_every_search_method_runs_on_the_pool(tmp_path, method):
    # The matrix's study (tests/search/test_matrix.py), with Prechelt on the driver.
    spec = _study(tmp_path, method, "prechelt")
    prepared = prepare_study(spec)
    decisions = build_decisions(spec, prepared.memory)
    request = search_request(prepared, training_plan(prepared, decisions))
    records = search(request, decisions, RecordingObserver(), ProcessPoolBackend(workers=2))
    assert len(records) == (4 if method == "asha" else 6)
    assert all(r.status != "failed" for r in records), [r.error for r in records]


def _workers_started(monkeypatch) -> list[int]:
    """Counts the worker processes a study's pool starts (the real pool, the real spawns)."""
    started: list[int] = []
    grow = _processes._Pool.grow

    def counted(pool):
        grew = grow(pool)
        if grew:
            started.append(pool.started)
        return grew

    monkeypatch.setattr(_processes._Pool, "grow", counted)
    return started


def test_a_study_of_short_trials_starts_one_worker(tmp_path, monkeypatch):
    """Four trials of hundredths of a second: a second worker would cost more to start than
    the work it could take over."""
    started = _workers_started(monkeypatch)
    result = leantune.run(_spec(tmp_path, "run", "processes"), show_progress=False)
    assert len(result.trials) == 4 and set(result.trials.status) == {"feasible"}
    assert started == [1]


def test_a_second_worker_starts_once_the_work_left_needs_it(tmp_path, monkeypatch):
    monkeypatch.setattr(_processes, "GROW_AFTER_S", 0.2)
    started = _workers_started(monkeypatch)
    slow = Fault(sleep_s_per_step=0.01)  # every trial: a few tenths of a second
    result = leantune.run(_spec(tmp_path, "run", "processes"), show_progress=False, faults=(slow,))
    assert len(result.trials) == 4 and set(result.trials.status) == {"feasible"}
    assert started == [1, 2]
