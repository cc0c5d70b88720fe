"""A step size far too large, or features far too large, ends a trial `diverged` on the real
engine, whether scikit-learn raises (overflow) or blows up silently (no error, huge losses)."""

import pytest

from leantune.datasets import load_sklearn, make_splits
from leantune.engine import SearchRequest, TrainingPlan, TrialData, run_search
from leantune.stoppers import AnyOf, DivergencePolicy, from_constraints
from leantune.testing import RecordingObserver

pytestmark = pytest.mark.slow

# Engine-level on one model; every model's loop behaves the same (tests/engine/test_trial.py).
CASES = [("diabetes", "linear")]


def _search(tmp_path, dataset, model, learning_rates, scale=1.0):
    data = load_sklearn(dataset)
    splits = make_splits(data, test_size=0.3, cv_folds=2, holdout_size=0.2, seed=0)
    request = SearchRequest(
        name="d",
        param_space={
            "model": [model],
            "batch_size": [16],
            "learning_rate": learning_rates,
            "alpha": [1e-4],
        },
        data=TrialData(data.X * scale, data.y, data.task, data.n_classes, splits.folds),
        plan=TrainingPlan(report_every=5),
        storage_dir=tmp_path / "ray",
    )
    # What a study runs by default: divergence on, next to the (here empty) constraints.
    policy = AnyOf([DivergencePolicy(), from_constraints({})])
    return run_search(request, policy, RecordingObserver(), worker_policy=policy)


@pytest.mark.parametrize(("dataset", "model"), CASES)
def test_a_huge_learning_rate_diverges_silently_and_the_policy_ends_it(
    ray_session, tmp_path, dataset, model
):
    records = _search(tmp_path, dataset, model, [1e3, 1e6])
    assert sorted(r.config["learning_rate"] for r in records) == [1e3, 1e6]
    for record in records:
        assert record.status == "diverged", record
        # scikit-learn raised nothing: the divergence policy saw the loss explode
        assert record.stop_reason.rule == "divergence"
        assert record.stop_reason.metric == "val_loss"
        assert record.last["step"] < record.last["steps_planned"]


@pytest.mark.parametrize(("dataset", "model"), CASES)
def test_features_scaled_by_1e300_overflow_and_the_trial_ends_diverged(
    ray_session, tmp_path, dataset, model
):
    (record,) = _search(tmp_path, dataset, model, [0.01], scale=1e300)
    assert record.status == "diverged"
    # here scikit-learn raised (overflow); the trial loop caught it and said why
    assert record.error.startswith("diverged: ")
    assert record.last["trial_status"] == "diverged"
