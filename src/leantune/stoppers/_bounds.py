"""One-sided lower bounds: how low a cost can plausibly be, given noisy readings of it.

A limit ends a trial only when the evidence clears the noise, so every forecast a stop rests on
is the low end of an interval, not a point estimate. Both bounds are distribution-free: machine
noise is skewed (a reading taken while another job held the core is slow, never fast).
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from statistics import NormalDist

# Above this many values the binomial's normal approximation picks the order statistic: the
# exact sum would cost O(n²) big-integer terms (a second at n = 1,000, a minute at 3,000).
EXACT_UP_TO = 64


@functools.cache  # the driver asks at every report, for a few (n, confidence) pairs
def _order_statistic_rank(n: int, confidence: float) -> int:
    """The largest k with P(Binomial(n, 1/2) <= k - 1) <= 1 − confidence, at least 1."""
    if n > EXACT_UP_TO:
        z = NormalDist().inv_cdf(confidence)
        return max(1, math.floor((n - z * math.sqrt(n)) / 2))
    k, below = 0, 0.0
    # x_(k+1) is below the median unless at least n - k values are above it.
    while k + 1 < n:
        below += math.comb(n, k) / 2**n  # P(Binomial(n, 1/2) <= k)
        if below > 1 - confidence:
            break
        k += 1
    return max(1, k)


def median_lower_bound(values: Sequence[float], confidence: float = 0.9) -> float:
    """A lower confidence bound of the median: the order statistic x_(k) with P(median < x_(k))
    at most 1 − confidence. With too few values for that, the smallest one (the most cautious
    bound the data can give)."""
    return sorted_median_lower_bound(sorted(values), confidence)


def median_upper_bound(values: Sequence[float], confidence: float = 0.9) -> float:
    """An upper confidence bound of the median, the mirror of `median_lower_bound`: the
    largest value when there are too few for more."""
    return sorted_median_upper_bound(sorted(values), confidence)


# The same bounds of values already sorted: the cost model keeps its readings sorted, so the
# driver reads a bound at each report without sorting again.


def sorted_median_lower_bound(ordered: Sequence[float], confidence: float = 0.9) -> float:
    """`median_lower_bound` of `ordered`, which must be sorted ascending."""
    if not ordered:
        raise ValueError("median_lower_bound needs at least one value")
    return ordered[_order_statistic_rank(len(ordered), confidence) - 1]


def sorted_median_upper_bound(ordered: Sequence[float], confidence: float = 0.9) -> float:
    """`median_upper_bound` of `ordered`, which must be sorted ascending."""
    if not ordered:
        raise ValueError("median_upper_bound needs at least one value")
    return ordered[len(ordered) - _order_statistic_rank(len(ordered), confidence)]


def theil_sen(
    points: Sequence[tuple[float, float]], confidence: float = 0.9
) -> tuple[float, float]:
    """(median slope, its one-sided lower bound) of the points, after Sen (1968).

    The bound is the slope at rank (N − C) / 2 of the N pairwise slopes, with
    C = z · sqrt(n (n − 1)(2n + 5) / 18), Kendall's S variance. With too few points for that
    rank, the smallest slope.
    """
    slopes = sorted(
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(points)
        for x2, y2 in points[i + 1 :]
        if x2 != x1
    )
    if not slopes:
        return 0.0, 0.0
    n = len(points)
    spread = NormalDist().inv_cdf(confidence) * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    rank = math.floor((len(slopes) - spread) / 2)  # 1-based
    lower = slopes[rank - 1] if rank >= 1 else slopes[0]
    return statistics.median(slopes), lower
