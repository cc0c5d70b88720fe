"""The closing summary: each way a trial did not finish feasible under its own heading, and the
report's line only once the report is drawn."""

from __future__ import annotations

import csv

from rich.console import Console

from leantune.cli._summary import print_report_line, print_summary, report_asked
from leantune.metrics import NEAR_LIMIT_SHARE
from leantune.testing import tiny_summary

_CONFIG = {"model": "logistic", "batch_size": 1, "learning_rate": 0.1, "alpha": 0.0001}


def _summary(run_dir, stops):
    return tiny_summary(
        run_dir=str(run_dir),
        status_counts={"feasible": 0},
        trials=len(stops),
        stopped_trials=[
            {"trial_id": t, "config": _CONFIG, "status": s, "reason": r} for t, s, _, r in stops
        ],
    )


def _printed(summary, **options):
    console = Console(record=True, width=200)
    print_summary(summary, console, **options)
    return console.export_text()


def test_floor_misses_skips_and_stops_are_told_apart(tmp_path):
    stops = [
        ("a", "stopped", "train_time_s", "train_time_s 0.09 > 0.06 at step 233"),
        ("b", "skipped", "skipped: predicted train_time_s", "not run: train_time_s predicted"),
        ("c", "infeasible", "val_accuracy floor", "val_accuracy 0.8 < 0.9"),
        ("d", "infeasible", "val_accuracy floor", "val_accuracy 0.7 < 0.9"),
    ]
    with (tmp_path / "trials.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["trial_id", "status", "stop_label"])
        writer.writerows([(t, s, label) for t, s, label, _ in stops])
    text = _printed(_summary(tmp_path, stops))
    assert "Stopped (1): 1 by train_time_s\n" in text
    assert "Skipped, never trained (1): 1 by predicted train_time_s" in text
    assert "Broke a limit (not stopped) (2): 2 by val_accuracy floor" in text
    assert "Stopped (4)" not in text and "Stopped (2)" not in text


def test_the_report_line_comes_when_the_report_is_there(tmp_path):
    text = _printed(_summary(tmp_path, []), report_line=False)
    assert "Report" not in text
    console = Console(record=True, width=200)
    print_report_line(tmp_path, console)
    assert "Report: not written" in console.export_text()
    (tmp_path / "report.html").write_text("<html></html>")
    print_report_line(tmp_path, console)
    assert f"Report: {tmp_path / 'report.html'} (rebuild: leantune report" in (
        console.export_text()
    )


def test_a_spec_without_a_report_is_not_said_to_write_one(tmp_path):
    assert report_asked(tmp_path)  # no spec copy: the default
    study = "name: s\ndataset: {source: sklearn, name: iris}\nmodel: logistic\n"
    (tmp_path / "spec.yaml").write_text(study + "output:\n  report: false\n")
    assert not report_asked(tmp_path)
    (tmp_path / "spec.yaml").write_text(study + "output:\n  report: true\n")
    assert report_asked(tmp_path)
    (tmp_path / "spec.yaml").write_text("name: s\noutput:\n  report: false\n")
    assert report_asked(tmp_path)  # not a study the model accepts: the default


def test_the_cli_counts_them_and_warns_when_the_pick_is_one(tmp_path):
    near = [
        {
            "trial_id": "a",
            "config": {"model": "svm"},
            "status": "feasible",
            "metric": "train_time_s",
            "value": 2.91,
            "limit": 3.0,
            "margin_pct": -3.0,
        },
        {
            "trial_id": "b",
            "config": {"model": "svm"},
            "status": "infeasible",
            "metric": "train_time_s",
            "value": 3.06,
            "limit": 3.0,
            "margin_pct": 2.0,
        },
    ]
    best = {
        "trial_id": "a",
        "config": _CONFIG,
        "cv_metric": "val_accuracy",
        "cv_mode": "max",
        "cv_score_mean": 0.9,
        "cv_score_std": 0.01,
        "test": {},
    }
    summary = tiny_summary(run_dir=str(tmp_path), near_limits=near, best=best)
    text = _printed(summary, report_line=False)
    assert (
        f"Near a limit: 2 config(s) ended within {NEAR_LIMIT_SHARE:.0%} of one (1 feasible, "
        "1 over)" in text
    )
    assert "near a limit: its train_time_s 2.91 is 3.0 % under the limit of 3" in text


def _on_tune(**fields):
    fields = {"trials": 300, "wall_time_s": 95.0, "trial_wall_s": 9.0, **fields}
    backend = fields.pop("backend", "ray")
    return tiny_summary(search={"method": "random", "backend": backend}, **fields)


def test_short_trials_on_ray_tune_are_told_what_packs_them():
    text = _printed(_on_tune(), report_line=False)
    assert "Packing: the trials were at work for 9.0 s of the study's 95 s" in text
    assert "300 trials, 0.03 s each" in text
    assert "resources.backend: processes" in text and "ray-pool" in text


def test_packing_is_suggested_only_where_it_would_save_real_time():
    # Trials at work most of the time, a study too short to matter, a backend that packs
    # already, and a run from before the trials' own time was recorded.
    for summary in (
        _on_tune(trial_wall_s=60.0),
        _on_tune(wall_time_s=20.0, trial_wall_s=1.0),
        _on_tune(backend="processes"),
        _on_tune(trial_wall_s=None),
        tiny_summary(trials=300, wall_time_s=95.0),
    ):
        assert "Packing" not in _printed(summary, report_line=False)
