"""The report's tables at many trials: the vectorised ways give what the direct ways give."""

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from leantune.report._frontier import _front, _thinned
from leantune.report._rq1 import _bootstrap_rank_correlation
from leantune.trials import FEASIBLE, STOPPED


def test_the_bootstrap_gives_the_rho_of_each_resample_ranked_on_its_own():
    rng = np.random.default_rng(0)
    x = rng.choice([16.0, 64.0, 256.0], size=40)  # a grid: many ties
    y = np.round(x / 100 + rng.normal(size=40), 1)  # rounded: ties too
    picks = np.random.default_rng(5).integers(0, 40, size=(300, 40))
    direct = [spearmanr(x[p], y[p]).statistic for p in picks]
    fast = _bootstrap_rank_correlation(x, y, seed=5, samples=300)
    np.testing.assert_allclose(fast, direct, rtol=0, atol=1e-12)


def test_a_resample_where_a_variable_does_not_vary_has_no_rho():
    x = np.array([1.0] * 10 + [2.0])
    fast = _bootstrap_rank_correlation(x, np.arange(11.0), seed=0, samples=200)
    picks = np.random.default_rng(0).integers(0, 11, size=(200, 11))
    constant = np.array([np.ptp(x[p]) == 0 for p in picks])
    assert constant.any() and np.isnan(fast[constant]).all() and np.isfinite(fast[~constant]).all()


def test_the_front_holds_the_trials_no_cheaper_trial_matches():
    frame = pd.DataFrame(
        {
            "status": [FEASIBLE, FEASIBLE, FEASIBLE, STOPPED, FEASIBLE, FEASIBLE],
            "cost": [1.0, 2.0, 3.0, 0.5, 4.0, 2.0],
            "quality": [0.5, 0.7, 0.6, 0.9, 0.8, 0.7],
        }
    )
    # 2.0 ties on cost and quality: the first of the two is on the front, the second not.
    assert _front(frame, "cost", higher_is_better=True).tolist() == [1, 1, 0, 0, 1, 0]
    # Lower is better: only the cheapest trial that is also the lowest beats every cheaper one.
    assert _front(frame, "cost", higher_is_better=False).tolist() == [1, 0, 0, 0, 0, 0]


def test_long_curves_are_thinned_evenly_and_short_ones_kept_whole():
    lengths = {"a": 5, "b": 400, "c": 151, "d": 400}
    rows = pd.DataFrame(
        [{"trial_id": t, "step": s} for t, n in lengths.items() for s in range(n)]
    ).sample(frac=1.0, random_state=0)  # reports of many trials arrive interleaved
    rows = rows.sort_values("step", kind="stable")
    thinned = _thinned(rows, points=150)
    assert list(dict.fromkeys(thinned["trial_id"])) == list(dict.fromkeys(rows["trial_id"]))
    for trial, count in lengths.items():
        steps = thinned.loc[thinned["trial_id"] == trial, "step"].to_numpy()
        if count <= 150:
            assert steps.tolist() == list(range(count))
        else:
            expected = np.unique(np.linspace(0, count - 1, 150).round().astype(int))
            assert steps.tolist() == expected.tolist()
            assert steps[0] == 0 and steps[-1] == count - 1
