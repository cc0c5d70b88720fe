import itertools
import shutil
from pathlib import Path

from mlflow.tracking import MlflowClient

from leantune.results import RunDir
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


def _study_with_every_outcome(tmp_path, with_model=False):
    """A study whose trials end every way, its summary naming the chosen one, in a real store."""
    import json

    tracker = open_tracker(None, "exp", tmp_path)
    tracker.start_study("run-dir-name", {"name": "my-study", "dataset.name": "iris"}, {}, "a: 1\n")
    outcomes = {
        "ok": ("feasible", {}),
        "slow": ("stopped", {"leantune.stop_reason": "train_time_s 0.09 > 0.06 at step 233"}),
        "never": ("skipped", {"leantune.stop_reason": "not run: train_time_s predicted 0.2"}),
        "bad": ("failed", {"leantune.error": "ValueError: x"}),
        "nan": ("diverged", {"leantune.stop_reason": "validation loss is nan at step 3"}),
    }
    for trial, (status, tags) in outcomes.items():
        tracker.start_trial(trial, trial, {"batch_size": 16})
        report = {"step": 3, "fold": 0, "fold_step": 3, "progress_pct": 50.0}
        tracker.log_report(trial, {**report, "val_loss": 0.5, "objective": 0.5})
        tracker.end_trial(trial, status, tags)
    summary = tmp_path / "summary.json"
    best = {
        "trial_id": "ok",
        "config": {"model": "logistic", "batch_size": 16},
        "cv_metric": "val_accuracy",
        "cv_score_mean": 0.97,
        "test": {"test_accuracy": 0.95, "test_rows": 45.0},
    }
    summary.write_text(json.dumps({"best": best}))
    artifacts = [summary]
    if with_model:
        from sklearn.datasets import load_iris
        from sklearn.linear_model import SGDClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        from leantune.tracking import save_model

        X, y = load_iris(return_X_y=True)
        pipeline = make_pipeline(StandardScaler(), SGDClassifier(random_state=0)).fit(X, y)
        artifacts.append(save_model(pipeline, tmp_path / "model", X[:3]))
    metrics = {"best_inference_ms_per_sample": 0.0012, "best_test_accuracy": 0.95}
    tracker.end_study(metrics, {"leantune.outcome": "completed"}, artifacts)
    client = MlflowClient(default_uri(tmp_path))
    experiment = client.get_experiment_by_name("exp")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    return client, experiment, runs


def test_each_trial_run_says_in_mlflow_words_how_it_ended_and_why(tmp_path):
    _, _, runs = _study_with_every_outcome(tmp_path)
    status = {name: runs[name].info.status for name in ("ok", "slow", "never", "bad", "nan")}
    assert status == {
        "ok": "FINISHED",
        "slow": "KILLED",
        "never": "KILLED",
        "bad": "FAILED",
        "nan": "FAILED",
    }
    slow = runs["slow"].data.tags
    assert slow["leantune.status"] == "stopped"
    assert slow["leantune.reason"] == "train_time_s 0.09 > 0.06 at step 233"
    assert slow["mlflow.note.content"] == "Stopped: train_time_s 0.09 > 0.06 at step 233"
    assert runs["bad"].data.tags["leantune.reason"] == "ValueError: x"
    assert runs["ok"].data.tags["leantune.reason"] == "ran to the end within every limit"


def test_the_study_run_is_named_after_the_study_and_holds_the_pick(tmp_path):
    _, _, runs = _study_with_every_outcome(tmp_path)
    parent = runs["my-study"]  # the spec's name, not the run directory's
    assert parent.data.tags["leantune.run_name"] == "run-dir-name"
    chosen = runs["ok"]
    assert chosen.data.tags["leantune.chosen"] == "true"
    assert all("leantune.chosen" not in runs[n].data.tags for n in ("slow", "never", "bad"))
    assert parent.data.tags["leantune.chosen_run_id"] == chosen.info.run_id
    assert parent.data.tags["leantune.chosen_trial_id"] == "ok"
    assert {"chosen.model": "logistic", "chosen.batch_size": "16"}.items() <= (
        parent.data.params.items()
    )
    note = parent.data.tags["mlflow.note.content"]
    assert "Chosen config**: model=logistic, batch_size=16" in note
    assert f"/runs/{chosen.info.run_id}?workflowType=machine_learning)" in note  # a link
    assert parent.data.metrics["best_test_accuracy"] == 0.95
    # 0.0012 ms reads "0.00" in the UI; its µs twin reads 1.2
    assert abs(parent.data.metrics["best_inference_us_per_sample"] - 1.2) < 1e-9
    assert parent.data.metrics["best_inference_ms_per_sample"] == 0.0012


