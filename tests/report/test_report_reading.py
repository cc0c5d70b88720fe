"""What a reader of the report needs: every trial that did not finish feasible with its reason,
where the chosen model is and how to use it, numbers kept on one line, curves with a shape, and
axes that do not blow noise up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from leantune.report._document import _cell_html
from leantune.report._plots import MIN_SPANS, _at_least_span, _broken_at_folds
from leantune.report._run import load_run
from leantune.report._sections import not_feasible_trials, using_the_model


def test_skipped_trials_are_listed_with_their_reason():
    trials = pd.DataFrame(
        {
            "model": ["logistic"] * 4,
            "batch_size": [1, 2, 128, 256],
            "status": ["feasible", "stopped", "skipped", "failed"],
            "stop_reason": [None, "train_time_s 0.09 > 0.06", "not run: predicted 0.2", None],
            "error": [None, None, None, "ValueError: x"],
        }
    )
    table = not_feasible_trials(trials)
    assert list(table["status"]) == ["stopped", "skipped", "failed"]
    assert list(table["reason"]) == [
        "train_time_s 0.09 > 0.06",
        "not run: predicted 0.2",
        "ValueError: x",
    ]


def test_the_report_says_where_the_model_is_and_how_to_load_and_serve_it(fake_run, make_grid):
    run_dir = fake_run(configs=make_grid())
    run = load_run(run_dir)
    assert using_the_model(run) == []  # no model saved: nothing to point at
    (run_dir / "model").mkdir()
    (run_dir / "model" / "MLmodel").write_text("flavors: {}\n")
    text = " ".join(getattr(block, "text", "") for block in using_the_model(load_run(run_dir)))
    path = str((run_dir / "model").resolve())
    assert f'mlflow.pyfunc.load_model("{path}")' in text
    assert f'leantune.load("{run_dir.resolve()}").best_estimator' in text
    assert f"mlflow models serve -m {path} --env-manager local" in text


def test_numbers_stay_on_one_line_and_words_wrap():
    assert _cell_html("0.95 ± 0.01") == '<td class="n">0.95 ± 0.01</td>'
    assert _cell_html("0.38 [0.12, 0.61]").startswith('<td class="n">')
    assert _cell_html("train_time_s 0.09 > 0.06").startswith('<td class="t">')


def test_a_fold_that_reported_once_draws_a_line_from_the_untrained_loss():
    rows = pd.DataFrame(
        {
            "progress_pct": [50.0, 100.0],
            "fold": [0, 1],
            "step": [2, 4],
            "fold_step": [2, 2],
            "steps_planned": [4, 4],
            "val_loss": [0.3, 0.2],
            "val_loss_start": [0.69, 0.69],
        }
    )
    x, y = _broken_at_folds(rows, "val_loss")
    # each fold: its start at the untrained loss, its one report, then a gap
    assert list(x[:2]) == [0.0, 50.0] and list(y[:2]) == [0.69, 0.3]
    assert np.isnan(x[2]) and list(x[3:]) == [50.0, 100.0] and list(y[3:]) == [0.69, 0.2]
    score_x, _ = _broken_at_folds(rows.assign(val_accuracy=[0.9, 0.95]), "val_accuracy")
    assert list(score_x[[0, 2]]) == [50.0, 100.0]  # no start value known for a score


def test_a_memory_axis_spans_at_least_its_minimum():
    ax = Figure().subplots()
    ax.plot([1, 2], [170.5, 170.8])
    _at_least_span(ax, MIN_SPANS["peak_memory_mb"])
    low, high = ax.get_ylim()
    assert high - low >= MIN_SPANS["peak_memory_mb"] and low <= 170.5 and high >= 170.8
    ax = Figure().subplots()
    ax.plot([1, 2], [0.1, 0.4])
    _at_least_span(ax, 10.0)
    assert ax.get_ylim() == (0.0, 10.0)  # never below zero


def test_a_broken_tie_and_the_shipped_models_checks_are_shown_when_the_summary_has_them():
    from pydantic import ValidationError

    from leantune.report._document import Paragraph, Table
    from leantune.report._sections import _pick_details
    from leantune.results import RunDir

    # A real study's summary (tests/results/data), given a tie, shipped checks, a rejection.
    summary = RunDir(Path(__file__).parents[1] / "results" / "data" / "run_7841bb0").read_summary()
    assert summary.best is not None
    best = summary.best.model_copy(
        update={
            "tie": {
                "tied_trials": ["b", "c"],
                "tolerance": 1e-9,
                "rule": "scores within 1e-09 (relative) are ties",
                "chosen_cost_s": 0.017,
                "tied_costs_s": {"b": 1.14, "c": 0.6},
            },
            "shipped": {"model_size_kb": {"value": 96.4, "limit": 100, "met": True}},
            "inference_measured": "median of 5 predict calls of the shipped pipeline",
            "chosen_on": "what it had reached when prechelt ended it at step 300",
        }
    )
    summary.shipped_rejected = [{"trial_id": "a", "reason": "shipped model_size_kb 105"}]
    blocks = _pick_details(best, "", summary)
    text = " ".join(b.text for b in blocks if isinstance(b, Paragraph))
    assert "2 other config(s) scored within 1e-09" in text and "up to 1.14 s" in text
    assert "quality rule ended it early" in text and "shipped pipeline" in text
    assert "a (shipped model_size_kb 105)" in text
    (table,) = [b for b in blocks if isinstance(b, Table)]
    assert list(table.data["limit on"]) == ["model_size_kb"]
    assert list(table.data["met"]) == ["yes"]
    # Other shapes are refused when the summary is read; a pick without them says nothing.
    with pytest.raises(ValidationError):
        best.model_validate({**best.model_dump(), "tie": "odd", "shipped": [1]})
    plain = best.model_copy(update={"tie": None, "shipped": None, "inference_measured": None})
    summary.shipped_rejected = []
    assert (
        _pick_details(plain.model_copy(update={"chosen_on": "its complete record"}), "", summary)
        == []
    )
