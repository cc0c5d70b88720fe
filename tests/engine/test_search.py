"""Searchers and schedulers on real Ray trials: constraint feedback to TPE, ASHA provenance,
observe-only mode."""

import pytest

from leantune.datasets import load_sklearn, make_splits
from leantune.engine import LogUniform, SearchRequest, TrainingPlan, TrialData, run_search
from leantune.stoppers import from_constraints
from leantune.testing import NeverStop, RecordingObserver

pytestmark = pytest.mark.slow


def _data():
    data = load_sklearn("breast_cancer")
    splits = make_splits(data, test_size=0.3, cv_folds=2, holdout_size=0.2, seed=0)
    return TrialData(data.X, data.y, data.task, data.n_classes, splits.folds)


def _request(tmp_path, name, **options):
    defaults = dict(
        name=name,
        param_space={
            "model": ["logistic"],
            "batch_size": [1, 2, 4, 64, 128],
            "learning_rate": LogUniform(1e-3, 1e-1),
            "alpha": [1e-4],
        },
        data=_data(),
        plan=TrainingPlan(epochs=5, report_every=50),
        storage_dir=tmp_path / name,
    )
    return SearchRequest(**(defaults | options))


def test_tpe_told_about_violations_proposes_fewer_infeasible_configs_than_random(
    ray_session, tmp_path
):
    # Small batches mean many partial_fit calls: 5 epochs of 2 folds of ~200 rows make ~2,000
    # calls at batch 1, ~500 at batch 4, ~30 at batch 64. A 0.25 s training-time limit leaves
    # two of the five batch sizes feasible, with a wide gap on either side of it.
    limit = from_constraints({"train_time_s": 0.25})
    infeasible = {}
    for method in ("random", "tpe"):
        request = _request(
            tmp_path, method, method=method, num_samples=30, seed=3, max_concurrent=1
        )
        records = run_search(request, limit, RecordingObserver(), worker_policy=limit)
        assert len(records) == 30
        # Over the limit: stopped, or infeasible where the trial ran its last step before the
        # stop reached it (a slower machine's near-limit configs).
        infeasible[method] = sum(1 for r in records if r.status in ("stopped", "infeasible"))
        assert all(r.status in ("feasible", "stopped", "infeasible") for r in records), [
            r.status for r in records
        ]
    assert infeasible["tpe"] < infeasible["random"], infeasible


def test_asha_stops_are_told_apart_from_constraint_stops(ray_session, tmp_path):
    request = _request(
        tmp_path,
        "asha",
        param_space={
            "model": ["logistic", "svm"],
            "batch_size": [4, 16],
            "learning_rate": [1e-4, 1e-3, 1e-2, 1e-1],
            "alpha": [1e-4],
        },
        plan=TrainingPlan(epochs=2, report_every=5),
        scheduler={"name": "asha", "grace_period": 10, "reduction_factor": 3},
        max_concurrent=1,
    )
    records = run_search(request, NeverStop(), RecordingObserver())
    asha = [r for r in records if r.stop_reason is not None and r.stop_reason.rule == "asha"]
    assert asha, [r.status for r in records]
    for record in asha:
        assert record.status == "stopped"
        assert record.stop_reason.label == "asha"
        assert "ASHA" in record.stop_reason.describe()
    assert any(r.status == "feasible" for r in records)


def test_observe_only_runs_every_trial_to_the_end_and_marks_violations(ray_session, tmp_path):
    request = _request(
        tmp_path,
        "observe",
        param_space={
            "model": ["logistic"],
            "batch_size": [32, 64],
            "learning_rate": [0.01],
            "alpha": [1e-4],
        },
        enforce=False,
    )
    records = run_search(request, from_constraints({"memory_mb": 1}), RecordingObserver())
    for record in records:
        assert record.status == "infeasible"
        assert record.stop_reason.metric == "memory_mb"
        assert record.last["trial_status"] == "finished"
        assert record.last["step"] == record.last["steps_planned"]


def test_tpe_is_told_the_studys_objective_and_direction(tmp_path):
    from leantune.engine._tune import _searcher
    from leantune.metrics import Objective
    from leantune.trials import TrialRecord

    objective = Objective("inference_latency_ms", "min")
    request = _request(tmp_path, "objective", method="tpe", num_samples=4, mode="min")
    request = SearchRequest(**{**request.__dict__, "objective": objective})
    searcher = _searcher(request, driver=None)
    assert (searcher.metric, searcher.mode) == ("objective", "min")
    last = {"cv_score_mean": 0.9, "objective": 0.9, "inference_latency_ms": 0.002}
    record = TrialRecord("t", {"model": "logistic"}, status="feasible", reports=[last])
    from leantune.search import sampler_value

    # The objective's value, not the CV score.
    assert sampler_value(record, searcher._objective) == 0.002
    unfinished = TrialRecord("u", {}, reports=[{"cv_score_mean": 0.9}])
    assert sampler_value(unfinished, searcher._objective) is None
