"""Hand-made run directories with the files `leantune run` writes, for fast report tests.

They cover shapes a real tiny run rarely gives: no feasible trial, one trial, regression,
sampled learning rates, an interrupted run. The real-run tests check the real files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from leantune.results import (
    BestSummary,
    DatasetSummary,
    Ledger,
    LedgerTrial,
    RuleSavings,
    RunDir,
    SearchSummary,
    Summary,
)


def make_run_dir(
    root: Path,
    *,
    configs: list[dict[str, Any]],
    statuses: list[str] | None = None,
    task: str = "classification",
    constraints: dict[str, float] | None = None,
    stopping_enabled: bool = True,
    method: str = "grid",
    outcome: str = "completed",
    synthetic: bool = False,
    subsample: dict[str, Any] | None = None,
    seed: int = 0,
) -> Path:
    """A run directory whose trials train faster with bigger batches, as real ones do."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    statuses = statuses or ["feasible"] * len(configs)
    constraints = constraints if constraints is not None else {"train_time_s": 5.0}
    metric = "val_accuracy" if task == "classification" else "val_rmse"
    trials, reports, ledger = [], [], []
    for index, (config, status) in enumerate(zip(configs, statuses, strict=True)):
        trial_id = f"t_{index:05d}"
        steps = int(np.ceil(400 / config["batch_size"]))
        ran = steps if status in ("feasible", "infeasible") else max(1, steps // 4)
        step_ms = 0.2 + 0.01 * config["batch_size"] * rng.uniform(0.9, 1.1)
        history = []
        for step in sorted({*range(100, ran + 1, 100), ran}):
            train_time = step * step_ms / 1e3
            quality = (
                0.9 - 0.3 * np.exp(-step / 50)
                if task == "classification"
                else 1 + 3 * np.exp(-step / 50)
            )
            history.append(
                {
                    "trial_id": trial_id,
                    "step": step,
                    "fold": 0,
                    "progress_pct": 100 * step / steps,
                    "steps_planned": steps,
                    "val_loss": 1.0 / (1 + step / 50),
                    metric: quality,
                    "objective": quality,
                    "step_time_ms": step_ms,
                    "train_time_s": train_time,
                    "wall_time_s": train_time * 1.1,
                    "cpu_time_s": train_time * 0.9,
                    "cpu_percent": 90.0,
                    "memory_mb": 150 + config["batch_size"] / 100,
                    "memory_rise_mb": config["batch_size"] / 100,
                    "inference_latency_ms": 0.002,
                    "model_size_kb": 1.1,
                }
            )
        reports += history
        last = history[-1]
        stopped = status in ("stopped", "infeasible", "diverged")
        label = "train_time_s" if status in ("stopped", "infeasible") else ""
        finished = status in ("feasible", "infeasible")
        trials.append(
            {
                "trial_id": trial_id,
                **config,
                "status": status,
                "stop_reason": f"train_time_s {last['train_time_s']:.3g} > 5" if label else "",
                "stop_rule": "constraint" if label else "",
                "stop_label": label,
                "stop_metric": "train_time_s" if label else "",
                "stop_value": last["train_time_s"] if label else np.nan,
                "stop_threshold": 5.0 if label else np.nan,
                "stop_step": ran if stopped else np.nan,
                "steps_done": ran,
                "steps_planned": steps,
                "folds_done": 1 if finished else 0,
                "cv_score_mean": last[metric] if finished else np.nan,
                "cv_score_std": 0.01 if finished else np.nan,
                "val_loss": last["val_loss"],
                metric: last[metric],
                "step_time_ms": step_ms,
                "train_time_s": last["train_time_s"],
                "cpu_time_s": last["cpu_time_s"],
                "cpu_percent": 90.0,
                "memory_mb": last["memory_mb"],
                "memory_rise_mb": last["memory_rise_mb"],
                "peak_memory_mb": last["memory_mb"],
                "wall_time_s": last["wall_time_s"],
                "error": "",
            }
        )
        cut = status in ("stopped", "diverged")
        ledger.append(
            {
                "trial_id": trial_id,
                "status": status,
                "stop_label": label if cut else "",
                "cpu_s": last["cpu_time_s"],
                "wall_s": last["wall_time_s"],
                "steps_done": ran,
                "steps_planned": steps,
                "remaining_cpu_s_estimate": (steps - ran) * last["cpu_time_s"] / ran if cut else 0,
                "remaining_wall_s_estimate": (steps - ran) * last["wall_time_s"] / ran
                if cut
                else 0,
            }
        )
    feasible = [t for t in trials if t["status"] == "feasible"]
    best = None
    if feasible and outcome == "completed":
        pick = (max if task == "classification" else min)(
            feasible, key=lambda t: t["cv_score_mean"]
        )
        name = metric.removeprefix("val_")
        best = {
            "trial_id": pick["trial_id"],
            "config": {k: pick[k] for k in ("model", "batch_size", "learning_rate", "alpha")},
            "cv_metric": metric,
            "cv_mode": "max" if task == "classification" else "min",
            "cv_score_mean": pick["cv_score_mean"],
            "cv_score_std": 0.01,
            "test": {f"test_{name}": pick["cv_score_mean"], "test_loss": 0.3, "test_loss_start": 1},
            "model_size_bytes": 1146,
            "inference_ms_per_sample": 0.002,
            "inference_ms_per_1000": 2.0,
        }
    counts = {
        s: sum(t["status"] == s for t in trials)
        for s in ("feasible", "stopped", "infeasible", "diverged", "failed")
    }
    spent = sum(t["cpu_s"] for t in ledger)
    saved = sum(t["remaining_cpu_s_estimate"] for t in ledger)
    dataset = {
        "name": "fake",
        "task": task,
        "rows": 700,
        "features": 5,
        "classes": 2 if task == "classification" else None,
        "source": "synthetic" if synthetic else "sklearn",
        "location": "generated" if synthetic else "tests",
        "synthetic": synthetic,
    }
    if synthetic:
        dataset.update(synthetic_like="mnist", seed=0, generator="gaussian classes")
    if subsample:
        dataset["subsample"] = subsample
    summary = Summary(
        study="fake",
        run_dir=str(root),
        dataset=DatasetSummary.model_validate(dataset),
        models=sorted({c["model"] for c in configs}),
        search_space={"batch_size": sorted({c["batch_size"] for c in configs})},
        folds=2,
        constraints=constraints,
        trials=len(trials),
        status_counts=counts,
        search=SearchSummary(method=method, stopping_enabled=stopping_enabled),
        best=BestSummary.model_validate(best) if best else None,
        wall_time_s=10.0,
        trial_cpu_s=spent,
        driver_cpu_s=1.0,
        tracking_uri="",
        leantune_version="0.1.0",
        python="3.11",
        outcome=outcome,
        ledger={"spent_cpu_s": spent, "saved_cpu_s_estimate": saved},
    )
    files = RunDir(root)
    files.write_summary(summary)
    pd.DataFrame(trials).to_csv(files.trials_csv, index=False)
    files.write_reports(pd.DataFrame(reports))
    files.write_ledger(
        Ledger(
            spent_cpu_s=spent,
            spent_wall_s=sum(t["wall_s"] for t in ledger),
            saved_cpu_s_estimate=saved,
            share_of_full_grid_spent_estimate=spent / (spent + saved) if spent else 1.0,
            by_rule={
                "train_time_s": RuleSavings(
                    trials_stopped=counts["stopped"],
                    saved_cpu_s_estimate=saved,
                    saved_wall_s_estimate=saved,
                )
            }
            if counts["stopped"]
            else {},
            trials=[LedgerTrial.model_validate(t) for t in ledger],
        )
    )
    files.write_spec(
        yaml.safe_dump(
            {
                "name": "fake",
                "dataset": {"source": "sklearn", "name": "iris"},
                "model": sorted({c["model"] for c in configs}),
                "training": {"seed": seed, "epochs": 1},
                "validation": {"test_size": 0.3},
            }
        )
    )
    return root


def grid(models=("logistic",), batch_sizes=(2, 8, 32, 128), rates=(0.001, 0.01), alphas=(1e-4,)):
    return [
        {"model": m, "batch_size": b, "learning_rate": r, "alpha": a}
        for m in models
        for b in batch_sizes
        for r in rates
        for a in alphas
    ]


@pytest.fixture
def fake_run(tmp_path) -> Callable[..., Path]:
    counter = iter(range(1000))

    def make(**options: Any) -> Path:
        options.setdefault("configs", grid())
        return make_run_dir(tmp_path / f"run{next(counter)}", **options)

    return make


@pytest.fixture
def fake_comparison(tmp_path) -> Path:
    """A --compare-stopping directory: batch 2 stopped in one arm, run on in the other."""
    configs = grid()
    root = tmp_path / "cmp"
    stopped = ["stopped" if c["batch_size"] == 2 else "feasible" for c in configs]
    unstopped = ["infeasible" if c["batch_size"] == 2 else "feasible" for c in configs]
    make_run_dir(root / "stopped", configs=configs, statuses=stopped)
    make_run_dir(root / "unstopped", configs=configs, statuses=unstopped, stopping_enabled=False)
    return root


@pytest.fixture
def make_grid() -> Callable[..., list[dict[str, Any]]]:
    return grid
