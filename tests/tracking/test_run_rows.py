"""Trial runs written as rows, many trials a transaction, read back as MLflow's client wrote
them (a real sqlite store)."""

import math

from mlflow.entities import Metric, RunTag
from mlflow.tracking import MlflowClient

from leantune.tracking import default_uri, open_tracker
from leantune.tracking._run_rows import RunEnd, RunStart


def _study(tmp_path, name, batched):
    tracker = open_tracker(None, name, tmp_path)
    if not batched:
        tracker._rows = None  # every write through the client, one call at a time
    tracker.start_study(name, {}, {}, "")
    for trial in range(3):
        tracker.start_trial(f"t{trial}", f"run-{trial}", {"batch_size": 8 * (trial + 1)})
    for trial in range(3):
        for step in (100, 200):
            report = {"step": step, "steps_planned": 200, "val_loss": 1.0 / step + trial}
            report["accuracy"] = math.nan if step == 100 else 0.5
            tracker.log_report(f"t{trial}", report)
        tags = {"leantune.stop_rule": "memory"} if trial == 1 else {}
        tracker.end_trial(f"t{trial}", "stopped" if trial == 1 else "feasible", tags)
    tracker.end_study({}, {}, [])
    client = MlflowClient(default_uri(tmp_path))
    experiment = client.get_experiment_by_name(name).experiment_id
    parent = tracker.parent_run_id
    runs = client.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId='{parent}'")
    return client, {run.info.run_name: run for run in runs}, parent


def test_trial_runs_written_as_rows_read_back_as_the_clients_own(tmp_path):
    client, rows, parent = _study(tmp_path / "rows", "rows", batched=True)
    by_call, calls, _ = _study(tmp_path / "calls", "calls", batched=False)
    assert rows.keys() == calls.keys() == {"run-0", "run-1", "run-2"}
    for name, run in rows.items():
        other = calls[name]
        assert run.info.status == other.info.status
        assert run.info.status == ("KILLED" if name == "run-1" else "FINISHED")
        assert run.info.end_time >= run.info.start_time > 0
        assert run.info.artifact_uri.endswith(f"{run.info.run_id}/artifacts")
        assert run.info.lifecycle_stage == "active"
        assert run.data.params == other.data.params
        assert run.data.tags["mlflow.parentRunId"] == parent
        assert run.data.tags["mlflow.runName"] == name
        ids = ("mlflow.parentRunId",)
        assert {k: v for k, v in run.data.tags.items() if k not in ids} == {
            k: v for k, v in other.data.tags.items() if k not in ids
        }
        assert run.data.metrics == other.data.metrics  # the latest value of each
        for key in ("val_loss", "accuracy"):
            mine = client.get_metric_history(run.info.run_id, key)
            theirs = by_call.get_metric_history(other.info.run_id, key)
            assert [(m.step, repr(m.value)) for m in mine] == [  # NaN included
                (m.step, repr(m.value)) for m in theirs
            ]


def test_a_progress_tag_set_while_a_trial_ran_is_replaced_when_it_ends(tmp_path):
    tracker = open_tracker(None, "exp", tmp_path)
    tracker.start_study("s", {}, {}, "")
    tracker.start_trial("t", "t", {})
    tracker._submit(tracker._set_progress, "t", "step 100 of 200 (50%)")
    tracker.log_report("t", {"step": 200, "steps_planned": 200, "val_loss": 0.5})
    tracker.end_trial("t", "feasible", {})
    tracker.end_study({}, {}, [])
    run = MlflowClient(default_uri(tmp_path)).get_run(tracker._trial_runs["t"])
    assert run.data.tags["leantune.progress"] == "ended: feasible"
    assert run.data.tags["leantune.steps_done"] == "200"
    assert run.data.metrics == {"val_loss": 0.5}


def test_a_run_closed_in_its_starting_batch_reads_as_one_closed_in_a_later_one(tmp_path):
    """A short trial's start and end reach the writer together and its run is inserted
    closed; a longer one's end updates the run its start inserted. Both read back alike."""
    tracker = open_tracker(None, "exp", tmp_path)
    tracker.start_study("s", {}, {}, "")
    rows = tracker._rows
    stamp = 1_700_000_000_000

    def start(run_id):
        tags = [RunTag("mlflow.runName", run_id), RunTag("leantune.progress", "running")]
        return RunStart(run_id, run_id, stamp, tags, [("batch_size", "8")])

    def end(run_id):
        tags = [RunTag("leantune.progress", "ended: feasible"), RunTag("leantune.status", "ok")]
        points = [Metric("val_loss", 0.5, stamp, 100), Metric("val_loss", 0.25, stamp, 200)]
        return RunEnd(run_id, "FINISHED", stamp + 5, tags, points)

    rows.write([start("together"), end("together")])
    rows.write([start("apart")])
    rows.write([end("apart")])
    client = MlflowClient(default_uri(tmp_path))
    together, apart = (client.get_run(run_id) for run_id in ("together", "apart"))
    for run in (together, apart):
        assert (run.info.status, run.info.end_time) == ("FINISHED", stamp + 5)
        assert run.data.params == {"batch_size": "8"}
        assert run.data.metrics == {"val_loss": 0.25}
        assert run.data.tags["leantune.progress"] == "ended: feasible"
    assert together.data.tags == {**apart.data.tags, "mlflow.runName": "together"}
