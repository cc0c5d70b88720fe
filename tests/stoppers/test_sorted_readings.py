"""The cost model keeps its readings sorted as they come, not sorted at each report: what it
reads from them must be what sorting them afresh gives, bit for bit."""

import math
import random

import numpy as np

from leantune.stoppers import Calibration, median_lower_bound, median_upper_bound
from leantune.stoppers._bounds import sorted_median_lower_bound, sorted_median_upper_bound
from leantune.stoppers._cost_model import RECENT_READINGS, _Readings


def test_kept_readings_are_the_recent_ones_sorted_ties_in_arrival_order():
    rng = random.Random(5)
    readings, arrived = _Readings(), []
    # Few distinct values, so ties are many; ±0 compare equal but are told apart by repr.
    values = [0.0, -0.0, 1.5, 2.0, math.inf, 1e-300]
    for _ in range(3 * RECENT_READINGS):
        value = rng.choice(values)
        readings.append(value)
        arrived = [*arrived, value][-RECENT_READINGS:]
        assert list(readings) == arrived
        assert [repr(v) for v in readings.ordered] == [repr(v) for v in sorted(arrived)]
    assert len(readings) == RECENT_READINGS


def test_the_bounds_of_sorted_readings_are_the_public_bounds():
    rng = random.Random(7)
    for n in (1, 2, 3, 10, 65, 300):
        values = [rng.lognormvariate(0, 1) for _ in range(n)]
        ordered = sorted(values)
        assert sorted_median_lower_bound(ordered) == median_lower_bound(values)
        assert sorted_median_upper_bound(ordered, 0.95) == median_upper_bound(values, 0.95)


def _band_afresh(errors, lengths, level, steps):
    """Calibration.band worked out from the errors and their lengths alone, with numpy: what
    the kept sorted errors and counted lengths must give."""
    k = math.floor((len(errors) + 1) * (1 - level) / 2 + 1e-9)
    if k < 1:
        return Calibration(level).band(steps)
    errors, lengths = np.array(errors), np.array(lengths)
    ordered = np.sort(errors)
    pooled = math.exp(min(ordered[k - 1], 0.0)), math.exp(max(ordered[-k], 0.0))
    x = 1 / lengths
    if not np.isfinite(x).all() or np.ptp(x) == 0 or not (steps is not None and steps > 0):
        return pooled
    noise = Calibration._noise(errors, x)
    if noise is None:
        return pooled
    a, b = noise
    scores = np.sort(errors / np.sqrt(a + b / np.maximum(lengths, 1.0)))
    scale = math.sqrt(a + b / max(float(steps), 1.0))
    return math.exp(min(scores[k - 1] * scale, 0.0)), math.exp(max(scores[-k] * scale, 0.0))


def test_a_band_is_what_its_recent_errors_give_afresh():
    """Its lengths all alike, one untold among them, or differing, before and after the
    oldest are forgotten: the band is the one worked out afresh from the recent errors."""
    rng = random.Random(11)
    calibration = Calibration(0.9)
    errors, lengths = [], []
    # Stretches of one length, of two, with an untold length now and then.
    plan = [[100]] * 300 + [[10, 100, None]] * 100 + [[100]] * 300 + [[10, 1000]] * 300
    for choices in plan:
        steps = rng.choice(choices)
        noise = 0.2 / steps**0.5 + 0.01 if steps else 0.05
        forecast, final = 1.0, math.exp(rng.gauss(0, noise))
        calibration.add(forecast, final, steps=steps)
        errors = [*errors, math.log(final / forecast)][-RECENT_READINGS:]
        lengths = [*lengths, float(steps) if steps else math.nan][-RECENT_READINGS:]
        for at in (None, 1, 10, 26.5, 1000):
            expected = _band_afresh(errors, lengths, 0.9, at)
            assert repr(calibration.band(at)) == repr(expected)
