"""`leantune resume` finishes a study interrupted (SIGINT, SIGTERM) and killed (SIGKILL), as a
user runs it: real processes, real signals, a real MLflow store.

What must hold: no trial that ended runs again, no trial is lost (one that was running runs
again under its id), and every reported step is in MLflow exactly once.
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from leantune.study._state import read_trial_entries
from leantune.testing import tiny_spec

pytestmark = [pytest.mark.slow, pytest.mark.system]

# Twelve trials of two epochs: four sessions are stopped, each once it has ended a trial, and
# the fifth must still find work (with eight one-epoch trials a fast machine ended seven of
# them in the first three sessions, and the killed session had nothing left to be killed in).
RATES = [0.1, 0.07, 0.05, 0.03, 0.02, 0.01, 0.007, 0.005, 0.003, 0.001, 0.0007, 0.0003]
# Batch 1 makes ~400 partial_fit calls a fold an epoch: a trial takes a second or more, so
# there is always one running when a signal comes.
FEW_RATES = RATES[::2]
SPEC = tiny_spec(
    search={"space": {"batch_size": [1], "learning_rate": RATES, "alpha": [0.0001]}},
    training={"epochs": 1, "report_every": 100, "seed": 0},
    resources={"max_concurrent": 1},
)


@pytest.fixture
def ray_address(ray_session):
    """The session's Ray, which each leantune process joins (resources.ray_address) instead of
    starting its own: the same code path as a cluster, and seconds less per process."""
    return ray_session.get_runtime_context().gcs_address


def _start(args, cwd):
    return subprocess.Popen(
        [sys.executable, "-m", "leantune", *args, "--quiet"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _trials(run_dir: Path) -> dict[str, dict]:
    """Every trial's state, parsed (each file and line must parse, whenever it is read)."""
    return read_trial_entries(run_dir)


