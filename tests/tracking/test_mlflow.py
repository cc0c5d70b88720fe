import itertools
import shutil

from mlflow.tracking import MlflowClient

from leantune.tracking import attach_artifacts, default_uri, open_tracker, run_store_uri


def test_a_study_and_its_trials_land_in_a_real_sqlite_store(tmp_path):
    tracker = open_tracker(None, "exp", tmp_path)
    assert (tmp_path / "mlflow.db").is_file()  # created up front, before any worker exists
    tracker.start_study("study-1", {"dataset.name": "iris"}, {"leantune.dataset": "iris"}, "a: 1\n")
    tracker.start_trial("t1", "logistic-b16", {"batch_size": 16})
    for step in range(1, 1501):  # more than one log_batch worth of points
        tracker.log_report("t1", {"step": step, "val_loss": 1.0 / step, "fold": 0, "ok": True})
    many = {f"note.{i}": str(i) for i in range(150)}  # more than one log_batch worth of tags
    tracker.end_trial("t1", "stopped", {"leantune.stop_metric": "memory_mb", **many})
    artifact = tmp_path / "summary.json"
    artifact.write_text("{}")
    tracker.end_study({"best": 0.9}, {"leantune.outcome": "completed"}, [artifact])

    client = MlflowClient(default_uri(tmp_path))
    experiment = client.get_experiment_by_name("exp")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    parent, child = runs["study-1"], runs["logistic-b16"]
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.data.tags["leantune.status"] == "stopped"
    assert many.items() <= child.data.tags.items()
    assert child.data.params == {"batch_size": "16"}
    history = client.get_metric_history(child.info.run_id, "val_loss")
    assert [m.step for m in history] == list(range(1, 1501))
    # MLflow has no booleans: stored as 1/0, and the run says so
    assert child.data.metrics["ok"] == 1.0
    assert "fold" not in child.data.metrics and "step" not in child.data.metrics
    assert "ok: bool stored as 1/0 ×1500" in child.data.tags["leantune.replaced"]
    assert parent.info.status == "FINISHED" and parent.data.metrics["best"] == 0.9
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} == {
        "spec.yaml",
        "summary.json",
    }
    assert artifact.resolve().parent == tmp_path.resolve()
    assert (tmp_path / "mlartifacts").is_dir()


def test_a_trial_of_thousands_of_reports_gets_an_evenly_thinned_series(tmp_path):
    from leantune.tracking._mlflow import MAX_TRIAL_POINTS

    tracker = open_tracker(None, "exp", tmp_path)
    tracker.start_study("s", {}, {}, "")
    tracker.start_trial("t", "t", {})
    for step in range(7, 10_001, 7):  # 1,428 reports; two folds of 5,000 steps
        tracker.log_report("t", {"step": step, "steps_planned": 10_000, "val_loss": 1.0})
        if step + 7 > 5_000 and step <= 5_000:
            tracker.log_report(
                "t",
                {"step": 5_000, "steps_planned": 10_000, "val_loss": 0.5, "fold_finished": True},
            )
    tracker.log_report(
        "t", {"step": 10_000, "steps_planned": 10_000, "val_loss": 0.25, "trial_status": "finished"}
    )
    tracker.end_trial("t", "feasible", {})
    tracker.end_study({}, {}, [])
    client = MlflowClient(default_uri(tmp_path))
    (run,) = [
        r
        for r in client.search_runs([client.get_experiment_by_name("exp").experiment_id])
        if r.info.run_name == "t"
    ]
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")]
    assert MAX_TRIAL_POINTS // 2 <= len(steps) <= MAX_TRIAL_POINTS + 2
    assert 5_000 in steps and steps[-1] == 10_000  # each fold's end and the trial's last
    assert max(b - a for a, b in itertools.pairwise(steps)) <= 2 * 10_000 / MAX_TRIAL_POINTS


def test_failed_trials_are_marked_failed_and_open_ones_are_closed(tmp_path):
    tracker = open_tracker(None, "exp", tmp_path)
    tracker.start_study("s", {}, {}, "")
    tracker.start_trial("bad", "bad", {})
    tracker.end_trial("bad", "failed", {"leantune.error": "ValueError: x"})
    tracker.start_trial("open", "open", {})
    tracker.end_study({}, {}, [], failed=True)
    client = MlflowClient(default_uri(tmp_path))
    runs = {
        r.info.run_name: r
        for r in client.search_runs([client.get_experiment_by_name("exp").experiment_id])
    }
    assert runs["bad"].info.status == "FAILED"
    # a trial still running when the study ends runs again on resume: closed, not failed
    assert runs["open"].info.status == "KILLED"
    assert runs["open"].data.tags["leantune.status"] == "interrupted"
    assert runs["s"].info.status == "FAILED"


def _history(client, run_id, key):
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


