"""The report's sections, on hand-made frames."""

import pandas as pd

from leantune.report._plots import learning_curves
from leantune.report._sections import _near_limit_blocks, sample_curves
from leantune.testing import tiny_summary


def _curves(trials_by_ending):
    rows = []
    for ending, count in trials_by_ending.items():
        for trial in range(count):
            for progress in (50.0, 100.0):
                rows.append(
                    {
                        "trial_id": f"{ending}-{trial}",
                        "category": ending,
                        "progress_pct": progress,
                        "step": int(progress),
                        "fold": 0,
                        "fold_step": int(progress),
                        "steps_planned": 100,
                        "val_loss": 1.0 / progress,
                        "val_accuracy": progress / 100,
                    }
                )
    return pd.DataFrame(rows)


def test_a_few_hundred_curves_are_all_drawn():
    frame = _curves({"feasible": 150, "stopped: memory": 50})
    drawn, counts = sample_curves(frame, 400)
    assert drawn is frame and counts is None


def test_thousands_of_curves_are_sampled_within_each_ending_and_counted_whole():
    frame = _curves({"feasible": 3_000, "stopped: memory": 900, "failed": 3})
    drawn, counts = sample_curves(frame, 400)
    assert counts == {"feasible": 3_000, "stopped: memory": 900, "failed": 3}
    per_ending = drawn.drop_duplicates("trial_id")["category"].value_counts()
    assert per_ending["failed"] == 3  # a rare ending is drawn whole
    assert 250 <= per_ending["feasible"] <= 350 and 60 <= per_ending["stopped: memory"] <= 120
    assert drawn.groupby("trial_id").size().eq(2).all()  # a drawn trial keeps its whole curve
    again, _ = sample_curves(frame, 400)
    assert again.equals(drawn)  # a rebuilt report draws the same
    assert learning_curves(drawn, "val_accuracy", "accuracy", counts).startswith(b"\x89PNG")


def test_verdicts_near_a_limit_are_tabled_and_a_near_pick_is_warned():
    near = [
        {
            "trial_id": trial_id,
            "config": {"model": "svm", "batch_size": 16},
            "status": status,
            "metric": "train_time_s",
            "value": value,
            "limit": 3.0,
            "margin_pct": 100 * (value / 3.0 - 1),
        }
        for trial_id, status, value in (("a", "feasible", 2.9), ("b", "infeasible", 3.2))
    ]
    blocks = _near_limit_blocks(tiny_summary(near_limits=near), "a", "")
    warning, table = blocks
    assert warning.kind == "warning" and "may break it" in warning.text
    assert list(table.data["trial"]) == ["a", "b"] and "Verdicts near a limit (2)" in table.caption
    assert len(_near_limit_blocks(tiny_summary(near_limits=near), "z", "")) == 1
    assert _near_limit_blocks(tiny_summary(), "a", "") == []
