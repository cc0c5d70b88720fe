"""Values MLflow cannot store as given are stored, and flagged, never dropped or cut short."""

import math

import pytest
from mlflow.tracking import MlflowClient
from mlflow.utils import validation

from leantune.tracking import default_uri, open_tracker
from leantune.tracking._values import (
    FLOAT_MAX,
    MAX_KEY,
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    is_metric_name,
    metric_value,
    safe_metric_name,
    split_text,
)


def test_our_limits_are_mlflows():
    assert MAX_PARAM_VALUE == validation.MAX_PARAM_VAL_LENGTH
    assert MAX_TAG_VALUE == validation.MAX_TAG_VAL_LENGTH
    assert MAX_KEY == validation.MAX_ENTITY_KEY_LENGTH


@pytest.mark.parametrize(
    ("value", "stored", "how"),
    [
        (1.5, 1.5, None),
        (3, 3.0, None),
        (True, 1.0, "bool stored as 1/0"),
        (False, 0.0, "bool stored as 1/0"),
        (math.inf, FLOAT_MAX, "+inf stored as 1.797e308"),
        (-math.inf, -FLOAT_MAX, "-inf stored as -1.797e308"),
        ("feasible", None, None),
        (None, None, None),
    ],
)
def test_each_value_becomes_one_mlflow_keeps(value, stored, how):
    assert metric_value(value) == (stored, how)


def test_nan_is_kept_as_nan_and_noted():
    stored, how = metric_value(float("nan"))
    assert math.isnan(stored) and how == "NaN stored as NaN"


def test_numpy_scalars_are_numbers_too():
    np = pytest.importorskip("numpy")
    assert metric_value(np.float32(2.5)) == (2.5, None)
    assert metric_value(np.int64(7)) == (7.0, None)
    assert metric_value(np.bool_(True)) == (1.0, "bool stored as 1/0")


@pytest.mark.parametrize(
    "name", ["val_loss", "train_loss_step", "fold/0/val_loss", "memory-mb", "_private", "a.b"]
)
def test_our_rule_accepts_the_names_we_report(name):
    assert is_metric_name(name)
    assert validation.validate_param_and_metric_name(name)  # and MLflow would too


@pytest.mark.parametrize(
    "name", ["val loss", "a:b", "1st", "/abs", "a//b", "a/../b", "ü_loss", "x" * 251, ""]
)
def test_our_rule_rejects_names_mlflow_may_refuse_or_read_as_paths(name):
    assert not is_metric_name(name)
    assert is_metric_name(safe_metric_name(name))


def test_every_metric_a_trial_reports_follows_our_rule():
    from leantune.datasets import load_sklearn, make_splits
    from leantune.engine import TrainingPlan, TrialData, train_trial

    data = load_sklearn("iris")
    splits = make_splits(data, test_size=0.3, cv_folds=2, holdout_size=0.2, seed=0)
    reports = []
    train_trial(
        {"model": "logistic", "batch_size": 16, "learning_rate": 0.01, "alpha": 1e-4},
        TrialData(data.X, data.y, data.task, data.n_classes, splits.folds),
        TrainingPlan(report_every=2),
        reports.append,
    )
    names = {key for report in reports for key in report}
    assert names and all(is_metric_name(name) for name in names)


def test_a_long_text_is_split_into_parts_that_join_back():
    text = "".join(str(i % 10) for i in range(13_000))
    parts = split_text("spec.search.space.alpha", text, MAX_PARAM_VALUE)
    assert [key for key, _ in parts] == [
        "spec.search.space.alpha",
        "spec.search.space.alpha.part2",
        "spec.search.space.alpha.part3",
    ]
    assert "".join(part for _, part in parts) == text
    assert all(len(part) <= MAX_PARAM_VALUE for _, part in parts)


def test_a_real_store_holds_every_value_and_the_runs_say_what_was_replaced(tmp_path):
    tracker = open_tracker(None, "exp", tmp_path)
    long_param = "0.001, " * 1200  # 8,400 characters: MLflow would cut it at 6,000
    long_error = "ValueError: " + "x" * 9000  # MLflow would cut it at 8,000
    tracker.start_study("study", {"search.space.alpha": long_param}, {}, "")
    tracker.start_trial("t1", "t1", {"note": long_param})
    reports = [
        # fold_finished is bookkeeping (not a metric); a boolean a trial reports is stored 1/0
        {"step": 1, "val_loss": 0.5, "train_loss": math.nan, "converged": False},
        {"step": 2, "val_loss": math.inf, "train_loss": 0.4, "converged": True},
        {"step": 3, "val_loss": -math.inf, "val loss": 7.0, "trial_status": "diverged"},
    ]
    for report in reports:
        tracker.log_report("t1", report)
    tracker.end_trial("t1", "diverged", {"leantune.error": long_error})
    tracker.end_study({"best": math.nan}, {}, [])
    assert tracker.write_failures == 0

    client = MlflowClient(default_uri(tmp_path))
    runs = {
        r.info.run_name: r
        for r in client.search_runs([client.get_experiment_by_name("exp").experiment_id])
    }
    parent, child = runs["study"], runs["t1"]
    history = {
        key: [(m.step, m.value) for m in client.get_metric_history(child.info.run_id, key)]
        for key in ("val_loss", "train_loss", "converged", "renamed/val_loss")
    }
    assert history["val_loss"] == [(1, 0.5), (2, FLOAT_MAX), (3, -FLOAT_MAX)]
    assert math.isnan(history["train_loss"][0][1]) and history["train_loss"][1] == (2, 0.4)
    assert history["converged"] == [(1, 0.0), (2, 1.0)]
    assert history["renamed/val_loss"] == [(3, 7.0)]  # an invalid name renamed, not dropped
    replaced = child.data.tags["leantune.replaced"]
    for note in (
        "val_loss: +inf stored as 1.797e308 ×1",
        "val_loss: -inf stored as -1.797e308 ×1",
        "train_loss: NaN stored as NaN ×1",
        "converged: bool stored as 1/0 ×2",
        "val loss: name renamed to 'renamed/val_loss' ×1",
    ):
        assert note in replaced
    # long texts: whole, in parts, and said so
    tags, params = child.data.tags, child.data.params
    assert tags["leantune.error"] + tags["leantune.error.part2"] == long_error
    assert (
        "leantune.error: tag of 9012 characters split into 2 parts"
        in (tags["leantune.replaced_tags"])
    )
    assert params["note"] + params["note.part2"] == long_param
    assert "split into 2 parts" in tags["leantune.replaced_params"]
    assert (
        parent.data.params["search.space.alpha"] + parent.data.params["search.space.alpha.part2"]
        == long_param
    )
    assert "search.space.alpha: param of 8400 characters" in parent.data.tags["leantune.replaced"]
    assert math.isnan(parent.data.metrics["best"])
