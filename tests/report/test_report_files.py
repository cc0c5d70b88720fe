"""The report from stored results: every figure and table, offline, for every shape of run."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from leantune import LeantuneError
from leantune.report import load_run, rebuild, write_comparison, write_run_report
from leantune.report._document import format_value
from leantune.report._rq1 import (
    level_table,
    spearman_with_interval,
    system_frame,
)
from leantune.report._rq2 import comparison_summary

RUN_FIGURES = {
    "rq1_effect_batch_size",
    "rq1_effect_learning_rate",
    "rq1_heatmaps",
    "pareto",
    "curves",
}
RUN_TABLES = {
    "chosen_config",
    "chosen_limits",
    "rq1_spearman",
    "rq1_levels_batch_size",
    "rq1_levels_learning_rate",
    "rq1_levels_alpha",
    "rq1_heatmap_step_time_ms",
    "rq1_heatmap_train_time_s",
    "rq2_ledger",
    "rq2_ledger_by_rule",
    "pareto",
    "endings",
    "stopped_trials",
    "run_info",
}


def test_a_grid_run_gives_every_figure_and_table_offline_with_csv_and_markdown(
    fake_run, make_grid, parsed
):
    configs = make_grid(models=("logistic", "svm"))
    statuses = ["stopped" if c["batch_size"] == 2 else "feasible" for c in configs]
    run_dir = fake_run(configs=configs, statuses=statuses)
    written = write_run_report(run_dir)
    report = parsed(written.html)
    assert set(report.figures) == RUN_FIGURES  # one alpha: no alpha effect to plot
    assert set(report.tables) == RUN_TABLES
    assert all(rows > 1 for rows in report.tables.values()), report.tables
    assert {p.stem for p in written.files_dir.glob("*.csv")} == RUN_TABLES
    assert {p.stem for p in (written.files_dir / "figures").glob("*.png")} == RUN_FIGURES
    markdown = written.markdown.read_text()
    assert markdown.count("\n| --- |") >= len(RUN_TABLES) - 1
    assert "partial_fit" in markdown and "report/figures/pareto.png" in markdown
    levels = pd.read_csv(written.files_dir / "rq1_levels_batch_size.csv")
    assert set(levels["level"]) == {2, 8, 32, 128}
    # Stopped trials' time is not a total: only the finished ones count at batch size 2.
    total = levels[(levels["metric"] == "train_time_s") & (levels["level"] == 2)]
    assert total["n"].item() == 0


def test_no_feasible_trial_still_reports_and_says_no_config_was_chosen(fake_run, parsed):
    run_dir = fake_run(statuses=["stopped"] * 8)
    written = write_run_report(run_dir)
    report = parsed(written.html)
    assert "chosen_config" not in report.tables
    assert "No config was chosen: no trial finished within every limit" in written.html.read_text()
    assert {"pareto", "curves", "rq1_effect_batch_size"} <= set(report.figures)


def test_a_single_trial_has_tables_but_no_effects_to_plot(fake_run, make_grid, parsed):
    run_dir = fake_run(configs=make_grid(batch_sizes=(16,), rates=(0.01,)))
    report = parsed(write_run_report(run_dir).html)
    assert not any(name.startswith("rq1_effect") for name in report.figures)
    assert {"chosen_config", "rq1_spearman", "run_info"} <= set(report.tables)
    spearman = pd.read_csv(run_dir / "report" / "rq1_spearman.csv")
    assert spearman["rho"].isna().all()


def test_regression_with_sampled_learning_rates_ranks_by_rmse_and_bins_decades(fake_run):
    rng = np.random.default_rng(0)
    configs = [
        {"model": "linear", "batch_size": int(b), "learning_rate": float(r), "alpha": 1e-4}
        for b, r in zip(rng.choice([4, 32], 30), 10 ** rng.uniform(-4, -1, 30), strict=True)
    ]
    run_dir = fake_run(configs=configs, method="random", task="regression")
    written = write_run_report(run_dir)
    assert "RMSE (CV)" in written.html.read_text()  # the Pareto table ranks by RMSE
    chosen = pd.read_csv(written.files_dir / "chosen_config.csv").set_index("quantity")
    assert "test rmse (held-out part)" in chosen.index
    assert "test loss_start (held-out part)" not in chosen.index
    levels = pd.read_csv(written.files_dir / "rq1_levels_learning_rate.csv")
    assert set(levels["level"]) <= {1e-4, 1e-3, 1e-2}
    assert levels["level_label"].str.startswith("[").all()
    heatmap = pd.read_csv(written.files_dir / "rq1_heatmap_step_time_ms.csv")
    assert heatmap["learning_rate"].nunique() <= 3


def test_caveats_come_first_synthetic_subsampled_interrupted_observe_only(fake_run):
    run_dir = fake_run(
        synthetic=True,
        subsample={"rows": 300, "of_rows": 70000, "seed": 3, "stratified": True},
        outcome="interrupted",
        statuses=["infeasible", "feasible"] * 4,
        stopping_enabled=False,
    )
    written = write_run_report(run_dir)
    text = written.html.read_text()
    first_table = text.index("<table")
    for phrase in (
        "SYNTHETIC DATA",
        "seeded subsample of 300 of 70,000 rows (seed 3",
        "was interrupted",
    ):
        assert 0 < text.index(phrase) < first_table, phrase
    markdown = written.markdown.read_text()
    assert markdown.index("SYNTHETIC DATA") < markdown.index("| ---")
    assert "Stopping was off in this run (observe only): 4 trials broke a limit" in text


def test_a_run_whose_trials_never_ended_still_gets_a_report(tmp_path, fake_run):
    run_dir = fake_run(outcome="interrupted")
    (run_dir / "trials.csv").write_text("")
    pd.DataFrame().to_parquet(run_dir / "reports.parquet")  # what a run with no report writes
    written = write_run_report(run_dir)
    assert "No trial trained a step" in written.html.read_text()
    (run_dir / "reports.parquet").unlink()
    assert "No trial trained a step" in write_run_report(run_dir).html.read_text()


def test_rebuild_names_the_argument_when_the_directory_is_not_a_run(tmp_path):
    with pytest.raises(LeantuneError, match="RUN_DIR: .* is not a leantune run directory"):
        rebuild(tmp_path)
    with pytest.raises(LeantuneError, match="is not a directory"):
        rebuild(tmp_path / "missing")


def test_a_comparison_checks_the_ledger_estimates_against_the_unstopped_arm(
    fake_comparison, parsed
):
    written = write_comparison(fake_comparison)
    report = parsed(written.html)
    assert {
        "cmp-rq2_arm_costs",
        "cmp-rq2_estimates",
        "unstopped-rq1_heatmaps",
        "stopped-curves",
        "unstopped-pareto",
    } <= set(report.figures)
    assert {
        "cmp-rq2_arms",
        "cmp-rq2_savings",
        "cmp-rq2_by_rule",
        "cmp-rq2_estimate_check",
        "unstopped-rq1_spearman",
        "stopped-chosen_config",
        "stopped-run_info",
    } <= set(report.tables)
    headline = json.loads((fake_comparison / "comparison.json").read_text())
    assert headline["regret"]["same_config"] is True
    assert headline["regret"]["test_regret"] == 0
    assert headline["savings"]["cpu_s_saved"] > 0
    # The fake stopped arm cut its batch-2 trials at a quarter of their steps, and its
    # per-step cost is the unstopped arm's: estimate and actual agree closely.
    estimates = headline["estimates"]
    assert estimates["trials_cut_short"] == estimates["matched_in_unstopped_arm"] == 2
    assert estimates["estimate_over_actual"] == pytest.approx(1.0, rel=0.2)
    assert "../" not in " ".join(report.links)
    html = written.html.read_text()
    assert "Learning curves (stopped arm" in html
    assert "Trade-offs: the Pareto front (unstopped arm" in html
    assert comparison_summary(
        load_run(fake_comparison / "stopped"), load_run(fake_comparison / "unstopped")
    )["by_rule"]


def test_spearman_is_seeded_and_has_an_interval_only_with_enough_trials():
    x = np.repeat([2.0, 4.0, 8.0, 16.0], 5)
    y = x * 3 + np.random.default_rng(0).normal(0, 0.1, len(x))
    rho, low, high = spearman_with_interval(x, y, seed=1)
    assert rho > 0.9 and low <= rho <= high <= 1.0
    assert spearman_with_interval(x, y, seed=1) == (rho, low, high)
    assert all(math.isnan(v) for v in spearman_with_interval(x, np.ones_like(x), seed=1))
    few = spearman_with_interval(x[:6], y[:6], seed=1)
    assert few[0] > 0.5 and math.isnan(few[1])


def test_throughput_counts_the_rows_a_step_really_trains_on(fake_run, make_grid):
    # 700 rows, 30 % test, 2 folds: 245 training rows a fold; batch 128 makes 2 steps of
    # 122.5 rows on average, not 128.
    run = load_run(fake_run(configs=make_grid(batch_sizes=(128,), rates=(0.01,))))
    frame = system_frame(run)
    expected = 245 / 2 / (frame["step_time_ms"].item() / 1e3)
    assert frame["throughput_samples_s"].item() == pytest.approx(expected)
    table = level_table(frame, "batch_size")
    assert set(table["metric"]) == {
        "step_time_ms",
        "train_time_s",
        "throughput_samples_s",
        "cpu_percent",
        "peak_memory_mb",
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "–"),
        (float("nan"), "–"),
        (1234567, "1,234,567"),
        (0.000123, "0.000123"),
        (3.14159, "3.142"),
        (2.0, "2"),
        (12345.6, "12,346"),
        (True, "yes"),
        ("text", "text"),
    ],
)
def test_numbers_are_written_for_people(value, text):
    assert format_value(value) == text


def test_rebuild_finds_what_a_directory_holds(fake_comparison, monkeypatch):
    import leantune.report._rebuild as build

    calls = []
    monkeypatch.setattr(build, "write_run_report", lambda path: calls.append(("run", path)))
    monkeypatch.setattr(build, "write_comparison", lambda path: calls.append(("cmp", path)))
    rebuild(fake_comparison)
    assert calls == [
        ("run", fake_comparison / "stopped"),
        ("run", fake_comparison / "unstopped"),
        ("cmp", fake_comparison),
    ]
    calls.clear()
    rebuild(fake_comparison / "stopped")
    assert calls == [("run", fake_comparison / "stopped")]


def test_the_chosen_config_is_shown_against_every_limit_with_its_headroom(fake_run):
    run_dir = fake_run(constraints={"train_time_s": 5.0, "memory_mb": 400.0})
    written = write_run_report(run_dir)
    limits = pd.read_csv(written.files_dir / "chosen_limits.csv").set_index("limit on")
    memory = limits.loc["private memory (MB)"]
    assert memory["limit"] == 400.0
    assert memory["headroom"] == pytest.approx(400.0 - memory["chosen config reached"])
    assert 0 < memory["headroom (% of limit)"] < 100
    assert "Weak model" not in written.html.read_text()


def test_a_pick_no_better_than_predicting_the_mean_is_flagged(fake_run):
    run_dir = fake_run(
        task="regression",
        configs=[{"model": "linear", "batch_size": 8, "learning_rate": 0.01, "alpha": 1e-4}],
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    rmse = summary["best"]["test"]["test_rmse"]
    how = "predicting the training part's mean"
    summary["best"]["baseline"] = {"metric": "test_rmse", "value": rmse / 2, "how": how}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    html = write_run_report(run_dir).html.read_text()
    assert "Weak model: its test rmse" in html and how in html


def test_blown_up_trials_are_off_the_scale_and_out_of_the_batch_size_spread(fake_run, make_grid):
    from leantune.report._frontier import off_scale
    from leantune.report._sections import batch_invariance

    status = pd.Series(["feasible", "feasible", "feasible", "diverged"])
    rmse = pd.Series([50.0, 55.0, 2e12, np.nan])
    assert off_scale(status, rmse, higher_is_better=False).tolist() == [False, False, True, True]
    assert off_scale(status, rmse, higher_is_better=True).tolist() == [False, False, False, True]

    configs = make_grid(batch_sizes=(2, 8), rates=(0.01,))
    run_dir = fake_run(configs=configs, task="regression")
    trials = pd.read_csv(run_dir / "trials.csv")
    trials.loc[0, "cv_score_mean"] = 2e12  # the same config at batch 2 blew up
    extra = trials.iloc[[1]].assign(trial_id="t_x", batch_size=32)
    pd.concat([trials, extra]).to_csv(run_dir / "trials.csv", index=False)
    text = batch_invariance(load_run(run_dir))
    assert text.startswith("Measured in this run: in the one group of finished trials")
    assert "CV scores are identical; 1 blown-up trials left out." in text


def test_a_sampled_search_reports_no_share_of_a_full_grid(fake_run):
    run_dir = fake_run(method="random")
    ledger = pd.read_csv(write_run_report(run_dir).files_dir / "rq2_ledger.csv")
    assert not ledger["quantity"].str.contains("full grid").any()


def test_stops_are_judged_against_the_same_configs_run_with_stopping_off(tmp_path, parsed):
    from tests.report.conftest import grid, make_run_dir

    configs = grid()  # batch 2, 8, 32, 128 × two learning rates
    by_batch = {2: "stopped", 8: "stopped", 32: "feasible", 128: "feasible"}
    truth = {2: "infeasible", 8: "feasible", 32: "infeasible", 128: "feasible"}
    root = tmp_path / "cmp"
    make_run_dir(
        root / "stopped", configs=configs, statuses=[by_batch[c["batch_size"]] for c in configs]
    )
    make_run_dir(
        root / "unstopped",
        configs=configs,
        statuses=[truth[c["batch_size"]] for c in configs],
        stopping_enabled=False,
    )
    written = write_comparison(root)
    decisions = json.loads((root / "comparison.json").read_text())["decisions"]
    # batch 2: right stops; batch 8: false stops (it finished within its limit unstopped);
    # batch 32: missed (finished here, broke the limit there)
    assert (decisions["stops"], decisions["right_stops"], decisions["false_stops"]) == (4, 2, 2)
    assert decisions["false_stop_rate"] == 0.5
    assert decisions["missed_violations"] == 2
    assert decisions["pick_status_in_unstopped_arm"] in ("feasible", "infeasible")
    assert "cmp-rq2_decisions" in parsed(written.html).tables


def test_learning_curves_know_each_trials_model_so_losses_get_their_own_panels(fake_run, make_grid):
    from leantune.report._frontier import curves_frame

    run = load_run(fake_run(configs=make_grid(models=("logistic", "svm"))))
    frame = curves_frame(run)
    assert set(frame["model"]) == {"logistic", "svm"}
    assert not frame["off_scale"].any()