def test_a_retried_attempt_leaves_no_points_of_the_failed_one(tmp_path):
    tracker = open_tracker(None, "exp", tmp_path)
    tracker.start_study("s", {}, {}, "")
    tracker.start_trial("t", "t", {})
    for step in (10, 20):
        tracker.log_report("t", {"step": step, "val_loss": 9.0})
    tracker.restart_trial("t")  # attempt 1 failed; attempt 2 starts over
    for step in (10, 20, 30):
        tracker.log_report("t", {"step": step, "val_loss": 1.0 / step})
    tracker.log_report("t", {"step": 30, "val_loss": 0.5, "trial_status": "finished"})
    tracker.end_trial("t", "feasible", {})
    tracker.end_study({}, {}, [])
    client = MlflowClient(default_uri(tmp_path))
    (run,) = [r for r in client.search_runs(["1"]) if r.info.run_name == "t"]
    # one point per step; the closing report's value replaces the last one at the same step
    assert _history(client, run.info.run_id, "val_loss") == [(10, 0.1), (20, 0.05), (30, 0.5)]


def test_a_resumed_study_tops_up_its_runs_and_never_writes_a_step_twice(tmp_path):
    first = open_tracker(None, "exp", tmp_path)
    first.start_study("s", {}, {}, "")
    first.start_trial("done", "done", {})
    first.start_trial("open", "open", {})
    reports = [{"step": step, "val_loss": 1.0 / step} for step in (5, 10, 15)]
    for report in reports:
        first.log_report("done", report)
        first.log_report("open", report)
    first.close()  # the driver dies here: neither trial's points were written
    parent = first.parent_run_id
    client = MlflowClient(default_uri(tmp_path))
    runs = {r.info.run_name: r.info.run_id for r in client.search_runs(["1"])}
    # ... except a part of one, cut off mid-write
    from mlflow.entities import Metric

    client.log_batch(runs["done"], metrics=[Metric("val_loss", 0.2, 0, 5)])

    second = open_tracker(None, "exp", tmp_path)
    found = second.reopen_study(parent)
    assert {trial: run.status for trial, run in found.items()} == {
        "done": "RUNNING",
        "open": "RUNNING",
    }
    for trial in ("done", "open"):  # both trials write their runs again, whole
        second.start_trial(trial, trial, {})
        for report in reports:
            second.log_report(trial, report)
        second.end_trial(trial, "feasible", {})
    second.end_study({"trials": 2}, {}, [])
    after = {r.info.run_name: r for r in client.search_runs(["1"])}
    assert len(after) == 3  # the same runs: no second run for a trial
    assert _history(client, runs["done"], "val_loss") == [(5, 0.2), (10, 0.1), (15, 1 / 15)]
    assert [s for s, _ in _history(client, runs["open"], "val_loss")] == [5, 10, 15]
    assert after["open"].info.status == "FINISHED" and after["s"].info.status == "FINISHED"


def test_mlflow_tracking_uri_is_honoured_when_the_study_names_no_store(tmp_path, monkeypatch):
    elsewhere = f"sqlite:///{tmp_path / 'team.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", elsewhere)
    tracker = open_tracker(None, "exp", tmp_path / "run")
    assert tracker.uri == elsewhere
    assert not (tmp_path / "run" / "mlflow.db").exists()
    # a store the study names wins over the environment
    named = f"sqlite:///{tmp_path / 'named.db'}"
    assert open_tracker(named, "exp", tmp_path / "run").uri == named


def test_system_metrics_go_under_system_and_the_experiment_opens_on_its_runs(tmp_path):
    tracker = open_tracker(None, "exp", tmp_path)
    tracker.start_study("s", {}, {}, "")
    tracker.start_trial("t", "t", {})
    tracker.log_report(
        "t", {"step": 10, "steps_planned": 20, "val_loss": 0.5, "memory_mb": 120.0, "epoch": 0}
    )
    tracker.end_trial("t", "feasible", {})
    tracker.end_study({}, {}, [])
    client = MlflowClient(default_uri(tmp_path))
    experiment = client.get_experiment_by_name("exp")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    (run,) = [r for r in client.search_runs([experiment.experiment_id]) if r.info.run_name == "t"]
    assert set(run.data.metrics) == {"val_loss", "system/memory_mb"}
    assert run.data.tags["leantune.steps_done"] == "10"
    assert run.data.tags["leantune.steps_planned"] == "20"


def test_a_moved_run_directory_opens_its_store_and_artifacts_where_it_is_now(tmp_path):
    original = tmp_path / "run"
    tracker = open_tracker(None, "exp", original)
    tracker.start_study("s", {}, {}, "spec: 1\n")
    tracker.end_study({}, {}, [])
    recorded, run_id = tracker.uri, tracker.parent_run_id
    moved = tmp_path / "moved"
    shutil.move(original, moved)

    uri = run_store_uri(moved, recorded)
    assert uri == default_uri(moved)
    extra = tmp_path / "report.html"
    extra.write_text("<html></html>")
    attach_artifacts(uri, run_id, [extra])
    client = MlflowClient(uri)
    assert {a.path for a in client.list_artifacts(run_id)} == {"spec.yaml", "report.html"}
    assert (moved / "mlartifacts").is_dir() and not original.exists()
    # a store the study did not own stays where it was
    assert run_store_uri(moved, "http://mlflow.example:5000") == "http://mlflow.example:5000"
