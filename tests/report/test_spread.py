"""The spread of a number over repeats: the interval a rerun's mean is expected in, and when two
numbers differ beyond their spread."""

import math

import numpy as np
import pytest

from leantune.report._spread import Spread


def test_the_rerun_interval_is_t_times_the_spread_of_a_difference_of_two_means():
    spread = Spread.of([1.0, 2.0, 3.0])
    assert (spread.mean, spread.low, spread.high, spread.n, spread.sd) == (2.0, 1.0, 3.0, 3, 1.0)
    # t(0.975, 2) = 4.3027; the difference of two means of 3 has variance 2 s² / 3.
    assert spread.rerun_half_width == pytest.approx(4.302653 * math.sqrt(2 / 3))
    low, high = spread.rerun_interval()
    assert (low, high) == pytest.approx((2 - 3.5131, 2 + 3.5131), abs=1e-4)
    assert spread.holds(5.5) and spread.holds(-1.5)
    assert not spread.holds(5.6)


def test_a_rerun_mean_lands_in_the_interval_about_95_times_in_100_the_range_holds_far_fewer():
    rng = np.random.default_rng(7)
    runs = rng.normal(10.0, 2.0, size=(4000, 2, 3))  # 4000 pairs of runs of 3 repeats
    in_interval = in_range = 0
    for first, second in runs:
        spread = Spread.of(first)
        in_interval += spread.holds(float(second.mean()))
        in_range += spread.low <= second[0] <= spread.high
    assert 0.93 < in_interval / len(runs) < 0.97
    # One new value inside the range of 3 earlier ones: chance 1/2.
    assert 0.46 < in_range / len(runs) < 0.54


def test_one_repeat_has_no_interval_and_nothing_differs_from_it():
    one = Spread.of([4.0])
    assert math.isnan(one.rerun_half_width)
    assert not one.holds(4.0)
    assert not one.exceeds(Spread.of([100.0, 101.0]))
    assert Spread.of([]).text() == "–"
    assert Spread.of([float("nan"), None, 2.0]).n == 1


def test_constant_repeats_hold_only_their_own_value():
    zero = Spread.of([0.0, 0.0, 0.0])
    assert zero.rerun_half_width == 0
    assert zero.holds(0.0) and zero.holds(1e-15)
    assert not zero.holds(1 / 3)


def test_differences_are_judged_by_welch_t_on_both_spreads():
    noisy = Spread.of([1.0, 2.0, 3.0])
    assert not noisy.exceeds(Spread.of([3.0, 4.0, 5.0]))  # |Δ| 2, bound 2.78 · 0.82 = 2.27
    assert noisy.exceeds(Spread.of([5.0, 6.0, 7.0]))
    # Ranges apart, yet within what 3 repeats of this spread give; and the other way round.
    assert not noisy.exceeds(Spread.of([3.1, 4.0, 5.0]))
    assert Spread.of([0, 0, 0, 0, 0, 1.0]).exceeds(Spread.of([1, 1, 1, 1, 1, 2.0]))
    assert Spread.of([2.0, 2.0]).exceeds(Spread.of([3.0, 3.0]))
    assert not Spread.of([2.0, 2.0]).exceeds(Spread.of([2.0, 2.0]))
    assert noisy.exceeds(Spread.of([9.0, 9.0, 9.0])) == Spread.of([9.0, 9.0, 9.0]).exceeds(noisy)
    a, b, c = Spread.of([0.30, 0.34, 0.32]), Spread.of([0.10, 0.12]), Spread.of([0.2, 0.31])
    assert a.exceeds(b) and b.exceeds(a)
    assert not a.exceeds(c)  # two repeats this far apart: too few and too noisy to tell


def test_text_gives_mean_plus_minus_the_rerun_bound_and_the_range():
    assert Spread.of([1.0, 2.0, 3.0]).text("{:.2f}") == "2.00 ± 3.51 [1.00–3.00]"
    assert Spread.of([0.1, 0.2, 0.3]).percent() == "20.0 ± 35.1 % [10.0–30.0]"
    assert Spread.of([0.5, 0.5]).percent() == "50.0 %"
    assert Spread.of([7.0]).text() == "7"
    assert Spread(2.0, 1.0, 3.0, 3).text() == "2 [1–3]"  # no standard deviation given