def test_bookkeeping_keys_stay_out_of_the_metric_charts(tmp_path):
    _, _, runs = _study_with_every_outcome(tmp_path)
    metrics = runs["ok"].data.metrics
    assert metrics == {"val_loss": 0.5}  # no fold_step, progress_pct, objective, fold, step


def test_an_mlflow_3_store_gets_the_model_as_a_logged_model_of_the_study_run(tmp_path):
    import mlflow.pyfunc
    import numpy as np
    import pytest

    client, experiment, runs = _study_with_every_outcome(tmp_path, with_model=True)
    if not hasattr(client, "search_logged_models"):
        pytest.skip("MLflow 2 has no logged models")
    parent = runs["my-study"]
    (model,) = client.search_logged_models([experiment.experiment_id])
    assert model.source_run_id == parent.info.run_id
    assert parent.data.tags["leantune.model_id"] == model.model_id
    assert str(model.status).endswith("READY")
    shown = {m.key: m.value for m in client.get_logged_model(model.model_id).metrics or []}
    assert shown["best_test_accuracy"] == 0.95 and "best_inference_us_per_sample" in shown
    assert parent.data.metrics["best_test_accuracy"] == 0.95  # the run keeps them, once each
    assert len(client.get_metric_history(parent.info.run_id, "best_test_accuracy")) == 1
    mlflow.set_tracking_uri(default_uri(tmp_path))
    try:
        loaded = mlflow.pyfunc.load_model(f"models:/{model.model_id}")
    finally:
        mlflow.set_tracking_uri(None)
    assert loaded.predict(np.ones((2, 4))).shape == (2,)
    # the run's own model/ folder stays, for `mlflow models serve -m runs:/<id>/model`
    assert "model" in {a.path for a in client.list_artifacts(parent.info.run_id)}


def test_the_chosen_model_registers_by_name_and_loads_from_the_registry(tmp_path):
    import mlflow.pyfunc
    import numpy as np
    from typer.testing import CliRunner

    from leantune.cli import app

    client, _, runs = _study_with_every_outcome(tmp_path, with_model=True)
    parent = runs["my-study"]
    # A real study's summary (tests/results/data), pointed at this store's parent run.
    summary = RunDir(Path(__file__).parents[1] / "results" / "data" / "run_7841bb0").read_summary()
    summary.mlflow_parent_run_id = parent.info.run_id
    RunDir(tmp_path).write_summary(summary)
    for version in (1, 2):  # a second registration is the name's next version
        result = CliRunner().invoke(app, ["register", str(tmp_path), "edge-classifier"])
        assert result.exit_code == 0, result.output
        assert f"registered edge-classifier version {version}: models:/edge-classifier/" in (
            result.output
        )
    (registered,) = client.search_model_versions("name = 'edge-classifier' and version_number = 1")
    assert registered.run_id == parent.info.run_id
    mlflow.set_tracking_uri(default_uri(tmp_path))
    mlflow.set_registry_uri(default_uri(tmp_path))
    try:
        loaded = mlflow.pyfunc.load_model("models:/edge-classifier/1")
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    assert loaded.predict(np.ones((2, 4))).shape == (2,)


def test_a_run_without_a_model_is_refused_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from leantune.cli import app

    open_tracker(None, "exp", tmp_path).close()
    result = CliRunner().invoke(app, ["register", str(tmp_path), "x"])
    assert result.exit_code == 2
    assert "holds no chosen model to register" in result.output
    assert "Traceback" not in result.output
