"""RQ2 as a curve: the constraint rule replayed over an unstopped run, and a stopped arm judged
against it, on hand-made runs whose costs are known."""

import math

import pandas as pd
import pytest

from leantune.report._curve import judge_arm, replay_curve, replay_level, share_meeting
from leantune.report._run import RunResults
from leantune.results import BestSummary
from leantune.testing import tiny_summary

# (batch size, CPU-seconds per report, CV accuracy): four reports each, so a trial's training
# time ends at 4 × its step.
CONFIGS = [(2, 1.0, 0.80), (4, 0.5, 0.90), (8, 0.25, 0.70), (16, 0.125, 0.60)]


def _run(tmp_path, name="unstopped", statuses=None, stopped_at=None, best=None):
    """An unstopped (or, with `stopped_at`, a stopped) run of CONFIGS on the CPU clock."""
    directory = tmp_path / name
    directory.mkdir()
    trials, reports = [], []
    for index, (batch, per_report, score) in enumerate(CONFIGS):
        trial_id = f"t{index}"
        last = (stopped_at or {}).get(batch, 4)
        status = (statuses or {}).get(batch, "feasible")
        for report in range(1, last + 1):
            reports.append(
                {
                    "trial_id": trial_id,
                    "step": 100 * report,
                    "train_time_s": per_report * report,
                    "train_time_cpu_s": per_report * report,
                    # The average step time falls: a slow first reading, then steady.
                    "step_time_ms": 10 * per_report * (2 if report == 1 else 1),
                    "step_time_cpu_ms": 10 * per_report * (2 if report == 1 else 1),
                }
            )
        trials.append(
            {
                "trial_id": trial_id,
                "model": "logistic",
                "batch_size": batch,
                "learning_rate": 0.01,
                "alpha": 0.0001,
                "status": status,
                "stop_rule": "constraint" if status == "stopped" else "",
                "train_time_cpu_s": per_report * last,
                "step_time_cpu_ms": 10 * per_report,
                "cv_score_mean": score,
            }
        )
    pd.DataFrame(reports).to_parquet(directory / "reports.parquet")
    summary = tiny_summary(run_dir=str(directory), trials=len(trials), best=best, clock="cpu")
    return RunResults(directory, summary, pd.DataFrame(trials), {}, {})


def test_a_training_time_limit_stops_at_the_first_report_over_it_and_never_falsely(tmp_path):
    run = _run(tmp_path)
    # Ends: 4, 2, 1, 0.5 s. At 1.5 s the 4 s and 2 s configs violate; the rule stops the first
    # at its 2nd report (2 s) and the second at its 4th (2 s), the last: it saves 2 of 7.5 s.
    row = replay_level(run, "train_time_s", 1.5, level="q50", quantile=0.5)
    assert (row["violating"], row["stops"], row["false_stops"], row["missed_violations"]) == (
        2,
        2,
        0,
        0,
    )
    assert row["cpu_s_unstopped"] == pytest.approx(7.5)
    assert row["cpu_s_saved"] == pytest.approx(2.0)
    assert row["oracle_share_saved"] == pytest.approx(6 / 7.5)
    # The best config (0.90, 2 s) breaks the limit: the pick is the best of the rest, as the
    # truth's is, so the limit costs the pick nothing beyond what the limit itself costs.
    assert row["regret_cv"] == 0 and row["pick_feasible"]


def test_a_noisy_step_time_waits_for_two_readings_and_can_stop_falsely(tmp_path):
    run = _run(tmp_path)
    # Final averages: 10, 5, 2.5, 1.25 ms; first readings twice that. At 6 ms only the 10 ms
    # config truly violates; the 5 ms one reads 10 ms once, which two readings do not confirm.
    row = replay_level(run, "step_time_ms", 6.0, level="x", quantile=0.5, sustained=2)
    assert (row["stops"], row["false_stops"], row["missed_violations"]) == (1, 0, 0)
    one = replay_level(run, "step_time_ms", 6.0, level="x", quantile=0.5, sustained=1)
    assert (one["stops"], one["false_stops"]) == (2, 1)
    # The 0.90 config was stopped falsely: the pick falls to 0.70.
    assert one["regret_cv"] == pytest.approx(0.20) and one["pick_feasible"]


def test_the_curve_has_a_row_per_level_and_limited_metric(tmp_path):
    run = _run(tmp_path)
    levels = [
        {"name": "q25", "quantile": 0.25, "train_time_s": 0.8, "step_time_ms": 2.0},
        {"name": "q75", "quantile": 0.75, "train_time_s": 3.0, "step_time_ms": None},
    ]
    curve = replay_curve(run, levels)
    assert list(zip(curve["metric"], curve["level"], strict=True)) == [
        ("train_time_s", "q25"),
        ("train_time_s", "q75"),
        ("step_time_ms", "q25"),
    ]
    saved = curve.set_index(["metric", "level"])["cpu_share_saved"]
    assert saved["train_time_s", "q25"] > saved["train_time_s", "q75"]
    assert share_meeting(run, "train_time_s", 1.0) == 0.5


def test_a_stopped_arm_is_judged_by_its_twins_end_values(tmp_path):
    unstopped = _run(tmp_path)
    best = BestSummary(
        trial_id="t2",
        config={"model": "logistic", "batch_size": 8, "learning_rate": 0.01, "alpha": 1e-4},
        cv_metric="val_accuracy",
        cv_mode="max",
        cv_score_mean=0.70,
    )
    stopped = _run(
        tmp_path,
        "stopped",
        statuses={2: "stopped", 4: "stopped"},
        stopped_at={2: 2, 4: 1},
        best=best,
    )
    row = judge_arm(stopped, unstopped, {"train_time_s": 2.5}, level="q50", quantile=0.5)
    # Truth at 2.5 s: only the 4 s config violates; stopping the 2 s one was false, and it was
    # the best truly feasible config, so the pick (0.70) regrets 0.20.
    assert (row["stops"], row["false_stops"], row["missed_violations"]) == (2, 1, 0)
    assert row["cpu_s_saved"] == pytest.approx(7.5 - (2 + 0.5 + 1 + 0.5))
    assert row["regret_cv"] == pytest.approx(0.20) and row["pick_feasible"]


def test_replay_refuses_a_run_judged_on_the_wall_clock(tmp_path):
    run = _run(tmp_path)
    run.summary.clock = "wall"
    with pytest.raises(ValueError, match="CPU clock"):
        replay_level(run, "train_time_s", 1.0, level="x", quantile=math.nan)
