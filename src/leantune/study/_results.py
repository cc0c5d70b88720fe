"""After the search: one row per trial, the best feasible config, and its refit on the test part."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from leantune.engine import FEASIBLE, STOPPED, TrainingPlan, TrialData, TrialRecord, train_trial
from leantune.metrics import CATALOGUE, CLOCKS, score_metric
from leantune.models import model_size_bytes
from leantune.study._prepare import PreparedStudy

# "infeasible" only happens with stopping off: finished, but broke a limit on the way.
STATUSES = ("feasible", "stopped", "skipped", "infeasible", "diverged", "failed")

# Final-report metrics copied into trials.csv, and the peak memory over the trial.
_FINAL_METRICS = (
    "cv_score_mean",
    "cv_score_std",
    "val_loss",
    "val_accuracy",
    "val_rmse",
    *(metric.name for metric in CATALOGUE),
    # Both clocks of every time, whichever the limits were judged on.
    *(metric.on_clock(clock) for metric in CATALOGUE if metric.timed for clock in CLOCKS),
    "cpu_time_s",
)


def trials_table(records: Sequence[TrialRecord]) -> pd.DataFrame:
    rows = []
    for record in records:
        last = record.last
        reason = record.stop_reason
        row: dict[str, Any] = {
            "trial_id": record.trial_id,
            **record.config,
            "status": record.status,
            "stop_reason": reason.describe() if reason else "",
            "stop_rule": reason.rule if reason else "",
            "stop_label": reason.label if reason else "",
            "stop_metric": reason.metric if reason else "",
            "stop_value": reason.value if reason else np.nan,
            "stop_threshold": reason.threshold if reason else np.nan,
            "stop_step": reason.step if reason else np.nan,
            "steps_done": last.get("step", 0),
            "steps_planned": last.get("steps_planned", np.nan),
            "folds_done": sum(1 for r in record.reports if r.get("fold_finished")),
        }
        for key in _FINAL_METRICS:
            row[key] = last.get(key, np.nan)
        memory = [r["memory_mb"] for r in record.reports if "memory_mb" in r]
        row["peak_memory_mb"] = max(memory) if memory else np.nan
        row["wall_time_s"] = (record.ended_at or record.started_at) - record.started_at
        row["error"] = record.error or ""
        row["attempts"] = record.attempts
        row["session"] = record.session
        row["node_id"] = record.node_id or ""
        rows.append(row)
    return pd.DataFrame(rows)


def status_counts(records: Sequence[TrialRecord]) -> dict[str, int]:
    counts = Counter(r.status for r in records)
    return {status: counts.get(status, 0) for status in STATUSES}


def stops_by_label(records: Sequence[TrialRecord]) -> dict[str, int]:
    """How many trials each rule ended: {"memory_mb": 12, "predicted train_time_s": 3, ...}."""
    counts = Counter(
        r.stop_reason.label
        for r in records
        if r.status in (STOPPED, "skipped", "infeasible") and r.stop_reason is not None
    )
    return dict(counts.most_common())


def reports_table(records: Sequence[TrialRecord]) -> pd.DataFrame:
    """Every report of every trial, one row each: what replay and the report read back."""
    rows = [
        {
            "trial_id": record.trial_id,
            **{k: v for k, v in report.items() if k != "train_loss_steps"},
        }
        for record in records
        for report in record.reports
    ]
    frame = pd.DataFrame(rows)
    for column in ("error", "trial_status", "cv_metric"):
        if column in frame:
            frame[column] = frame[column].astype("string")
    return frame


def best_feasible(records: Sequence[TrialRecord], task: str) -> TrialRecord | None:
    """The feasible trial with the best mean CV score.

    Exact ties are common: partial_fit updates once per sample, so configs that differ only in
    batch size learn the same weights. They go to the cheaper config, decided without the
    trial's own measured time, which would let timing noise pick a different winner each run:
    first fewer planned steps, then the median training time of its cost twins (the trials of
    the same model and batch size), then the config's place in the search space's order.
    """
    _, mode = score_metric(task)
    scored = [r for r in records if r.status == FEASIBLE and "cv_score_mean" in r.last]
    if not scored:
        return None
    sign = 1.0 if mode == "max" else -1.0
    twin_cost = _median_cost_by_twins(scored)
    return min(
        scored,
        key=lambda r: (
            -sign * r.last["cv_score_mean"],
            r.last.get("steps_planned", 0),
            twin_cost[_twins(r)],
            _config_order(r.config),
        ),
    )


def _twins(record: TrialRecord) -> tuple[str, int]:
    """Trials of one model and batch size do the same work; learning rate and alpha do not
    change a step's cost."""
    return str(record.config.get("model")), int(record.config.get("batch_size", 0))


def _median_cost_by_twins(records: Sequence[TrialRecord]) -> dict[tuple[str, int], float]:
    costs: dict[tuple[str, int], list[float]] = {}
    for record in records:
        costs.setdefault(_twins(record), []).append(float(record.last.get("train_time_s", 0.0)))
    return {twins: float(np.median(values)) for twins, values in costs.items()}


def _config_order(config: dict[str, Any]) -> tuple[tuple[str, int, Any], ...]:
    """Model names alphabetically, numbers by value: the order a grid lists its configs in."""
    return tuple(
        (key, 0, value) if isinstance(value, int | float) else (key, 1, str(value))
        for key, value in sorted(config.items())
    )


@dataclass(frozen=True)
class FinalModel:
    """The chosen config refit on the whole training part and scored on the held-out test part."""

    config: dict[str, Any]
    test_metrics: dict[str, float]
    model_size_bytes: int
    inference_ms_per_sample: float
    inference_ms_per_1000: float
    status: str
    error: str | None


def refit_and_test(prepared: PreparedStudy, best: TrialRecord, plan: TrainingPlan) -> FinalModel:
    data = prepared.dataset
    refit = prepared.splits.refit
    trial_data = TrialData(data.X, data.y, data.task, data.n_classes, [refit])
    outcome = train_trial(
        best.config, trial_data, replace(plan, announce_start=False), lambda report: None
    )
    test_metrics = {
        key.replace("val_", "test_", 1): value
        for key, value in outcome.last_report.items()
        if key.startswith("val_")
    }
    # Only the rows timed are gathered: the whole test part would be a needless copy.
    rows = data.X[refit.val_idx[:1000]]
    per_sample, per_1000 = _inference_latency(outcome.estimator, rows, refit)
    return FinalModel(
        config=dict(best.config),
        test_metrics=test_metrics,
        model_size_bytes=model_size_bytes(outcome.estimator),
        inference_ms_per_sample=per_sample,
        inference_ms_per_1000=per_1000,
        status=outcome.status,
        error=outcome.error,
    )


def _inference_latency(estimator: Any, X_test: np.ndarray, refit: Any) -> tuple[float, float]:
    """Median time of scaling + predict on up to 1,000 test rows: (ms per sample, ms per 1000)."""
    rows = X_test[:1000]
    if estimator is None or len(rows) == 0:
        return float("nan"), float("nan")
    timings = []
    for _ in range(7):
        start = time.perf_counter()
        estimator.predict((rows - refit.mean) / refit.scale)
        timings.append(time.perf_counter() - start)
    seconds = float(np.median(timings))
    return 1e3 * seconds / len(rows), 1e6 * seconds / len(rows)
