"""After the search: one row per trial, the best feasible config, and its refit on the test part."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from leantune.datasets import Fold
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
        row["started_at"] = record.started_at
        row["ended_at"] = record.ended_at if record.ended_at is not None else np.nan
        row["error"] = record.error or ""
        row["attempts"] = record.attempts
        row["session"] = record.session
        row["node_id"] = record.node_id or ""
        rows.append(row)
    return _typed_trials(pd.DataFrame(rows))


# Columns that hold whole numbers or text even where a trial has none: without a dtype, a
# missing value turns integers into floats and empty text into NaN in trials.parquet.
_INTEGER_COLUMNS = ("stop_step", "steps_done", "steps_planned", "folds_done", "attempts")
_TEXT_COLUMNS = (
    "trial_id",
    "model",
    "status",
    "stop_reason",
    "stop_rule",
    "stop_label",
    "stop_metric",
    "error",
    "node_id",
)


def _typed_trials(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    for column in _INTEGER_COLUMNS:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    for column in _TEXT_COLUMNS:
        if column in frame:
            frame[column] = frame[column].astype("string")
    for column in ("started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    return frame


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

    Exact ties are common under the sklearn backend: partial_fit updates once per sample, so
    configs that differ only in batch size learn the same weights (not so under minibatch).
    They go to the cheaper config, decided without the trial's own measured time, which would
    let timing noise pick a different winner each run: first fewer planned steps, then the
    median training time of its cost twins (the trials of the same model and batch size), then
    the config's place in the search space's order.
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
    baseline: dict[str, Any] = field(default_factory=dict)
    """The test score of a model that learned nothing: predicting the training part's mean
    (regression) or its most common class (classification). A pick no better is weak."""
    estimator: Any = field(default=None, repr=False, compare=False)
    """A scikit-learn Pipeline (the refit's scaler, then the model): it predicts on raw
    feature rows. None when the refit failed, or for a result loaded without its model."""


def refit_and_test(prepared: PreparedStudy, best: TrialRecord, plan: TrainingPlan) -> FinalModel:
    data = prepared.dataset
    refit = prepared.splits.refit
    trial_data = TrialData(data.X, data.y, data.task, data.n_classes, [refit])
    # Nothing reads the refit's reports but its last: one report, at the fold's end. The
    # steps and their order are the tuned ones (a report window does not change the updates),
    # and the refit skips thousands of in-fold scorings (kddcup, batch 2: ~1,700).
    steps = plan.steps_per_fold(len(refit.train_idx), int(best.config["batch_size"]))
    refit_plan = replace(plan, announce_start=False, report_every=max(1, steps))
    outcome = train_trial(best.config, trial_data, refit_plan, lambda report: None)
    test_metrics = {
        key.replace("val_", "test_", 1): value
        for key, value in outcome.last_report.items()
        if key.startswith("val_")
    }
    pipeline = deployable(outcome.estimator, refit) if outcome.estimator is not None else None
    # Only the rows timed are gathered: the whole test part would be a needless copy.
    rows = data.X[refit.val_idx[:1000]]
    per_sample, per_1000 = _inference_latency(pipeline, rows)
    return FinalModel(
        config=dict(best.config),
        test_metrics=test_metrics,
        model_size_bytes=model_size_bytes(outcome.estimator),
        inference_ms_per_sample=per_sample,
        inference_ms_per_1000=per_1000,
        status=outcome.status,
        error=outcome.error,
        baseline=_baseline(data.y[refit.train_idx], data.y[refit.val_idx], data.task),
        estimator=pipeline,
    )


def _baseline(y_train: np.ndarray, y_test: np.ndarray, task: str) -> dict[str, Any]:
    if len(y_train) == 0 or len(y_test) == 0:
        return {}
    if task == "classification":
        values, counts = np.unique(y_train, return_counts=True)
        majority = values[np.argmax(counts)]
        return {
            "metric": "test_accuracy",
            "value": float(np.mean(y_test == majority)),
            "how": "predicting the training part's most common class",
        }
    mean = float(np.mean(y_train))
    return {
        "metric": "test_rmse",
        "value": float(np.sqrt(np.mean((np.asarray(y_test, float) - mean) ** 2))),
        "how": "predicting the training part's mean",
    }


def deployable(estimator: Any, refit: Fold) -> Pipeline:
    """The refit model behind the scaler it was trained with, so it takes raw feature rows.

    The scaler is the refit's own (fitted on the training part only), rebuilt as a fitted
    StandardScaler rather than refitted: the model's weights were learned on exactly it.
    """
    scaler = StandardScaler()
    scaler.mean_ = np.asarray(refit.mean, dtype=float).copy()
    scaler.scale_ = np.asarray(refit.scale, dtype=float).copy()
    scaler.var_ = scaler.scale_**2
    scaler.n_features_in_ = len(scaler.mean_)
    scaler.n_samples_seen_ = len(refit.train_idx)
    return Pipeline([("scale", scaler), ("model", estimator)])


def _inference_latency(pipeline: Pipeline | None, X_test: np.ndarray) -> tuple[float, float]:
    """Median time of scaling + predict on up to 1,000 test rows: (ms per sample, ms per 1000)."""
    rows = X_test[:1000]
    if pipeline is None or len(rows) == 0:
        return float("nan"), float("nan")
    timings = []
    for _ in range(7):
        start = time.perf_counter()
        pipeline.predict(rows)
        timings.append(time.perf_counter() - start)
    seconds = float(np.median(timings))
    return 1e3 * seconds / len(rows), 1e6 * seconds / len(rows)