def _wait_for_progress(run_dir: Path, ended_before: int, process, timeout=240) -> None:
    """Until one more trial ended in this session and the next one is running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        if (run_dir / "state" / "trials").is_dir():
            trials = _trials(run_dir).values()
            ended = sum(1 for t in trials if t["status"] != "running")
            running = sum(1 for t in trials if t["status"] == "running")
            if ended > ended_before and running:
                return
        time.sleep(0.2)
    raise AssertionError("the study made no progress")


def _ended(run_dir: Path) -> dict[str, tuple]:
    return {
        trial_id: (t["ended_at"], t["session"], len(t["reports"]))
        for trial_id, t in _trials(run_dir).items()
        if t["status"] != "running"
    }


def _check_mlflow_once(run_dir: Path) -> None:
    """Every trial has one run, every reported step of it is there once, nothing is open."""
    summary = json.loads((run_dir / "summary.json").read_text())
    client = MlflowClient(summary["tracking_uri"])
    experiment = client.get_experiment_by_name("tiny")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("leantune.kind") == "study"]
    children = {r.data.tags["leantune.trial_id"]: r for r in runs if r is not parent}
    assert parent.info.status == "FINISHED"
    reports = pd.read_parquet(run_dir / "reports.parquet")
    assert set(children) == set(reports["trial_id"])
    for trial_id, run in children.items():
        assert run.info.status == "FINISHED" and run.data.tags["leantune.status"] == "feasible"
        expected = sorted(reports.loc[reports["trial_id"] == trial_id, "step"])
        for metric in ("val_loss", "system/memory_mb", "system/train_time_s"):
            steps = [m.step for m in client.get_metric_history(run.info.run_id, metric)]
            assert sorted(steps) == expected, (trial_id, metric)


def _study(tmp_path, ray_address, epochs=2, rates=RATES):
    study = tmp_path / "study.yaml"
    resources = {**SPEC["resources"], "ray_address": ray_address}
    training = {**SPEC["training"], "epochs": epochs}
    search = {"space": {**SPEC["search"]["space"], "learning_rate": rates}}
    study.write_text(
        yaml.safe_dump(
            {
                **SPEC,
                "search": search,
                "training": training,
                "resources": resources,
                "output": {"dir": "run", "report": False},
            }
        )
    )
    return study


def test_interrupted_three_times_then_killed_a_study_resumes_to_the_end(tmp_path, ray_address):
    """SIGINT, SIGTERM, SIGINT (graceful: exit 130), then SIGKILL (nothing runs, nothing is
    closed), then `leantune resume` to the end. One study, five processes."""
    study = _study(tmp_path, ray_address)
    run_dir = tmp_path / "run"
    snapshots = []
    command = ["run", str(study)]
    for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGINT):
        process = _start(command, tmp_path)
        _wait_for_progress(run_dir, len(_ended(run_dir)) if snapshots else 0, process)
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 130, stderr
        assert "leantune resume" in stderr and "Traceback" not in stderr
        trials = _trials(run_dir)
        snapshots.append(
            (_ended(run_dir), {i for i, t in trials.items() if t["status"] == "running"})
        )
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["outcome"] == "interrupted" and summary["best"] is None
        assert len(pd.read_csv(run_dir / "trials.csv")) == len(snapshots[-1][0])
        _check_nothing_left_running(run_dir)
        command = ["resume", str(run_dir)]

    # SIGKILL: no handler runs, no file is closed properly
    process = _start(command, tmp_path)
    _wait_for_progress(run_dir, len(_ended(run_dir)), process)
    process.kill()
    process.communicate(timeout=60)
    meta = json.loads((run_dir / "state" / "study.json").read_text())  # still parses
    assert meta["sessions"][-1]["outcome"] == "running"  # it never got to say
    killed_ended = _ended(run_dir)  # every trial file parses too
    killed_running = {i for i, t in _trials(run_dir).items() if t["status"] == "running"}
    assert killed_running and not list((run_dir / "state").rglob(".*.tmp"))
    snapshots.append((killed_ended, killed_running))

    process = _start(command, tmp_path)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr

    final = _ended(run_dir)
    table = pd.read_csv(run_dir / "trials.csv")
    assert sorted(table["learning_rate"]) == sorted(RATES)  # none lost, none twice
    assert table["trial_id"].is_unique and set(table["status"]) == {"feasible"}
    assert set(final) == set(table["trial_id"])
    for session, (ended, running) in enumerate(snapshots):
        assert ended, f"session {session} ended no trial before it was stopped"
        for trial_id, before in ended.items():
            assert final[trial_id] == before  # not run again: same end time, same reports
        for trial_id in running:
            assert final[trial_id][1] > session  # ran again later, under the same id
    # the kill lost only the work of the trials it interrupted
    redone = {i for i, (_, session, _) in final.items() if session == 4}
    assert killed_running <= redone and not redone & set(killed_ended)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["outcome"] == "completed" and summary["sessions"] == 5
    assert summary["trials"] == len(RATES)
    meta = json.loads((run_dir / "state" / "study.json").read_text())
    assert [s["outcome"] for s in meta["sessions"]] == [
        "interrupted",
        "interrupted",
        "interrupted",
        "killed",
        "completed",
    ]
    _check_mlflow_once(run_dir)  # (resuming it again is refused: tests/study/test_state.py)


def _check_nothing_left_running(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    client = MlflowClient(summary["tracking_uri"])
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert runs and all(run.info.status != "RUNNING" for run in runs)


def test_a_resume_while_the_run_still_drives_is_refused_and_changes_nothing(tmp_path, ray_address):
    """Two drivers on one run directory double trials and MLflow points: the second is
    refused with the first one's PID, and the study then finishes as if it never came."""
    # Trials long enough that the study is still running when the refused resume has started
    # (a few seconds of imports and checks) and come back: an idle machine trains fast.
    study = _study(tmp_path, ray_address, epochs=6, rates=FEW_RATES)
    run_dir = tmp_path / "run"
    process = _start(["run", str(study)], tmp_path)
    _wait_for_progress(run_dir, 0, process)
    second = subprocess.run(
        [sys.executable, "-m", "leantune", "resume", str(run_dir), "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 2, second.stderr
    assert f"is being driven by another leantune process (PID {process.pid})" in second.stderr
    assert "Traceback" not in second.stderr
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    finish = _start(["resume", str(run_dir)], tmp_path)
    _, stderr = finish.communicate(timeout=300)
    assert finish.returncode == 0, stderr
    table = pd.read_csv(run_dir / "trials.csv")
    assert sorted(table["learning_rate"]) == sorted(FEW_RATES) and table["trial_id"].is_unique
    meta = json.loads((run_dir / "state" / "study.json").read_text())
    assert [s["outcome"] for s in meta["sessions"]] == ["interrupted", "completed"]
    _check_mlflow_once(run_dir)
