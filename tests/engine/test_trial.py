import math

import numpy as np
import pytest

from leantune.datasets import load_sklearn, make_splits
from leantune.engine import DIVERGED, FAILED, FINISHED, TrainingPlan, TrialData, train_trial


def _data(name="breast_cancer", folds=2, scale=1.0):
    data = load_sklearn(name)
    splits = make_splits(data, test_size=0.3, cv_folds=folds, holdout_size=0.2, seed=0)
    return TrialData(data.X * scale, data.y, data.task, data.n_classes, splits.folds)


def _config(**changes):
    return {"model": "logistic", "batch_size": 16, "learning_rate": 0.01, "alpha": 1e-4} | changes


def _run(config, data, plan):
    reports = []
    outcome = train_trial(config, data, plan, reports.append)
    return outcome, reports


def test_reports_come_every_report_every_steps_and_at_each_fold_end():
    data = _data()
    plan = TrainingPlan(epochs=3, report_every=10)
    outcome, reports = _run(_config(), data, plan)
    expected, offset = [], 0
    for fold in data.folds:
        steps = plan.steps_per_fold(len(fold.train_idx), 16)
        fold_steps = sorted(set(range(10, steps + 1, 10)) | {steps})
        expected += [offset + s for s in fold_steps]
        offset += steps
    assert [r["step"] for r in reports] == expected
    assert outcome.status == FINISHED
    assert reports[-1]["trial_status"] == FINISHED
    assert reports[-1]["steps_planned"] == offset


def test_every_report_carries_ml_and_system_metrics():
    _, reports = _run(_config(), _data(), TrainingPlan(report_every=5))
    keys = {
        "train_loss",
        "train_loss_last",
        "val_loss",
        "val_accuracy",
        "step_time_ms",
        "window_step_time_ms",
        "train_time_s",
        "cpu_percent",
        "memory_mb",
        "memory_rise_mb",
        "fold",
        "step",
        "epoch",
    }
    for report in reports:
        assert keys <= set(report)
        assert report["memory_mb"] > 0 and report["step_time_ms"] > 0
        assert 0 <= report["val_accuracy"] <= 1
    assert reports[0]["train_loss"] > reports[-1]["train_loss"] * 0.5


def test_the_config_score_is_the_mean_and_spread_over_folds():
    outcome, reports = _run(_config(), _data(folds=3), TrainingPlan())
    final = reports[-1]
    assert len(outcome.fold_scores) == 3
    assert final["cv_score_mean"] == pytest.approx(np.mean(outcome.fold_scores))
    assert final["cv_score_std"] == pytest.approx(np.std(outcome.fold_scores))
    assert final["cv_metric"] == "val_accuracy"


def test_regression_reports_rmse():
    outcome, reports = _run(_config(model="linear"), _data("diabetes"), TrainingPlan())
    assert outcome.status == FINISHED
    assert "val_rmse" in reports[-1] and "val_accuracy" not in reports[-1]
    assert reports[-1]["cv_metric"] == "val_rmse"


def test_per_step_losses_only_when_asked():
    _, quiet = _run(_config(), _data(), TrainingPlan(report_every=5))
    _, full = _run(_config(), _data(), TrainingPlan(report_every=5, log_every_step=True))
    assert "train_loss_steps" not in quiet[0]
    assert len(full[0]["train_loss_steps"]) == 5


def test_max_steps_replaces_epochs():
    plan = TrainingPlan(max_steps=50, report_every=25)
    _, reports = _run(_config(batch_size=128), _data(), plan)
    assert [r["step"] for r in reports] == [25, 50, 75, 100]
    assert reports[-1]["epoch"] > 0


MODELS = [("linear", "diabetes"), ("logistic", "breast_cancer"), ("svm", "breast_cancer")]


