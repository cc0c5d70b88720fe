"""A real tiny study end to end: Ray trials, constraint stops, MLflow on sqlite, results files."""

import json

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import leantune
from leantune.engine import TrainingPlan
from leantune.testing import tiny_spec

pytestmark = pytest.mark.slow

# Batch 1 makes ~20,000 partial_fit calls a fold, batch 128 makes 100. A call costs 50 µs to
# 5 ms on any machine we know, so the first always breaks a 1 s training-time limit and the
# second stays below it.
SPEC = tiny_spec(
    search={"space": {"batch_size": [1, 128], "learning_rate": [0.01], "alpha": [0.0001]}},
    training={"epochs": 50, "report_every": 10, "seed": 0},
    constraints={"train_time_s": 1.0, "memory_mb": 100_000},
    output={"dir": "run", "report": False},
)


@pytest.fixture(scope="module")
def finished(ray_session, tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    spec = leantune.load_spec(SPEC, [f"output.dir={root / 'run'}"])
    return leantune.run(spec, show_progress=False), root / "run"


def test_the_limit_stops_the_slow_config_and_the_fast_one_is_picked(finished):
    result, run_dir = finished
    trials = pd.read_csv(run_dir / "trials.csv").set_index("batch_size")
    assert trials.loc[1, "status"] == "stopped"
    assert trials.loc[1, "stop_metric"] == "train_time_s"
    assert trials.loc[1, "stop_value"] > 1.0
    assert trials.loc[1, "steps_done"] < trials.loc[1, "steps_planned"]
    assert trials.loc[128, "status"] == "feasible"
    assert result.best_config["batch_size"] == 128


def test_the_summary_has_the_pick_its_test_score_and_the_counts(finished):
    _, run_dir = finished
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status_counts"] == {
        "feasible": 1,
        "stopped": 1,
        "skipped": 0,
        "infeasible": 0,
        "diverged": 0,
        "failed": 0,
    }
    assert summary["stopped_by"] == {"train_time_s": 1}
    best = summary["best"]
    assert best["config"]["batch_size"] == 128
    assert 0.8 < best["test"]["test_accuracy"] <= 1.0
    assert best["cv_metric"] == "val_accuracy" and best["cv_score_std"] >= 0
    assert best["model_size_bytes"] > 0 and best["inference_ms_per_sample"] > 0
    assert summary["wall_time_s"] > 0 and summary["trial_cpu_s"] > 0
    # The trials' own time, as their workers measured it, and what ran them: the summary's
    # packing line weighs one against the study's wall time on this backend.
    assert summary["trial_wall_s"] > 0 and summary["search"]["backend"] == "ray"
    assert (run_dir / "spec.yaml").is_file()


