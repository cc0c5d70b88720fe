"""Each policy on hand-made histories: no Ray, no training, milliseconds."""

import math

import pytest

from leantune.stoppers import (
    AnyOf,
    ConstraintPolicy,
    DivergencePolicy,
    PatiencePolicy,
    PrecheltPolicy,
    PredictivePolicy,
    StopReason,
    TrialHistory,
    generalization_loss,
    predict_final,
    replay,
    training_progress,
)


def _reports(**series):
    """Reports 1..n with step = 100·i, fold 0, and each named series as a metric."""
    n = len(next(iter(series.values())))
    return [
        {
            "step": 100 * (i + 1),
            "fold": 0,
            "fold_step": 100 * (i + 1),
            **{name: values[i] for name, values in series.items()},
        }
        for i in range(n)
    ]


def _first_stop(policy, reports):
    """1-based index of the report at which the policy first stops, or None."""
    for i in range(len(reports)):
        if policy.decide(TrialHistory(reports[: i + 1])).stop:
            return i + 1
    return None


# --- constraint: grace period and sustained violations -------------------------------------


def test_grace_steps_hold_off_a_stop_until_enough_steps_ran():
    reports = _reports(memory_mb=[300, 300, 300])
    assert _first_stop(ConstraintPolicy("memory_mb", 200, grace_steps=250), reports) == 3


def test_sustained_needs_consecutive_violations():
    reports = _reports(step_time_ms=[6, 4, 6, 6, 6])
    assert _first_stop(ConstraintPolicy("step_time_ms", 5, sustained=2), reports) == 4
    assert _first_stop(ConstraintPolicy("step_time_ms", 5, sustained=1), reports) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [({"grace_steps": -1}, "grace_steps"), ({"sustained": 0}, "'sustained'")],
)
def test_constraint_options_are_checked(options, message):
    with pytest.raises(ValueError, match=message):
        ConstraintPolicy("memory_mb", 1, **options)


# --- predictive -----------------------------------------------------------------------------


def test_train_time_is_elapsed_plus_remaining_steps_at_the_recent_cost():
    # 0.1 s per 100 steps so far, 1,000 steps planned: 0.3 s now + 700 steps × 1 ms = 1.0 s.
    reports = _reports(train_time_s=[0.1, 0.2, 0.3])
    for r in reports:
        r["steps_planned"] = 1000
    assert predict_final("train_time_s", reports, reports[-1])[0] == pytest.approx(1.0)


def test_step_time_average_is_forecast_from_recent_windows():
    reports = _reports(step_time_ms=[1.0, 1.5], window_step_time_ms=[1.0, 2.0])
    for r in reports:
        r["steps_planned"] = 1000
    # 200 steps at an average of 1.5 ms, 800 more at the recent 1.5 (median of 1, 2) ms.
    assert predict_final("step_time_ms", reports, reports[-1])[0] == pytest.approx(1.5)


def test_memory_trend_is_robust_to_one_outlier():
    reports = _reports(memory_mb=[100, 110, 500, 130, 140])
    for r in reports:
        r["steps_planned"] = 1500
    # Theil–Sen slope of the four regular points is 0.1 MB a step; the spike does not move it.
    assert predict_final("memory_mb", reports, reports[-1])[0] == pytest.approx(140 + 0.1 * 1000)


def test_memory_that_shrinks_is_not_extrapolated_down():
    reports = _reports(memory_mb=[300, 250, 200])
    for r in reports:
        r["steps_planned"] = 1000
    assert predict_final("memory_mb", reports, reports[-1])[0] == 200