@pytest.mark.parametrize(("model", "dataset"), MODELS)
def test_overflow_ends_the_trial_as_diverged_with_its_cause(model, dataset):
    outcome, reports = _run(_config(model=model), _data(dataset, scale=1e300), TrainingPlan())
    assert outcome.status == DIVERGED
    assert reports[-1]["trial_status"] == DIVERGED
    assert "diverged" in reports[-1]["error"]


@pytest.mark.parametrize("rate", [1e3, 1e6])
@pytest.mark.parametrize(("model", "dataset"), MODELS)
def test_a_silent_blow_up_is_left_for_the_divergence_policy_to_see(rate, model, dataset):
    """scikit-learn can blow up without raising; the reports carry what the policy needs."""
    from leantune.stoppers import DivergencePolicy, TrialHistory

    _, reports = _run(
        _config(model=model, learning_rate=rate), _data(dataset), TrainingPlan(report_every=5)
    )
    decisions = [
        DivergencePolicy().decide(TrialHistory(reports[: i + 1])) for i in range(len(reports))
    ]
    assert any(d.stop for d in decisions)
    first = next(d for d in decisions if d.stop)
    assert first.reason.rule == "divergence"


def test_deployment_metrics_are_reported():
    _, reports = _run(_config(), _data(), TrainingPlan(report_every=5))
    for report in reports:
        assert report["inference_latency_ms"] > 0
        assert 0.5 < report["model_size_kb"] < 10
        assert report["weight_norm"] > 0
        assert 0 < report["progress_pct"] <= 100
    assert reports[-1]["progress_pct"] == 100
    assert reports[-1]["objective"] == reports[-1]["cv_score_mean"]


def test_an_error_inside_a_trial_is_reported_not_raised():
    outcome, reports = _run(_config(model="nope"), _data(), TrainingPlan())
    assert outcome.status == FAILED
    assert reports[-1]["error"].startswith("ValueError: model must be one of")


def test_memory_rise_is_measured_from_the_trial_start():
    _, reports = _run(_config(), _data(), TrainingPlan())
    for report in reports:
        assert math.isclose(
            report["memory_rise_mb"],
            report["memory_mb"] - (reports[0]["memory_mb"] - reports[0]["memory_rise_mb"]),
        )


def test_the_minibatch_backend_reports_at_the_same_steps_with_the_same_keys():
    """One compiled call a window, yet the same cadence: every report_every steps, at each
    fold's end, across epoch boundaries inside a window."""
    data = _data()
    plans = {b: TrainingPlan(epochs=3, report_every=7, backend=b) for b in ("sklearn", "minibatch")}
    runs = {b: _run(_config(), data, plan) for b, plan in plans.items()}
    sk_reports, (mb_outcome, mb_reports) = runs["sklearn"][1], runs["minibatch"]
    assert mb_outcome.status == FINISHED
    assert [r["step"] for r in mb_reports] == [r["step"] for r in sk_reports]
    assert [r["epoch"] for r in mb_reports] == [r["epoch"] for r in sk_reports]
    assert [set(r) for r in mb_reports] == [set(r) for r in sk_reports]
    assert mb_reports[-1]["cv_score_mean"] > 0.85
    assert mb_reports[0]["train_loss"] > mb_reports[-1]["train_loss"]
    assert type(mb_outcome.estimator).__name__ == "MiniBatchSGDClassifier"


def test_under_minibatch_the_batch_size_changes_what_is_learned():
    data = _data()
    coefs = {}
    for backend in ("sklearn", "minibatch"):
        for batch_size in (4, 32):
            outcome, _ = _run(
                _config(batch_size=batch_size), data, TrainingPlan(backend=backend, shuffle=False)
            )
            coefs[backend, batch_size] = outcome.estimator.coef_
    np.testing.assert_allclose(coefs["sklearn", 4], coefs["sklearn", 32], rtol=1e-10)
    assert not np.allclose(coefs["minibatch", 4], coefs["minibatch", 32], rtol=1e-3)


