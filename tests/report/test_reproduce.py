"""A rerun judged against the chapter's stated spread, from two thesis directories' tables."""

import pandas as pd
import pytest

from leantune.report._reproduce import (
    CPU_TIME,
    WITHIN_RUN,
    findings_kept,
    reproduction,
    reproduction_summary,
    verdicts_kept,
)


def write_tables(directory, curve_saved, curve_cpu_s, verdict="holds"):
    results = directory / "results"
    results.mkdir(parents=True)
    pd.DataFrame(
        {
            "dataset": "d",
            "repeat": range(len(curve_saved)),
            "metric": "train_time_s",
            "level": "q50",
            "cpu_share_saved": curve_saved,
            "cpu_s_saved": curve_cpu_s,
        }
    ).to_csv(results / "rq2_curve.csv", index=False)
    pd.DataFrame(
        {"dataset": ["d"], "hyperparameter": ["alpha"], "metric": ["memory_mb"], "verdict": verdict}
    ).to_csv(results / "rq1_order_control.csv", index=False)
    return directory


def test_a_rerun_mean_inside_the_interval_counts_even_outside_the_range(tmp_path):
    first = write_tables(tmp_path / "a", [0.40, 0.50, 0.60], [10.0, 10.5, 11.0])
    # Mean 0.62: beyond the highest repeat, well inside 0.5 ± 4.30 · 0.1 · √(2/3) = 0.5 ± 0.35.
    # CPU-seconds 40 % up: outside 10.5 ± 1.76.
    second = write_tables(tmp_path / "b", [0.61, 0.62, 0.63], [14.0, 14.7, 15.4], "order artifact")
    numbers = reproduction(first, second).set_index("column")
    share = numbers.loc["cpu_share_saved"]
    assert share["kind"] == WITHIN_RUN and share["key"] == "d / train_time_s / q50"
    assert share["first_half_width"] == pytest.approx(0.3513, abs=1e-4)
    assert share["inside_interval"] and not share["inside_range"]
    assert share["second_mean"] == pytest.approx(0.62)
    seconds = numbers.loc["cpu_s_saved"]
    assert seconds["kind"] == CPU_TIME and not seconds["inside_interval"]

    summary = reproduction_summary(reproduction(first, second))
    assert list(summary["kind"]) == [WITHIN_RUN, CPU_TIME]
    assert summary.loc[1, "change"] == pytest.approx(0.4)
    assert summary.loc[0, "inside_interval"] == 1.0

    verdicts = verdicts_kept(first, second)
    assert list(verdicts["same"]) == [False]
    assert verdicts.loc[0, "second"] == "order artifact"
    assert findings_kept(verdicts) == (1, 0, 0)


def test_numbers_missing_from_either_run_are_left_out(tmp_path):
    first = write_tables(tmp_path / "a", [0.4, 0.5], [1.0, 1.0])
    (tmp_path / "b" / "results").mkdir(parents=True)
    assert reproduction(first, tmp_path / "b").empty
    assert verdicts_kept(first, tmp_path / "b").empty
    # A rerun stopped after its first set: only the pairs both runs judged are compared.
    other = write_tables(tmp_path / "c", [0.4, 0.5], [1.0, 1.0])
    pd.DataFrame(
        {
            "dataset": ["d", "e"],
            "hyperparameter": "alpha",
            "metric": "memory_mb",
            "verdict": "holds",
        }
    ).to_csv(first / "results" / "rq1_order_control.csv", index=False)
    assert list(verdicts_kept(first, other)["dataset"]) == ["d"]
    assert findings_kept(verdicts_kept(first, other)) == (1, 1, 1)
