"""Held-out coverage of the cost model's forecasts, on hand-made histories: what a study's
summary states beside every forecast it acted on."""

import math
import random

import pytest

from leantune.stoppers import forecast_coverage


def _config(lr, batch=32):
    return {"model": "logistic", "batch_size": batch, "learning_rate": lr, "alpha": 1e-4}


def _trial(step_s, reports=10, every=100, latency_ms=0.05, stop_at=None):
    """A trial whose steps cost `step_s` each; reports every `every` steps; stopped after
    `stop_at` reports if given (no final then)."""
    planned = reports * every
    out = []
    for i in range(1, (stop_at or reports) + 1):
        out.append(
            {
                "step": i * every,
                "steps_planned": planned,
                "train_time_s": i * every * step_s,
                "window_step_time_ms": 1e3 * step_s,
                "step_time_ms": 1e3 * step_s,
                "inference_latency_ms": latency_ms,
            }
        )
    return out


def test_finals_drawn_as_the_study_s_own_hold_about_the_stated_share():
    rng = random.Random(1)
    trials = [(_config(0.001 * i), _trial(rng.lognormvariate(-7, 0.1))) for i in range(200)]
    got = forecast_coverage(trials, 0.9)
    before = got["untried"]["train_time_s"]
    assert before["forecasts"] == 199  # the first trial had nothing to be forecast from
    assert before["calibrated_forecasts"] == 199 - got["calibrated_after"]
    assert 0.85 <= before["coverage"] <= 0.97
    assert before["stated_level"] == pytest.approx(0.9)
    # the check of the stated level: only the forecasts that stated it
    assert before["calibrated_held"] <= before["held"]
    assert 0.85 <= before["calibrated_coverage"] <= 0.97
    running = got["running"]["train_time_s"]
    assert running["forecasts"] > before["forecasts"]
    assert running["coverage"] >= 0.85


def test_a_stopped_trial_has_no_final_to_hold_a_forecast_against():
    trials = [(_config(0.1), _trial(0.001)), (_config(0.2), _trial(0.001, stop_at=2))]
    got = forecast_coverage(trials, 0.9)
    # the first trial had no twin before it; the second's forecast has no final to meet
    assert got["untried"] == {}
    # only the first trial's own forecasts, half-way and three quarters of the way
    assert got["running"]["train_time_s"]["forecasts"] == 2


def test_a_machine_that_turns_twice_as_slow_is_outside_the_forecasts():
    """Forecasts rest on the twins before: the first trial after a load doubles every step's
    cost falls outside its interval, and the coverage says so; its error then widens the band
    (split-conformal), so the next ones are held."""
    trials = [(_config(0.001 * i), _trial(0.001)) for i in range(30)]
    trials += [(_config(0.1 + 0.001 * i), _trial(0.002)) for i in range(5)]
    got = forecast_coverage(trials, 0.9)["untried"]["train_time_s"]
    assert got["forecasts"] == 34 and got["held"] == 33


def test_forecasts_of_trials_that_never_finish_do_not_pile_up():
    from leantune.stoppers import CostModel, TrialHistory
    from leantune.stoppers._cost_model import OPEN_FORECASTS

    model = CostModel()
    model.observe(TrialHistory(_trial(0.001), _config(0.5)))
    for i in range(OPEN_FORECASTS + 200):  # stopped after two reports: no final ever comes
        model.observe(TrialHistory(_trial(0.001, stop_at=2), _config(1 + i)))
    assert len(model._before) <= OPEN_FORECASTS and len(model._checkpoints) <= OPEN_FORECASTS
    model.observe(TrialHistory(_trial(0.001), _config(0.25)))  # a twin that finishes
    untried = model.coverage()["untried"]
    assert untried["train_time_s"]["forecasts"] == 1
    assert "step_cost_s" not in untried  # calibrated on, not told twice beside train_time_s


def test_short_trials_noisier_than_long_ones_get_their_own_width():
    """Normalised conformal: when a short trial's cost of a step is noisier than a long one's,
    a short trial's interval is wider, a long one's narrower, and each holds about the stated
    share of its own kind, not only of the mix."""
    from leantune.stoppers import Calibration

    rng = random.Random(3)
    calibration = Calibration(0.9)
    for _ in range(200):
        steps = rng.choice([10, 10_000])
        noise = 0.2 / steps**0.5 + 0.005
        calibration.add(1.0, math.exp(rng.gauss(0, noise)), steps=steps)
    short_low, short_high = calibration.band(10)
    long_low, long_high = calibration.band(10_000)
    assert math.log(short_high / short_low) > 3 * math.log(long_high / long_low)
    for steps in (10, 10_000):
        low, high = calibration.band(steps)
        noise = 0.2 / steps**0.5 + 0.005
        draws = [math.exp(rng.gauss(0, noise)) for _ in range(2000)]
        held = sum(low <= d <= high for d in draws) / len(draws)
        assert 0.82 <= held <= 0.97, (steps, held)
    # errors not told their length: one pooled band, as before
    assert calibration.band() == calibration.band(None)


