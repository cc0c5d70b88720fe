"""A study where trials fail: one's worker is killed from outside (twice: it is retried), one
raises once and succeeds when retried (resources.max_failures). trials.csv and MLflow record
every attempt, and no run is left RUNNING."""

import os
import signal
import threading
import time

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import leantune
from leantune.engine import Fault
from leantune.testing import tiny_spec

pytestmark = [pytest.mark.slow, pytest.mark.system]


class _Killer(threading.Thread):
    """Kills each attempt's worker process from outside, as the OOM killer or an operator
    would: the fault's marker files say which process runs the attempt."""

    def __init__(self, markers, attempts):
        super().__init__(daemon=True)
        self.markers, self.attempts, self.killed = markers, attempts, []

    def run(self):
        deadline = time.monotonic() + 240
        while len(self.killed) < self.attempts and time.monotonic() < deadline:
            marker = self.markers / f"attempt-{len(self.killed) + 1}"
            if marker.is_file() and marker.read_text():
                time.sleep(0.5)  # well into its training (the fault slows each step)
                pid = int(marker.read_text())
                os.kill(pid, signal.SIGKILL)
                self.killed.append(pid)
            time.sleep(0.05)


def test_killed_and_retried_trials_are_recorded_with_every_attempt(ray_session, tmp_path):
    killed_markers = tmp_path / "killed"
    faults = (
        Fault(match={"learning_rate": 0.1}, sleep_s_per_step=0.01, marker_dir=str(killed_markers)),
        Fault(
            match={"learning_rate": 0.03},
            raise_at_step=9,
            failing_attempts=1,
            marker_dir=str(tmp_path / "flaky"),
        ),
    )
    spec = leantune.load_spec(
        tiny_spec(
            search={
                "space": {"batch_size": [16], "learning_rate": [0.1, 0.03, 0.01], "alpha": [1e-4]}
            },
            training={"epochs": 2, "report_every": 4, "seed": 0},
            resources={"max_concurrent": 1, "max_failures": 1},
            output={"dir": str(tmp_path / "run"), "report": False},
        )
    )
    killer = _Killer(killed_markers, attempts=2)
    killer.start()
    result = leantune.run(spec, show_progress=False, faults=faults)
    killer.join(timeout=5)
    assert len(killer.killed) == 2

    trials = pd.read_csv(tmp_path / "run" / "trials.csv").set_index("learning_rate")
    killed, flaky = trials.loc[0.1], trials.loc[0.03]
    assert killed.status == "failed" and killed.attempts == 2
    for pid in killer.killed:
        assert f"pid {pid}" in str(result.summary["failed_trials"])
    assert killed.error.startswith("WorkerDied: the trial's worker process")
    assert "SIGKILL" in killed.error
    assert flaky.status == "feasible" and flaky.attempts == 2
    assert trials.loc[0.01, "status"] == "feasible" and trials.loc[0.01, "attempts"] == 1
    assert result.best_config is not None  # the study went on and picked

    reports = pd.read_parquet(tmp_path / "run" / "reports.parquet")
    flaky_steps = reports.loc[reports["trial_id"] == flaky.trial_id, "step"]
    assert flaky_steps.is_unique  # the failed attempt's reports were dropped

    client = MlflowClient(result.summary["tracking_uri"])
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert all(run.info.status != "RUNNING" for run in runs)
    by_trial = {r.data.tags.get("leantune.trial_id"): r for r in runs}
    killed_run = by_trial[killed.trial_id]
    assert killed_run.info.status == "FAILED"
    assert killed_run.data.tags["leantune.status"] == "failed"
    assert killed_run.data.tags["leantune.attempts"] == "2"
    assert killed_run.data.tags["leantune.error"] == killed.error
    assert killed_run.data.tags["leantune.attempt_errors"].count("WorkerDied") == 2
    flaky_run = by_trial[flaky.trial_id]
    assert flaky_run.info.status == "FINISHED"
    assert (
        "InjectedFault: injected fault at step 9 (attempt 1)"
        in (flaky_run.data.tags["leantune.attempt_errors"])
    )
    history = client.get_metric_history(flaky_run.info.run_id, "val_loss")
    assert [m.step for m in history] == sorted(flaky_steps)  # each step once, attempt 2's
