"""Decisions beyond the noise, on hand-made noisy histories: clear violators are stopped, a
trial whose readings straddle the limit is not, and forecasts stop on their lower bound."""

import pytest

from leantune.stoppers import (
    ConstraintPolicy,
    CostModel,
    PredictivePolicy,
    SkipPredicted,
    TrialHistory,
    median_lower_bound,
    theil_sen,
)


def _reports(planned=1000, **series):
    n = len(next(iter(series.values())))
    return [
        {
            "step": 100 * (i + 1),
            "fold": 0,
            "steps_planned": planned,
            **{name: values[i] for name, values in series.items()},
        }
        for i in range(n)
    ]


def _first_stop(policy, reports, config=None):
    for i in range(len(reports)):
        if policy.decide(TrialHistory(reports[: i + 1], config)).stop:
            return i + 1
    return None


# --- the bounds -------------------------------------------------------------------------------


def test_median_lower_bound_is_an_order_statistic_below_the_median():
    values = list(range(1, 21))  # median 10.5
    bound = median_lower_bound(values, 0.9)
    assert bound in values and bound < 10.5
    # more confidence, a lower bound; few values, the smallest
    assert median_lower_bound(values, 0.99) <= bound
    assert median_lower_bound([5.0, 3.0, 4.0], 0.9) == 3.0


def test_sen_bound_is_below_the_slope_and_at_most_zero_on_a_plateau():
    line = [(100.0 * i, 2.0 * i) for i in range(1, 8)]
    slope, lower = theil_sen(line)
    assert slope == pytest.approx(0.02) and lower == pytest.approx(0.02)
    plateau = [(100, 180.0), (200, 181.2), (300, 181.3), (400, 181.2), (500, 181.3)]
    slope, lower = theil_sen(plateau)
    assert lower <= 0.0 < 181.3 - 180.0


# --- the reactive rule ------------------------------------------------------------------------


def test_one_slow_reading_does_not_stop_a_trial_but_a_sustained_violation_does():
    # A noisy metric (step time): one reading while another job held the core is not evidence.
    spike = _reports(step_time_ms=[4.0, 9.0, 4.1, 4.0, 3.9])
    assert _first_stop(ConstraintPolicy("step_time_ms", 5.0), spike) is None
    slow = _reports(step_time_ms=[6.0, 6.1, 6.0])
    assert _first_stop(ConstraintPolicy("step_time_ms", 5.0), slow) == 2


def test_noise_straddling_the_limit_is_not_stopped():
    # Readings around 4.75 ms that cross the 5 ms limit every other report.
    readings = [4.2, 5.3, 4.4, 5.1, 4.6, 5.4, 4.3, 5.2]
    assert (
        _first_stop(ConstraintPolicy("step_time_ms", 5.0), _reports(step_time_ms=readings)) is None
    )


def test_a_total_or_a_peak_over_its_limit_stops_at_once():
    # Training time and memory only grow: one reading over the limit is final.
    assert (
        _first_stop(ConstraintPolicy("train_time_s", 1.0), _reports(train_time_s=[0.5, 1.2])) == 2
    )
    assert _first_stop(ConstraintPolicy("memory_mb", 200.0), _reports(memory_mb=[150, 250])) == 2


# --- the predictive rule ----------------------------------------------------------------------


def test_a_clear_violator_is_stopped_on_its_forecast_lower_bound():
    reports = _reports(train_time_s=[0.2, 0.4, 0.6, 0.8])  # 2 s at the end, limit 1 s
    policy = PredictivePolicy({"train_time_s": 1.0}, margin=0.1)
    assert _first_stop(policy, reports) == 3
    reason = policy.decide(TrialHistory(reports[:3])).reason
    assert "lower bound" in reason.detail and reason.value == pytest.approx(2.0)


def test_a_noisy_forecast_whose_lower_bound_is_under_the_limit_does_not_stop():
    # One slow window (0.35 s for 100 steps) pulls the median slope up: the point forecast
    # says 1.45 s at the end, over a 1.3 s limit. At its steady cost (0.1 s / 100 steps) the
    # trial ends at 1.25 s. The lower bound of the slope sees through the one window.
    reports = _reports(train_time_s=[0.1, 0.2, 0.55, 0.65, 0.75])
    policy = PredictivePolicy({"train_time_s": 1.3}, margin=0.0)
    assert _first_stop(policy, reports) is None


def test_a_memory_plateau_is_not_forecast_to_grow():
    # The trial rose 1.3 MB in its first window, then stayed: no forecast over 182 MB.
    reports = _reports(memory_mb=[181.2, 181.3, 181.2, 181.3, 181.3], planned=10000)
    policy = PredictivePolicy({"memory_mb": 182.0}, margin=0.0)
    assert _first_stop(policy, reports) is None