def test_an_uncalibrated_latency_interval_spans_the_readings_own_spread():
    """Before 19 finals, a forecast of one more reading like the pooled ones (latency) holds
    at least their own spread, not only ±25 %: latency on a shared machine varies more."""
    rng = random.Random(5)
    trials = []
    for i in range(8):
        reports = _trial(0.001, latency_ms=0.05)
        for report in reports:
            report["inference_latency_ms"] = 0.05 * rng.choice([0.5, 1.0, 2.0])
        trials.append((_config(0.001 * (i + 1)), reports))
    from leantune.stoppers import CostModel, TrialHistory

    model = CostModel()
    for config, reports in trials:
        model.observe(TrialHistory(reports, config))
    latency = next(
        p for p in model.predict(_config(0.5), 1000) if p.metric == "inference_latency_ms"
    )
    assert latency.level is None  # not calibrated yet
    assert latency.lower <= 0.025 + 1e-12 and latency.upper >= 0.1 - 1e-12


def test_the_cost_model_does_not_grow_with_the_study():
    """The driver's cost model keeps counts and recent readings, not an entry per trial: after
    more trials than it keeps, its per-trial tables are at their bounds, and twins still pool."""
    from leantune.stoppers import CostModel, TrialHistory
    from leantune.stoppers._cost_model import RECENT_READINGS, SEEN_TRIALS

    model = CostModel()
    for i in range(SEEN_TRIALS + 300):
        reports = _trial(0.001, reports=2, stop_at=1)
        reports[0]["memory_rise_mb"] = 1.0
        model.observe(TrialHistory(reports, _config(1e-6 * (i + 1))))
    assert len(model._seen) == SEEN_TRIALS
    (group,) = model._groups.values()
    assert len(group.trials_rise) == RECENT_READINGS
    assert model._twins == {("logistic", 32): SEEN_TRIALS + 300}
    assert model.step_cost(_config(0.5)) is not None


def _svm(lr, batch=32):
    return {**_config(lr, batch), "model": "svm"}


def test_a_model_whose_costs_wander_gets_its_own_band_not_the_steady_one_s():
    """Mondrian calibration: the steady logistic finals measured a narrow band; svm trials,
    whose cost of a step moves with what they learn (a hinge step skips the update once the
    margin is met), are given no stated level until their own finals measured their band,
    and then hold about the stated share."""
    from leantune.stoppers import CostModel, TrialHistory

    rng = random.Random(3)
    model = CostModel()
    for i in range(40):
        model.observe(TrialHistory(_trial(0.001), _config(0.001 * (i + 1))))
    first_svm = TrialHistory(_trial(0.001 * rng.lognormvariate(0, 0.08)), _svm(0.5))
    model.observe(first_svm)
    levels, held = [], []
    for i in range(120):
        history = TrialHistory(_trial(0.001 * rng.lognormvariate(0, 0.08)), _svm(0.001 * i))
        (forecast,) = [p for p in model.predict(history.config, 1000) if p.metric == "train_time_s"]
        levels.append(forecast.level)
        held.append(forecast.holds(history.last["train_time_s"]))
        model.observe(history)
    assert model.calibration("step_cost_s", "logistic").calibrated
    needed = model.calibration("step_cost_s").finals_needed
    assert levels[: needed - 1] == [None] * (needed - 1)  # svm's own finals come first
    stated = [h for h, level in zip(held, levels, strict=True) if level is not None]
    assert len(stated) > 90 and sum(stated) / len(stated) >= 0.85


def test_a_running_forecast_states_the_level_its_own_errors_measured():
    """Running forecasts are calibrated on how far earlier running forecasts fell from their
    finals (normalised by the share of steps left), not on the untried band alone."""
    rng = random.Random(5)
    trials = [(_config(0.001 * i), _trial(rng.lognormvariate(-7, 0.1))) for i in range(120)]
    running = forecast_coverage(trials, 0.9)["running"]["train_time_s"]
    assert running["stated_level"] == pytest.approx(0.9)
    assert 0 < running["calibrated_forecasts"] < running["forecasts"]
    assert running["coverage"] >= 0.85