def test_predictive_acts_before_the_reactive_rule_and_says_it_predicted():
    times = [0.1 * i for i in range(1, 11)]  # 1.0 s at step 1000, 100 ms per 100 steps
    reports = _reports(train_time_s=times)
    for r in reports:
        r["steps_planned"] = 1000
    reactive = _first_stop(ConstraintPolicy("train_time_s", 0.55), reports)
    predictive = PredictivePolicy({"train_time_s": 0.55}, margin=0.1)
    early = _first_stop(predictive, reports)
    # Three reports by default: two readings give a slope but no bound on it.
    assert reactive == 6 and early == 3
    reason = predictive.decide(TrialHistory(reports[:3])).reason
    assert reason.rule == "predictive" and reason.predicted
    assert reason.label == "predicted train_time_s"
    assert reason.value == pytest.approx(1.0)
    assert reason.violation == pytest.approx(1.0 / 0.55 - 1)


def test_the_margin_spares_trials_forecast_just_over_the_limit():
    reports = _reports(train_time_s=[0.1, 0.2, 0.3])
    for r in reports:
        r["steps_planned"] = 1000  # forecast: 1.0 s
    assert _first_stop(PredictivePolicy({"train_time_s": 0.95}, margin=0.1), reports) is None
    assert _first_stop(PredictivePolicy({"train_time_s": 0.95}, margin=0.0), reports) == 3


def test_predictive_waits_for_enough_reports_and_ignores_unpredictable_limits():
    reports = _reports(train_time_s=[0.5], cpu_percent=[400.0])
    reports[0]["steps_planned"] = 1000
    assert _first_stop(PredictivePolicy({"train_time_s": 0.6}), reports) is None
    assert PredictivePolicy({"cpu_percent": 50}).constraints == {}


# --- Prechelt 1998 --------------------------------------------------------------------------


def test_generalization_loss_and_training_progress_follow_the_paper():
    assert generalization_loss([1.0, 0.8, 0.88]) == pytest.approx(10.0)  # 100·(0.88/0.8 − 1)
    # strip 1.0, 0.9, 0.8: 1000·(2.7 / (3·0.8) − 1) = 125
    assert training_progress([1.0, 0.9, 0.8]) == pytest.approx(125.0)


def test_gl_stops_at_the_first_report_past_alpha():
    # E_opt = 0.80 from report 3; GL at reports 4, 5, 6 = 2.5, 5.0, 6.25 (%)
    val = [1.0, 0.9, 0.80, 0.82, 0.84, 0.85]
    assert _first_stop(PrecheltPolicy("GL", alpha=5), _reports(val_loss=val)) == 6
    assert _first_stop(PrecheltPolicy("GL", alpha=2), _reports(val_loss=val)) == 4


def test_pq_checks_the_quotient_at_strip_ends_only():
    # strip k=2. At t=4: GL = 100·(0.84/0.8 − 1) = 5; P_2 = 1000·((0.5+0.5)/(2·0.5) − 1) = 0
    # → quotient infinite → stop. At t=2 GL is 0 (still improving) → no stop; t=3 is no end.
    val = [1.0, 0.8, 0.9, 0.84]
    train = [0.6, 0.55, 0.5, 0.5]
    reports = _reports(val_loss=val, train_loss=train)
    assert _first_stop(PrecheltPolicy("PQ", alpha=1.0, strip=2), reports) == 4


def test_pq_with_training_still_progressing():
    # k=2, t=4: GL = 100·(0.9/0.8 − 1) = 12.5; P_2 = 1000·((0.4+0.2)/(2·0.2) − 1) = 500
    # quotient 0.025: stops for alpha 0.02, not for alpha 0.05.
    reports = _reports(val_loss=[1.0, 0.8, 0.85, 0.9], train_loss=[0.8, 0.6, 0.4, 0.2])
    assert _first_stop(PrecheltPolicy("PQ", alpha=0.02, strip=2), reports) == 4
    assert _first_stop(PrecheltPolicy("PQ", alpha=0.05, strip=2), reports) is None


def test_up_stops_after_s_successive_rising_strips():
    # strip k=2; strip ends t=2,4,6,8 have E_va 0.5, 0.6, 0.7, 0.65.
    val = [0.6, 0.5, 0.55, 0.6, 0.62, 0.7, 0.6, 0.65]
    reports = _reports(val_loss=val)
    assert _first_stop(PrecheltPolicy("UP", strip=2, successive=1), reports) == 4
    assert _first_stop(PrecheltPolicy("UP", strip=2, successive=2), reports) == 6
    assert _first_stop(PrecheltPolicy("UP", strip=2, successive=3), reports) is None