# --- the cost model and cost twins ------------------------------------------------------------


def _trial(config, costs, planned=1000):
    """A trial's reports at a steady cost per 100 steps (seconds), with its latency."""
    elapsed, reports = 0.0, []
    for i, cost in enumerate(costs, start=1):
        elapsed += cost
        reports.append(
            {
                "step": 100 * i,
                "steps_planned": planned,
                "train_time_s": elapsed,
                "window_step_time_ms": 10 * cost,
                "memory_rise_mb": 1.0,
                "inference_latency_ms": 0.002,
                "model_size_kb": 1.5,
            }
        )
    return TrialHistory(reports, config)


def _config(lr, batch=32, model="logistic"):
    return {"model": model, "batch_size": batch, "learning_rate": lr, "alpha": 1e-4}


def test_cost_twins_share_one_per_step_cost():
    model = CostModel()
    model.observe(_trial(_config(0.1), [0.1, 0.1, 0.1, 0.1]))
    model.observe(_trial(_config(0.01), [0.1, 0.11, 0.1, 0.1]))
    twin = model.step_cost(_config(0.001))  # untried, same model and batch size
    assert twin is not None and twin.value == pytest.approx(0.001, rel=0.1)
    assert twin.lower <= twin.value and "2 cost twin" in twin.evidence
    assert model.step_cost(_config(0.001, batch=64)) is None  # no twin at batch 64 yet
    # feeding the same history again counts nothing twice
    before = twin.value
    model.observe(_trial(_config(0.1), [0.1, 0.1, 0.1, 0.1]))
    assert model.step_cost(_config(0.001)).value == before


def test_an_untried_config_predicted_over_a_limit_is_skipped_with_its_evidence():
    model = CostModel()
    model.observe(_trial(_config(0.1), [0.3, 0.3, 0.3, 0.3]))  # 3 s over 1,000 steps
    skip = SkipPredicted(model, {"train_time_s": 1.0})
    decision = skip.decide(_config(0.01), {"steps_planned": 1000, "memory_mb": 170.0})
    assert decision.stop and decision.reason.rule == "skip" and decision.reason.step == 0
    assert decision.reason.label == "skipped: predicted train_time_s"
    assert decision.reason.value == pytest.approx(3.0, rel=0.05)
    assert "cost twin" in decision.reason.describe()
    # a config of another batch size, or under a looser limit, runs
    assert not skip.decide(_config(0.01, batch=64), {"steps_planned": 1000}).stop
    loose = SkipPredicted(model, {"train_time_s": 5.0})
    assert not loose.decide(_config(0.01), {"steps_planned": 1000}).stop


def test_the_predictive_rule_gives_cost_twins_the_same_decision():
    model = CostModel()
    for lr in (0.1, 0.05):
        model.observe(_trial(_config(lr), [0.1] * 6))
    policy = PredictivePolicy({"train_time_s": 0.7}, margin=0.0, cost_model=model)
    # Two twins, one slowed by another job at its second window; the pooled cost decides
    # both at the same report.
    calm = _trial(_config(0.01), [0.1, 0.1, 0.1]).__iter__()
    noisy = _trial(_config(0.02), [0.1, 0.4, 0.1]).__iter__()
    calm_reports, noisy_reports = list(calm), list(noisy)
    decisions = [
        policy.decide(TrialHistory(reports, config)).stop
        for reports, config in ((calm_reports, _config(0.01)), (noisy_reports, _config(0.02)))
    ]
    assert decisions == [True, True]  # 1.0 s forecast from the twins' 1 ms a step


def test_a_large_sample_gets_its_bound_from_the_normal_approximation():
    # The exact binomial sum is quadratic in big integers: a study's thousands of windows
    # would cost the driver seconds a report. Above 64 values the approximation picks the rank.
    values = list(range(10_001))  # median 5,000
    bound = median_lower_bound(values, 0.9)
    assert 4_900 < bound < 5_000  # (n − z·√n) / 2 ≈ 4,936


def test_the_cost_model_keeps_the_recent_readings_of_each_group():
    from leantune.stoppers._cost_model import RECENT_READINGS

    model = CostModel()
    long_trial = _trial(_config(0.1), [0.1] * (RECENT_READINGS + 50))
    for end in range(1, len(long_trial) + 1, 7):  # fed report by report, as the driver does
        model.observe(TrialHistory(long_trial[:end], long_trial.config))
    model.observe(long_trial)
    group = model._groups[("logistic", 32)]
    assert len(group.step_cost_s) == RECENT_READINGS
    assert model.step_cost(_config(0.01)).value == pytest.approx(0.001)
