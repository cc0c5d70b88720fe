"""Quality limits: judged on the finished trial's cross-validated value, never mid-trial."""

import math

from leantune.metrics import QualityBound, final_value
from leantune.stoppers import QualityPolicy, TrialHistory


def _trial(*folds, mid=0.1, finished=True):
    """Two reports a fold: a noisy mid-fold reading, then the fold's final value."""
    reports = []
    for fold, score in enumerate(folds):
        reports.append({"step": 10 * (2 * fold + 1), "fold": fold, "val_accuracy": mid})
        end = {"step": 10 * (2 * fold + 2), "fold": fold, "val_accuracy": score}
        reports.append({**end, "fold_finished": True})
    if finished:
        reports[-1].update(cv_metric="val_accuracy", cv_score_mean=sum(folds) / len(folds))
    return reports


def test_a_floor_never_stops_a_trial_mid_training_whatever_it_reads():
    policy = QualityPolicy(QualityBound("val_accuracy", 0.8))
    reports = _trial(0.7, 0.7, mid=0.05, finished=False)
    for end in range(1, len(reports) + 1):
        assert not policy.decide(TrialHistory(reports[:end])).stop


def test_a_floor_is_judged_on_the_mean_over_folds_at_the_end():
    policy = QualityPolicy(QualityBound("val_accuracy", 0.8))
    assert not policy.decide(TrialHistory(_trial(0.9, 0.75, mid=0.0))).stop  # mean 0.825
    decision = policy.decide(TrialHistory(_trial(0.8, 0.7)))
    reason = decision.reason
    assert decision.stop and reason.final and reason.rule == "quality"
    assert (reason.metric, reason.threshold, reason.detail) == ("val_accuracy", 0.8, "floor")
    assert math.isclose(reason.value, 0.75)
    assert math.isclose(reason.violation, 1 - 0.75 / 0.8)
    assert reason.label == "val_accuracy floor"
    assert reason.describe().startswith("val_accuracy 0.75 < 0.8 (floor")


def test_a_ceiling_on_rmse_is_judged_the_other_way():
    bound = QualityBound("val_rmse", 2.0)
    assert bound.kind == "max" and bound.met(1.5) and not bound.met(2.5)
    assert not bound.met(math.nan)
    reports = [{"val_rmse": 3.0, "fold_finished": True, "cv_score_mean": 3.0, "step": 5}]
    reason = QualityPolicy(bound).decide(TrialHistory(reports)).reason
    assert reason.detail == "ceiling" and math.isclose(reason.violation, 0.5)


def test_final_value_reads_the_cv_value_of_quality_and_the_last_reading_of_the_rest():
    reports = _trial(0.9, 0.7)
    reports[-1]["inference_latency_ms"] = 0.002
    assert math.isclose(final_value(reports, "val_accuracy"), 0.8)
    assert final_value(reports, "inference_latency_ms") == 0.002
    assert math.isnan(final_value(_trial(0.9, finished=False), "val_accuracy"))
    assert math.isnan(final_value([], "memory_mb"))