def test_prechelt_looks_at_the_current_fold_only():
    reports = _reports(val_loss=[1.0, 0.5, 0.9, 0.95])
    for r in reports[2:]:
        r["fold"] = 1  # a fresh model: 0.9 is its own best, not 80% worse than fold 0's 0.5
    assert _first_stop(PrecheltPolicy("GL", alpha=5), reports) == 4  # 100·(0.95/0.9 − 1) = 5.6


def test_prechelt_arguments_are_checked():
    with pytest.raises(ValueError, match="'criterion'.*Got 'XX'"):
        PrecheltPolicy("XX")
    with pytest.raises(ValueError, match="'strip'"):
        PrecheltPolicy("PQ", strip=0)


# --- patience -------------------------------------------------------------------------------


def test_patience_stops_after_n_reports_without_improvement():
    reports = _reports(val_loss=[1.0, 0.8, 0.81, 0.80, 0.82, 0.7])
    assert _first_stop(PatiencePolicy("val_loss", patience=3), reports) == 5
    assert _first_stop(PatiencePolicy("val_loss", patience=4), reports) is None


def test_patience_knows_accuracy_is_maximized():
    reports = _reports(val_accuracy=[0.5, 0.9, 0.85, 0.88])
    reason = PatiencePolicy("val_accuracy", patience=2).decide(TrialHistory(reports)).reason
    assert reason.rule == "patience" and reason.threshold == 0.9


# --- divergence -----------------------------------------------------------------------------


def test_divergence_catches_non_finite_losses():
    reports = _reports(val_loss=[1.0, math.inf])
    reason = DivergencePolicy().decide(TrialHistory(reports)).reason
    assert reason.rule == "divergence" and "inf" in reason.describe()


def test_divergence_catches_weights_collapsed_to_zero():
    reports = _reports(val_loss=[0.69, 0.69], weight_norm=[0.3, 0.0])
    assert _first_stop(DivergencePolicy(), reports) == 2
    assert _first_stop(DivergencePolicy(zero_weights=False), reports) is None


def test_divergence_catches_an_exploding_validation_loss():
    reports = _reports(val_loss=[50.0, 2e3, 2e5], val_loss_start=[100.0] * 3)
    assert _first_stop(DivergencePolicy(explode_factor=1e3), reports) == 3
    assert _first_stop(DivergencePolicy(explode_factor=10), reports) == 2


# --- provenance and replay ------------------------------------------------------------------


def test_stop_reasons_label_and_describe_themselves():
    constraint = StopReason("constraint", "memory_mb", 231.5, 200, 300)
    assert constraint.label == "memory_mb" and constraint.violation == pytest.approx(0.1575)
    prechelt = StopReason("prechelt", "val_loss", 7.2, 5, 400, detail="GL 7.2 > 5")
    assert prechelt.label == "prechelt GL" and prechelt.violation == 0
    assert prechelt.describe() == "prechelt: GL 7.2 > 5 at step 400"
    assert prechelt.as_dict()["label"] == "prechelt GL"


def test_any_of_combines_different_policies():
    reports = _reports(val_loss=[1.0, 0.8, 0.9], memory_mb=[100, 100, 100])
    policy = AnyOf([ConstraintPolicy("memory_mb", 500), PrecheltPolicy("GL", alpha=5)])
    assert policy.decide(TrialHistory(reports)).reason.rule == "prechelt"


def test_replay_runs_a_policy_over_stored_histories():
    histories = {
        "a": _reports(memory_mb=[100, 250, 300]),
        "b": _reports(memory_mb=[100, 120]),
    }
    stops = replay(ConstraintPolicy("memory_mb", 200), histories)
    assert stops["a"].report_index == 1 and stops["a"].reason.step == 200
    assert stops["b"] is None
