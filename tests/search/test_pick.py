"""The pick: float-noise ties go to the cheapest config; quality-rule stops stay candidates."""

import pytest

from leantune.metrics import Objective
from leantune.search import pick_best
from leantune.search._pick import SCORE_TOLERANCE
from leantune.stoppers import StopReason
from leantune.trials import FEASIBLE, INFEASIBLE, STOPPED, TrialRecord


def _trial(trial_id, batch, score, seconds, status=FEASIBLE, reason=None, complete=True):
    last = {"train_time_s": seconds, "steps_planned": 1000 // batch, "val_rmse": score}
    if complete:
        last.update(cv_score_mean=score, cv_metric="val_rmse", fold_finished=True)
    config = {"model": "linear", "batch_size": batch, "learning_rate": 0.01, "alpha": 1e-4}
    return TrialRecord(
        trial_id, config, status=status, stop_reason=reason, reports=[last], ended_at=1.0
    )


def test_scores_that_differ_by_float_noise_are_a_tie_won_by_the_cheapest():
    # Five batch sizes learn the same weights; their RMSEs differ in the 15th digit, and the
    # best by a hair is the costliest.
    trials = [
        _trial("b1", 1, 0.5 - 5e-15, 1.14),
        _trial("b2", 2, 0.5 - 3e-15, 0.6),
        _trial("b8", 8, 0.5, 0.12),
        _trial("b64", 64, 0.5 + 1e-15, 0.017),
        _trial("b32", 32, 0.5 + 2e-15, 0.03),
    ]
    pick = pick_best(trials, Objective("val_rmse", "min"))
    assert pick.record.trial_id == "b64"
    tie = pick.tie()
    assert set(tie["tied_trials"]) == {"b1", "b2", "b8", "b32"}
    assert tie["tolerance"] == SCORE_TOLERANCE and tie["chosen_cost_s"] == 0.017


def test_a_real_difference_is_not_a_tie():
    trials = [_trial("better", 1, 0.40, 1.0), _trial("cheaper", 64, 0.41, 0.01)]
    pick = pick_best(trials, Objective("val_rmse", "min"))
    assert pick.record.trial_id == "better" and pick.tie() is None


def test_a_trial_a_quality_rule_ended_is_a_candidate_on_what_it_reached():
    prechelt = StopReason("prechelt", "val_loss", 1.2, 1.0, 300, "GL: 6 > 5")
    trials = [
        _trial("full", 8, 0.45, 0.1),
        _trial("early", 8, 0.42, 0.05, STOPPED, prechelt, complete=False),
    ]
    pick = pick_best(trials, Objective("val_rmse", "min"))
    assert pick.record.trial_id == "early" and pick.reached


def test_a_trial_a_limit_ended_is_never_a_candidate():
    over = StopReason("constraint", "train_time_s", 2.0, 1.0, 300)
    trials = [
        _trial("fits", 8, 0.45, 0.1),
        _trial("stopped", 8, 0.1, 2.0, STOPPED, over, complete=False),
        _trial("infeasible", 8, 0.1, 2.0, INFEASIBLE, over),
    ]
    assert pick_best(trials, Objective("val_rmse", "min")).record.trial_id == "fits"


def test_excluded_configs_give_the_next_best():
    trials = [_trial("a", 8, 0.4, 0.1), _trial("b", 8, 0.5, 0.1)]
    assert pick_best(trials, "regression", exclude={"a"}).record.trial_id == "b"
    assert pick_best(trials, "regression", exclude={"a", "b"}) is None


def _folds(trial_id, scores, status=FEASIBLE, reason=None):
    """One report at the end of each fold (all folds: complete, with the CV mean)."""
    reports = [
        {"fold": fold, "val_accuracy": score, "fold_finished": True, "train_time_s": 1.0}
        for fold, score in enumerate(scores)
    ]
    if status == FEASIBLE:
        reports[-1].update(cv_score_mean=sum(scores) / len(scores), cv_metric="val_accuracy")
    config = {"model": "svm", "batch_size": 8, "learning_rate": len(scores), "alpha": 1e-4}
    return TrialRecord(trial_id, config, status=status, stop_reason=reason, reports=reports)


def test_a_trial_cut_short_is_compared_on_the_folds_it_reached():
    """kddcup-5k under ASHA: a trial stopped after two easy folds reached a mean above the best
    complete trial's, yet was behind it on those very folds. It is scored as the complete
    trial's mean plus its paired difference there, so it loses; one ahead on them still wins."""
    asha = StopReason("asha", "val_accuracy", 0.99, 0.99, 4)
    best = _folds("complete", [0.991, 0.988, 0.983, 0.986, 0.988])  # mean 0.9872
    behind = _folds("behind", [0.990, 0.987], STOPPED, asha)  # reached 0.9885
    objective = Objective("val_accuracy", "max")
    pick = pick_best([best, behind], objective)
    assert pick.record.trial_id == "complete"
    ahead = _folds("ahead", [0.995, 0.990], STOPPED, asha)
    pick = pick_best([best, behind, ahead], objective)
    assert pick.record.trial_id == "ahead" and pick.reached
    assert pick.value == pytest.approx(0.9872 + (0.995 - 0.991 + 0.990 - 0.988) / 2)