def test_mlflow_holds_the_parent_the_children_their_histories_and_the_stop_reason(finished):
    result, run_dir = finished
    client = MlflowClient(result.summary["tracking_uri"])
    assert result.summary["tracking_uri"] == f"sqlite:///{(run_dir / 'mlflow.db').resolve()}"
    experiment = client.get_experiment_by_name("tiny")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("leantune.kind") == "study"]
    children = {r.data.tags["leantune.status"]: r for r in runs if r is not parent}
    assert set(children) == {"stopped", "feasible"}
    for child in children.values():
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        stopped = child.data.tags["leantune.status"] == "stopped"
        assert child.info.status == ("KILLED" if stopped else "FINISHED")
    # The store opens while Tune starts the first worker; the state names the run all the same.
    state = json.loads((run_dir / "state" / "study.json").read_text())
    assert state["parent_run_id"] == parent.info.run_id == result.summary["mlflow_parent_run_id"]
    assert state["tracking_uri"] == result.summary["tracking_uri"]

    stopped = children["stopped"].data.tags
    assert stopped["leantune.stop_metric"] == "train_time_s"
    assert stopped["leantune.stop_threshold"] == "1"
    assert stopped["leantune.stop_reason"].startswith("train_time_s ")

    feasible = children["feasible"]
    prepared = leantune.study.prepare_study(leantune.load_spec(SPEC))
    plan = TrainingPlan(epochs=50, report_every=10)
    expected, offset = [], 0
    # The first fold also reports at the spec's first reports below report_every (step 5).
    first = {s for s in leantune.load_spec(SPEC).training.first_reports if s < 10}
    for fold in prepared.splits.folds:
        steps = plan.steps_per_fold(len(fold.train_idx), 128)
        early = first if offset == 0 else set()
        expected += [offset + s for s in sorted(set(range(10, steps + 1, 10)) | {steps} | early)]
        offset += steps
    for metric in ("val_loss", "val_accuracy", "system/memory_mb", "system/step_time_ms"):
        history = client.get_metric_history(feasible.info.run_id, metric)
        assert [m.step for m in history] == expected, metric
    assert parent.data.metrics["trials_stopped"] == 1
    # bookkeeping is not a metric; the step counts are tags
    assert not {"fold", "epoch", "steps_planned", "val_rows", "fold_finished", "step"} & set(
        feasible.data.metrics
    )
    assert feasible.data.tags["leantune.steps_done"] == feasible.data.tags["leantune.steps_planned"]
    assert "leantune.replaced" not in feasible.data.tags
    experiment_tags = client.get_experiment(parent.info.experiment_id).tags
    assert experiment_tags["mlflow.experimentKind"] == "custom_model_development"
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {
        "spec.yaml",
        "trials.csv",
        "summary.json",
    }


def test_when_every_trial_breaks_a_limit_there_is_no_pick(ray_session, in_tmp):
    spec = leantune.load_spec(SPEC, ["constraints.memory_mb=1", "output.dir=strict"])
    result = leantune.run(spec, show_progress=False)
    assert result.final is None and result.summary["best"] is None
    assert result.summary["status_counts"]["stopped"] == 2
    assert result.summary["stopped_by"] == {"memory_mb": 2}


def test_a_bad_spec_creates_nothing(in_tmp):
    with pytest.raises(leantune.SpecError):
        leantune.run(tiny_spec(training={"report_every": 0}))
    with pytest.raises(leantune.LeantuneError):
        leantune.run(tiny_spec(search={"space": {"batch_size": [4096]}}))
    assert list(in_tmp.iterdir()) == []


def test_an_existing_run_directory_is_never_overwritten(in_tmp):
    (in_tmp / "taken").mkdir()
    (in_tmp / "taken" / "summary.json").write_text("{}")
    with pytest.raises(leantune.SpecError, match="already holds files"):
        leantune.run(tiny_spec(output={"dir": "taken"}))


def test_under_a_container_limit_memory_constraints_stop_at_that_limit(
    ray_session, in_tmp, monkeypatch
):
    """The driver reads a (fake) cgroup v2 limit of 150 MB, below what a trial's worker holds:
    the study's 100,000 MB memory constraint is enforced at 150 MB and every trial stops."""
    from leantune.metrics import MemoryLimit

    fake = MemoryLimit(150.0, "cgroup v2", in_tmp / "memory.max")
    monkeypatch.setattr("leantune.study._prepare.memory_limit", lambda: fake)
    spec = leantune.load_spec(SPEC, ["output.dir=contained", "training.epochs=1"])
    result = leantune.run(spec, show_progress=False)
    assert result.summary["stopped_by"] == {"memory_mb": 2}
    assert result.summary["memory_limit"] == {
        "limit_mb": 150.0,
        "source": "cgroup v2",
        "file": str(in_tmp / "memory.max"),
        "capped_constraints": {"memory_mb": {"given": 100_000, "enforced": 150.0}},
    }
    trials = pd.read_csv(in_tmp / "contained" / "trials.csv")
    assert set(trials["stop_threshold"]) == {150.0}
