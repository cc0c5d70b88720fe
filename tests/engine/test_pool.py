"""Trial packing on Ray (`resources.backend: ray-pool`): the process pool's workers as Ray
actors, on the suite's shared local Ray. The same configs, decisions and records as the other
backends; each trial its own history and MLflow run."""

import os
import signal
import threading
import time

import pytest
from mlflow.tracking import MlflowClient
from tests.search.test_matrix import _study, run_in_process

import leantune
from leantune.engine import Fault, RayPoolBackend
from leantune.study._policies import build_decisions
from leantune.study._prepare import prepare_study
from leantune.study._search import search, search_request, training_plan
from leantune.testing import RecordingObserver, tiny_spec

pytestmark = pytest.mark.slow


def _run_on_the_pool(spec, faults=()):
    prepared = prepare_study(spec)
    decisions = build_decisions(spec, prepared.memory)
    request = search_request(prepared, training_plan(prepared, decisions), faults=faults)
    return search(request, decisions, RecordingObserver(), RayPoolBackend())


def test_a_packed_study_runs_every_config_once_with_its_own_history_and_run(ray_session, tmp_path):
    spec = leantune.load_spec(
        tiny_spec(
            search={"space": {"batch_size": [16, 64], "learning_rate": [0.1, 0.01]}},
            resources={"backend": "ray-pool"},
            output={"dir": str(tmp_path / "run"), "report": False},
        )
    )
    result = leantune.run(spec, show_progress=False)
    trials = result.trials
    assert len(trials) == 4 and set(trials.status) == {"feasible"}
    assert sorted(zip(trials.batch_size, trials.learning_rate, strict=True)) == [
        (16, 0.01),
        (16, 0.1),
        (64, 0.01),
        (64, 0.1),
    ]
    # Each record names the Ray node its worker ran on: this one machine's.
    assert set(trials.node_id) == {ray_session.get_runtime_context().get_node_id()}
    client = MlflowClient(result.summary["tracking_uri"])
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    children = [r for r in runs if r.data.tags.get("leantune.kind") == "trial"]
    assert sorted(r.data.tags["leantune.trial_id"] for r in children) == sorted(trials.trial_id)
    for run in children:
        assert len(client.get_metric_history(run.info.run_id, "val_loss")) >= 2


@pytest.mark.parametrize("policy", ["constraint", "skip"])
def test_the_pool_on_ray_stops_and_skips_as_the_in_process_backend_does(
    ray_session, tmp_path, policy
):
    packed = _run_on_the_pool(_study(tmp_path / "packed", "grid", policy))
    alone = run_in_process(_study(tmp_path / "alone", "grid", policy))

    def outcome(records):
        return sorted((str(sorted(r.config.items())), r.status) for r in records)

    assert outcome(packed) == outcome(alone)
    assert len({r.trial_id for r in packed}) == len(packed) == 4
    for record in packed:
        assert record.reports  # its own history, however it ended


def test_a_killed_actor_is_replaced_and_its_trial_retried(ray_session, tmp_path):
    markers = tmp_path / "attempts"
    # Slow enough that its actor is still training it when it is killed.
    slow = Fault(
        match={"batch_size": 16, "learning_rate": 0.1},
        sleep_s_per_step=0.03,
        marker_dir=str(markers),
    )

    def kill_the_first_attempt():
        deadline = time.monotonic() + 60
        while not (markers / "attempt-1").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        os.kill(int((markers / "attempt-1").read_text()), signal.SIGKILL)

    spec = leantune.load_spec(
        tiny_spec(
            search={"space": {"batch_size": [16, 64], "learning_rate": [0.1, 0.01]}},
            resources={"backend": "ray-pool", "max_failures": 1},
            output={"dir": str(tmp_path / "run"), "report": False},
        )
    )
    killer = threading.Thread(target=kill_the_first_attempt, daemon=True)
    killer.start()
    records = _run_on_the_pool(spec, faults=(slow,))
    killer.join()
    assert len(records) == 4 and {r.status for r in records} == {"feasible"}
    (retried,) = [r for r in records if r.attempts == 2]
    assert retried.config["batch_size"] == 16 and retried.config["learning_rate"] == 0.1
    assert "WorkerDied" in retried.attempt_errors[0]


def test_a_packed_study_may_name_a_cluster():
    spec = leantune.load_spec(tiny_spec(resources={"backend": "ray-pool", "ray_address": "auto"}))
    assert spec.resources.uses_ray and spec.resources.ray_address == "auto"
