"""RQ1's run-order control: an effect counts only if it survives a shuffled run order; and the
spread of a number over repeats."""

import math

import pandas as pd

from leantune.report._order import (
    ARTIFACT,
    DRIFT,
    HOLDS,
    NONE,
    NOT_REPRODUCED,
    UNCHECKED,
    verdicts,
)


def _rows(pairs):
    """(order, ρ, low, high) per repeat for one hyperparameter × metric pair."""
    return pd.DataFrame(
        [
            {
                "repeat": index,
                "order": order,
                "hyperparameter": "learning_rate",
                "metric": "peak_memory_mb",
                "rho": rho,
                "ci_low": low,
                "ci_high": high,
            }
            for index, (order, rho, low, high) in enumerate(pairs)
        ]
    )


def test_an_effect_that_vanishes_once_shuffled_is_an_order_artifact():
    # The case: learning rate → memory, ρ = +0.88 in grid order, nothing shuffled.
    table = _rows([("grid", 0.88, 0.80, 0.94), ("shuffled", 0.05, -0.2, 0.3)])
    assert verdicts(table)["verdict"].item() == ARTIFACT


def test_verdicts_for_effects_that_hold_that_never_show_and_that_come_and_go():
    holds = _rows([("grid", -0.9, -0.95, -0.8), ("shuffled", -0.85, -0.9, -0.7)])
    none = _rows([("grid", 0.1, -0.2, 0.4), ("shuffled", 0.0, -0.3, 0.3)])
    flaky = _rows([("grid", 0.1, -0.2, 0.4), ("shuffled", 0.5, 0.2, 0.7)])
    reversed_ = _rows([("grid", 0.6, 0.3, 0.8), ("shuffled", -0.6, -0.8, -0.3)])
    unchecked = _rows([("grid", 0.6, 0.3, 0.8)])
    got = [verdicts(t)["verdict"].item() for t in (holds, none, flaky, reversed_, unchecked)]
    assert got == [HOLDS, NONE, NOT_REPRODUCED, ARTIFACT, UNCHECKED]
    row = verdicts(holds).iloc[0]
    assert (row["rho_min"], row["rho_max"], row["clear_in"]) == (-0.9, -0.85, "2 of 2")


def test_too_few_trials_for_an_interval_is_never_clear():
    table = _rows([("grid", 0.9, math.nan, math.nan), ("shuffled", 0.9, math.nan, math.nan)])
    assert verdicts(table)["verdict"].item() == NONE


def test_the_chapter_names_the_order_artifacts_and_the_drift_behind_them():
    from leantune.report._order import RUN_POSITION
    from leantune.report._thesis_chapter import _rq1_answers

    effect = verdicts(_rows([("grid", 0.88, 0.80, 0.94), ("shuffled", 0.05, -0.2, 0.3)]))
    drift = verdicts(
        _rows([("grid", 0.9, 0.85, 0.95), ("shuffled", 0.9, 0.8, 0.95)]).assign(
            hyperparameter=RUN_POSITION
        )
    )
    assert drift["verdict"].item() == DRIFT  # the drift itself is no artifact of order
    table = pd.concat([effect, drift], ignore_index=True).assign(dataset="529_pollen")
    lines = _rq1_answers(table)
    assert (
        lines[0]
        == "**Effects that hold** (clear and same-signed in every repeat, shuffled too): none."
    )
    assert lines[1].startswith("**Order artifacts**")
    assert "learning rate → private memory, peak (MB) on 529_pollen (ρ +0.05 … +0.88)" in lines[1]
    assert "private memory, peak (MB) on 529_pollen (ρ +0.90 … +0.90, clear in 2 of 2)" in lines[-1]
