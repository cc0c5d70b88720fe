"""RQ1's batch-size axis under each backend: the per-batch-size summary, and the chapter's
section on hand-made thesis directories (both backends, and one from before backends)."""

import json
import math

import pandas as pd
import pytest
from tests.report.conftest import grid, make_run_dir

from leantune.report._batch import batch_rows, batch_spread, spread_at
from leantune.report._run import load_run
from leantune.report._thesis_chapter import write_chapter

OVERHEAD_ARM = {
    "backend": "sklearn",
    "kind": "overhead",
    "grid": {"batch_size": {"pow2": [1, "max"]}, "learning_rate": [0.01], "alpha": [0.0001]},
    "max_steps": 10,
    "reduced": {"steps": "10 steps a fold", "grid": "one learning rate and one alpha"},
    "why": "partial_fit updates once per sample.",
}


def test_each_batch_size_gets_its_median_config_and_its_best_score(tmp_path):
    run = load_run(make_run_dir(tmp_path / "run", configs=grid(models=("logistic", "svm"))))
    rows = batch_rows(run, dataset="fake", backend="minibatch", arm="full", repeat=0)
    assert list(rows["batch_size"]) == [2, 8, 32, 128]
    assert set(rows["configs"]) == {4}  # 2 models × 2 learning rates
    trials = run.trials
    for item in rows.itertuples():
        chosen = trials[trials["batch_size"] == item.batch_size]
        assert item.step_time_ms == pytest.approx(chosen["step_time_ms"].median())
        assert item.score_best == pytest.approx(chosen["cv_score_mean"].max())
        assert item.score_median == pytest.approx(chosen["cv_score_mean"].median())
        # A row costs the step's time over its rows: a fold's rows (245 here) over its steps,
        # so a little under the batch where the last batch is partial.
        rows_a_step = 245 / math.ceil(245 / item.batch_size)
        per_row = 1e3 * chosen["step_time_ms"] / rows_a_step
        assert item.time_per_row_us == pytest.approx(per_row.median())
    summary = batch_spread(pd.concat([rows, rows.assign(repeat=1, step_time_ms=0)]))
    at_two = spread_at(summary[summary["backend"] == "minibatch"], "step_time_ms", 2)
    assert (at_two.n, at_two.low) == (2, 0) and at_two.high == rows["step_time_ms"].iloc[0]
    assert spread_at(summary, "step_time_ms", 4096).n == 0


def _thesis_dir(root, backends, *, with_backend_entries=True):
    """A thesis directory of the repeats layout: one set, one repeat per backend."""
    entries = []
    for backend in backends:
        folder = f"fake/{backend}" if len(backends) > 1 else "fake"
        make_run_dir(
            root / folder / "repeat-0" / "unstopped",
            configs=grid(models=("logistic", "svm")),
            stopping_enabled=False,
        )
        entry = {
            "name": "fake",
            "status": "ran",
            "data": "real",
            "task": "classification",
            "models": ["logistic", "svm"],
            "dir": folder,
            "kind": "repeats",
            "limits": {},
            "repeats": [
                {
                    "index": 0,
                    "seed": 0,
                    "order": "grid",
                    "trial_order_seed": None,
                    "unstopped": f"{folder}/repeat-0/unstopped",
                    "stopped": {},
                    "levels": [],
                }
            ],
        }
        if with_backend_entries:
            entry.update(backend=backend, arm=OVERHEAD_ARM if backend == "sklearn" else {})
        entries.append(entry)
    thesis = {
        "layout": "repeats",
        "command": "leantune study thesis",
        "grid": {},
        "protocol": {"repeats": 1},
        "datasets": entries,
    }
    if with_backend_entries:
        thesis["backends"] = list(backends)
    (root / "thesis.json").write_text(json.dumps(thesis))
    return root


def test_the_chapter_puts_both_backends_side_by_side_and_names_each_axis(tmp_path, parsed):
    root = _thesis_dir(tmp_path / "thesis", ["sklearn", "minibatch"])
    write_chapter(root)
    chapter = parsed(root / "results.html")
    assert "rq1_batch_by_backend" in chapter.tables
    assert "fake-rq1_batch_by_backend" in chapter.figures
    text = (root / "results.md").read_text()
    section = text[text.index("## RQ1: batch size under each backend") :]
    assert "**fake, sklearn (overhead axis)**" in section
    assert "**fake, minibatch (learning axis)**" in section
    assert "**fake, side by side**" in section
    assert "**The sklearn overhead arm** ran 10 steps a fold" in section
    # Each backend's arm is its own set in every table, named with its backend.
    data = pd.read_csv(root / "results" / "data.csv")
    assert list(data["dataset"]) == ["fake (sklearn)", "fake (minibatch)"]
    assert data["grid and length"].iloc[0].startswith("overhead arm: 10 steps a fold")
    assert "| step time (CPU ms) · sklearn | step time (CPU ms) · minibatch |" in section
    assert "best CV accuracy · minibatch" in section
    assert "sklearn ran as the overhead arm" in text[text.index("## Limitations") :]


def test_a_thesis_from_before_backends_still_renders_with_its_one_backend(tmp_path, parsed):
    root = _thesis_dir(tmp_path / "thesis", ["sklearn"], with_backend_entries=False)
    write_chapter(root)
    text = (root / "results.md").read_text()
    assert "Only sklearn ran here; `--backend sklearn,minibatch` puts minibatch beside it." in text
    assert "**fake, sklearn (overhead axis)**" in text
    assert "Every batch size read the same rows in the same order" in text
    assert list(pd.read_csv(root / "results" / "data.csv")["dataset"]) == ["fake"]
    assert "fake-rq1_batch_by_backend" in parsed(root / "results.html").figures


def test_on_a_regression_set_the_best_score_is_the_lowest_rmse(tmp_path):
    run = load_run(make_run_dir(tmp_path / "run", configs=grid(), task="regression"))
    rows = batch_rows(run, dataset="fake", backend="minibatch", arm="full", repeat=0)
    for item in rows.itertuples():
        chosen = run.trials[run.trials["batch_size"] == item.batch_size]["cv_score_mean"]
        assert item.score_best == pytest.approx(chosen.min())
