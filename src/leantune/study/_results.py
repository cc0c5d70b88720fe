"""After the search: one row per trial, the best feasible config, and its refit on the test part."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leantune.datasets import Fold
from leantune.engine import TrainingPlan, TrialData, TrialRecord, train_trial
from leantune.engine._trial import LATENCY_REPEATS, latency_rows
from leantune.metrics import (
    CATALOGUE,
    CLOCKS,
    NEAR_LIMIT_SHARE,
    QUALITY_METRICS,
    Objective,
    final_value,
)
from leantune.models import model_size_bytes
from leantune.results import typed_trials
from leantune.search import Pick, pick_best
from leantune.study._prepare import PreparedStudy
from leantune.trials import (
    CV_SCORE_MEAN,
    CV_SCORE_STD,
    ENDED_STATUSES,
    FEASIBLE,
    FOLD_FINISHED,
    FOLDS_DONE,
    INFEASIBLE,
    SKIPPED,
    STEPS_DONE,
    STEPS_PLANNED,
    STOPPED,
)

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# Configs refit at most, when the chosen one's shipped model breaks a limit its trial met
# (each refit trains the config on the whole training part once more).
MAX_REFITS = 3

# Final-report metrics copied into trials.csv, and the peak memory over the trial: a column
# for every metric a study can limit or optimize.
_FINAL_METRICS = tuple(
    dict.fromkeys(
        (
            CV_SCORE_MEAN,
            CV_SCORE_STD,
            "val_loss",
            *(metric.name for metric in CATALOGUE),
            # Both clocks of every time, whichever the limits were judged on.
            *(metric.on_clock(clock) for metric in CATALOGUE if metric.timed for clock in CLOCKS),
            "cpu_time_s",
        )
    )
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
            "late_stop": record.late_stop.describe() if record.late_stop else "",
            STEPS_DONE: last.get("step", 0),
            STEPS_PLANNED: last.get(STEPS_PLANNED, np.nan),
            FOLDS_DONE: sum(1 for r in record.reports if r.get(FOLD_FINISHED)),
        }
        for key in _FINAL_METRICS:
            row[key] = last.get(key, np.nan)
        # What a quality limit or objective is judged on (the column of the same name holds
        # the last fold's value).
        for metric in QUALITY_METRICS:
            row[f"cv_{metric}"] = final_value(record.reports, metric)
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
    return typed_trials(pd.DataFrame(rows))


def status_counts(records: Sequence[TrialRecord]) -> dict[str, int]:
    counts = Counter(r.status for r in records)
    return {str(status): counts.get(status, 0) for status in ENDED_STATUSES}


def stops_by_label(records: Sequence[TrialRecord]) -> dict[str, int]:
    """How many trials each rule ended: {"memory_mb": 12, "predicted train_time_s": 3, ...}."""
    counts = Counter(
        r.stop_reason.label
        for r in records
        if r.status in (STOPPED, SKIPPED, INFEASIBLE) and r.stop_reason is not None
    )
    return dict(counts.most_common())


def reports_table(
    records: Sequence[TrialRecord],
    reports_of: Callable[[TrialRecord], list[dict[str, Any]]] | None = None,
) -> pd.DataFrame:
    """Every report of every trial, one row each: what replay and the report read back.

    `reports_of`: where a trial's reports are read from when its record no longer holds them
    all (the study's state files); a few hundred trials at a time, so only their rows are ever
    held as Python objects at once."""
    frames = []
    for start in range(0, len(records), _TRIALS_A_FRAME):
        rows = [
            {
                "trial_id": record.trial_id,
                **{k: v for k, v in report.items() if k != "train_loss_steps"},
            }
            for record in records[start : start + _TRIALS_A_FRAME]
            for report in (reports_of(record) if reports_of else record.reports)
        ]
        frames.append(pd.DataFrame(rows))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for column in ("error", "trial_status", "cv_metric"):
        if column in frame:
            frame[column] = frame[column].astype("string")
    return frame


# Trials whose reports become one frame before they are joined (reports_table).
_TRIALS_A_FRAME = 500


def best_feasible(records: Sequence[TrialRecord], objective: Objective | str) -> TrialRecord | None:
    """The chosen trial (leantune.search.pick_best), or None: kept for callers of old."""
    pick = pick_best(records, objective)
    return pick.record if pick else None


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
    inference_measured: str = ""
    """What `inference_ms_per_sample` measured: the one latency figure of the shipped model."""
    trained_steps: int | None = None
    """Steps per fold the refit trained where a quality rule had ended the trial early (it is
    refit to the point it reached); None: the full plan."""
    estimator: Any = field(default=None, repr=False, compare=False)
    """A scikit-learn Pipeline (the refit's scaler, then the model): it predicts on raw
    feature rows. None when the refit failed, or for a result loaded without its model. A
    training function's model without `fit` comes as a ScaledModel (it predicts the same way,
    but is not saved as an MLflow model)."""

    @property
    def savable(self) -> bool:
        """Whether the model can be saved as an MLflow scikit-learn model."""
        from sklearn.pipeline import Pipeline

        return isinstance(self.estimator, Pipeline)


def refit_and_test(
    prepared: PreparedStudy, best: TrialRecord, plan: TrainingPlan, *, reached: bool = False
) -> FinalModel:
    """Refit `best`'s config on the whole training part and score it on the test part.

    `reached`: a quality rule (Prechelt, patience, ASHA) ended the trial early, and it was
    picked on what it had reached: the refit trains the steps per fold it had trained in its
    last fold, as early stopping would.
    """
    data = prepared.dataset
    refit = prepared.splits.refit
    trial_data = TrialData(data.X, data.y, data.task, data.n_classes, [refit])
    stopped_at = best.last.get("fold_step") if reached else None
    trained_steps = int(stopped_at) if isinstance(stopped_at, int | float) else None
    if trained_steps is not None:
        plan = replace(plan, max_steps=max(1, trained_steps))
    # Nothing reads the refit's reports but its last: one report, at the fold's end. The
    # steps and their order are the tuned ones (a report window does not change the updates),
    # and the refit skips thousands of in-fold scorings (kddcup, batch 2: ~1,700).
    steps = plan.steps_per_fold(len(refit.train_idx), int(best.config["batch_size"]))
    refit_plan = replace(plan, announce_start=False, report_every=max(1, steps), first_reports=())
    outcome = train_trial(best.config, trial_data, refit_plan, lambda report: None)
    test_metrics = {
        key.replace("val_", "test_", 1): value
        for key, value in outcome.last_report.items()
        if key.startswith("val_")
    }
    model = outcome.estimator
    pipeline: Any = None
    if model is not None:
        # A training function's own model may not be a scikit-learn estimator.
        pipeline = deployable(model, refit) if callable(getattr(model, "fit", None)) else None
        pipeline = pipeline if pipeline is not None else ScaledModel(model, refit)
    # As a trial times it: the same number of rows, here raw rows through the whole shipped
    # pipeline (its scaling included), on the study's clock.
    rows = data.X[refit.val_idx[: latency_rows(data.X.shape[1])]]
    per_sample, measured = _inference_latency(pipeline, rows, plan.clock)
    return FinalModel(
        config=dict(best.config),
        test_metrics=test_metrics,
        model_size_bytes=model_size_bytes(outcome.estimator),
        inference_ms_per_sample=per_sample,
        inference_ms_per_1000=1e3 * per_sample,
        status=outcome.status,
        error=outcome.error,
        baseline=_baseline(data.y[refit.train_idx], data.y[refit.val_idx], data.task),
        inference_measured=measured,
        trained_steps=trained_steps,
        estimator=pipeline,
    )


def near_limits(records: Sequence[TrialRecord], limits: dict[str, float]) -> list[dict[str, Any]]:
    """The trials judged on their complete record whose end value of a limited metric lies
    within NEAR_LIMIT_SHARE of the limit, either side: feasible or not by a margin the
    machine's own noise can cross. Nearest first."""
    near = []
    for record in records:
        if record.status not in (FEASIBLE, INFEASIBLE) or not record.reports:
            continue
        for metric, limit in limits.items():
            value = record.last.get(metric)
            if not isinstance(value, int | float) or not math.isfinite(value) or limit <= 0:
                continue
            margin = value / limit - 1
            if abs(margin) <= NEAR_LIMIT_SHARE:
                near.append(
                    {
                        "trial_id": record.trial_id,
                        "config": record.config,
                        "status": record.status,
                        "metric": metric,
                        "value": float(value),
                        "limit": limit,
                        "margin_pct": 100 * margin,
                    }
                )
    return sorted(near, key=lambda n: abs(n["margin_pct"]))


def shipped_checks(final: FinalModel, limits: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Every deployment limit the study set, against the shipped model itself: its size and
    its latency as measured on the refit ({metric: {"value", "limit", "met"}})."""
    measured = {
        "model_size_kb": final.model_size_bytes / 1024,
        "inference_latency_ms": final.inference_ms_per_sample,
    }
    return {
        metric: {
            "value": value,
            "limit": limits[metric],
            # Not measured (no model): nothing to hold against the limit.
            "met": not math.isfinite(value) or value <= limits[metric],
        }
        for metric, value in measured.items()
        if metric in limits
    }


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
    # Imported here: scikit-learn (~0.8 s) is not on the way to a study's first trial.
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    scaler.mean_ = np.asarray(refit.mean, dtype=float).copy()
    scaler.scale_ = np.asarray(refit.scale, dtype=float).copy()
    scaler.var_ = scaler.scale_**2
    scaler.n_features_in_ = len(scaler.mean_)
    scaler.n_samples_seen_ = len(refit.train_idx)
    return Pipeline([("scale", scaler), ("model", estimator)])


class ScaledModel:
    """A model that is not a scikit-learn estimator behind its refit's scaling: predicts on
    raw feature rows, as the Pipeline of any other model does."""

    def __init__(self, model: Any, refit: Fold):
        self.model = model
        self.mean = np.asarray(refit.mean, dtype=float).copy()
        self.scale = np.asarray(refit.scale, dtype=float).copy()

    def predict(self, X: Any) -> Any:
        return self.model.predict((np.asarray(X, dtype=float) - self.mean) / self.scale)


def _inference_latency(pipeline: Any, rows: np.ndarray, clock: str) -> tuple[float, str]:
    """Median time per row of scaling + predict on `rows`, over LATENCY_REPEATS calls on
    `clock` (as a trial's reports time it): (ms per sample, what was measured)."""
    if pipeline is None or len(rows) == 0:
        return float("nan"), ""
    # The normalised clock starts from the CPU clock (the refit runs on an idle-or-not driver,
    # with no probe of its own: its CPU reading is the closest to what a trial reported).
    read = time.perf_counter if clock == "wall" else time.thread_time
    timings = []
    for _ in range(LATENCY_REPEATS):
        start = read()
        pipeline.predict(rows)
        timings.append(read() - start)
    per_sample = 1e3 * float(np.median(timings)) / len(rows)
    measured = (
        f"median of {LATENCY_REPEATS} predict calls of the shipped pipeline (scaling + model) "
        f"on {len(rows)} raw test rows, {clock} clock, per row"
    )
    return per_sample, measured


def pick_and_refit(
    prepared: PreparedStudy, records: list[TrialRecord], plan: TrainingPlan
) -> tuple[Pick | None, FinalModel | None, list[dict[str, Any]]]:
    """The best candidate whose shipped model is within every limit: the pick is refit, its
    size and latency measured on the refit model, and if it breaks a limit its trial met, the
    next best config is refit instead (at most MAX_REFITS). Returns the pick, its refit, and
    the configs rejected on the way."""
    from leantune.study._policies import constraint_limits

    limits, _ = constraint_limits(prepared.spec, prepared.memory)
    rejected: list[dict[str, Any]] = []
    for _ in range(MAX_REFITS):
        pick = pick_best(
            records,
            prepared.spec.goal,
            floors=prepared.spec.constraints.quality(),
            exclude={r["trial_id"] for r in rejected},
        )
        if pick is None:
            break
        final = refit_and_test(prepared, pick.record, plan, reached=pick.reached)
        broken = {m: c for m, c in shipped_checks(final, limits).items() if not c["met"]}
        if not broken:
            return pick, final, rejected
        rejected.append(
            {
                "trial_id": pick.record.trial_id,
                "config": pick.record.config,
                "broken": broken,
                "reason": "; ".join(
                    f"shipped {m} {c['value']:.4g} > {c['limit']:g}" for m, c in broken.items()
                ),
            }
        )
    return None, None, rejected