def test_minibatch_keeps_each_steps_loss_when_asked():
    plan = TrainingPlan(report_every=5, log_every_step=True, backend="minibatch")
    _, reports = _run(_config(), _data(), plan)
    assert len(reports[0]["train_loss_steps"]) == 5
    assert reports[0]["train_loss_last"] == reports[0]["train_loss_steps"][-1]
    assert reports[0]["train_loss"] == pytest.approx(np.mean(reports[0]["train_loss_steps"]))


@pytest.mark.parametrize(("model", "dataset"), MODELS)
def test_minibatch_overflow_ends_the_trial_as_diverged_with_its_step(model, dataset):
    plan = TrainingPlan(backend="minibatch")
    outcome, reports = _run(_config(model=model), _data(dataset, scale=1e300), plan)
    assert outcome.status == DIVERGED
    assert reports[-1]["trial_status"] == DIVERGED
    assert reports[-1]["error"].startswith("diverged: ") and " at step " in reports[-1]["error"]


def test_minibatch_reports_inside_a_fold_score_rows_sized_to_their_window():
    """A compiled window costs microseconds: its report scores a twentieth of the rows the
    window trained (at least 256, at most report_rows), and each fold's last report every row."""
    from leantune.datasets import make_synthetic
    from leantune.engine._trial import MIN_REPORT_ROWS

    dataset = make_synthetic("wide", rows=9000, features=4, task="classification", classes=3)
    splits = make_splits(dataset, test_size=0.3, cv_folds=2, holdout_size=0.2, seed=0)
    data = TrialData(dataset.X, dataset.y, dataset.task, dataset.n_classes, splits.folds)
    for batch_size, report_every, in_fold in ((8, 10, MIN_REPORT_ROWS), (512, 20, 512 * 20 // 20)):
        plan = TrainingPlan(report_every=report_every, max_steps=40, backend="minibatch")
        _, reports = _run(_config(batch_size=batch_size), data, plan)
        fold_ends = [r for r in reports if r["fold_finished"]]
        assert {r["val_rows"] for r in reports if not r["fold_finished"]} == {in_fold}
        assert [r["val_rows"] for r in fold_ends] == [len(f.val_idx) for f in data.folds]


def test_a_trial_holds_native_thread_pools_to_its_cpus():
    from threadpoolctl import threadpool_info

    seen = []

    def report(result):
        if not seen:
            seen.extend(pool["num_threads"] for pool in threadpool_info())

    train_trial(_config(), _data(), TrainingPlan(max_steps=5, report_every=5), report, cpus=1)
    assert seen and set(seen) == {1}


def test_the_thread_pools_are_found_again_only_after_an_import(monkeypatch):
    import sys
    import types

    from leantune.engine._trial import thread_pools

    first = thread_pools()
    assert thread_pools() is first
    monkeypatch.setitem(sys.modules, "leantune_test_new_module", types.ModuleType("new"))
    assert thread_pools() is not first


@pytest.mark.parametrize("backend", ["sklearn", "minibatch"])
def test_first_reports_come_early_in_the_first_fold_only(backend):
    """The first evidence of a config's cost arrives after a few steps; the later cadence and
    the report keys are those of a plain run."""
    data = _data()
    plain = TrainingPlan(epochs=2, report_every=20, backend=backend)
    early = TrainingPlan(epochs=2, report_every=20, first_reports=(3, 8, 50), backend=backend)
    _, plain_reports = _run(_config(), data, plain)
    outcome, reports = _run(_config(), data, early)
    assert outcome.status == FINISHED
    extra = [r for r in reports if r.get("early_report")]
    # 50 is past report_every: the plain cadence already reports by then
    assert [(r["fold"], r["fold_step"]) for r in extra] == [(0, 3), (0, 8)]
    later = [r for r in reports if not r.get("early_report")]
    assert [r["step"] for r in later] == [r["step"] for r in plain_reports]
    assert set(extra[0]) - {"early_report"} == set(plain_reports[0])
    assert reports[-1]["cv_score_mean"] == pytest.approx(plain_reports[-1]["cv_score_mean"])
