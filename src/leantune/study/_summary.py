"""summary.json's content, built from a finished search, its pick and its refit."""

from __future__ import annotations

import math
import platform
from typing import Any

from leantune._version import __version__
from leantune.metrics import score_metric
from leantune.results import MODEL_DIR, SCHEMA_VERSION, Summary
from leantune.search import Pick
from leantune.study._environment import environment
from leantune.study._policies import constraint_limits
from leantune.study._prepare import PreparedStudy
from leantune.study._results import (
    FinalModel,
    near_limits,
    shipped_checks,
    status_counts,
    stops_by_label,
)
from leantune.tracking import Tracker
from leantune.trials import (
    CV_SCORE_MEAN,
    CV_SCORE_STD,
    DIVERGED,
    FAILED,
    INFEASIBLE,
    SKIPPED,
    STOPPED,
    TrialRecord,
)


def build_summary(
    prepared: PreparedStudy,
    records: list[TrialRecord],
    pick: Pick | None,
    final: FinalModel | None,
    tracker: Tracker,
    *,
    wall_seconds: float,
    driver_cpu_seconds: float,
) -> Summary:
    spec = prepared.spec
    dataset = prepared.dataset
    metric, mode = score_metric(dataset.task)
    best_part = None
    best = pick.record if pick is not None else None
    if pick is not None and best is not None and final is not None:
        best_part = {
            "trial_id": best.trial_id,
            "config": best.config,
            "cv_metric": metric,
            "cv_mode": mode,
            CV_SCORE_MEAN: best.last.get(CV_SCORE_MEAN),
            CV_SCORE_STD: best.last.get(CV_SCORE_STD),
            # The value the pick was made on (summary["objective"]): equal to cv_score_mean
            # when the objective is the validation score.
            "objective_value": pick.value,
            "test": final.test_metrics,
            "model_size_bytes": final.model_size_bytes,
            "inference_ms_per_sample": final.inference_ms_per_sample,
            "inference_ms_per_1000": final.inference_ms_per_1000,
            "inference_measured": final.inference_measured,
            # How it was chosen: on its complete record, or on what it had reached when a
            # quality rule ended it (then refit to that point); a tie within float noise.
            "chosen_on": _chosen_on(pick, final),
            "tie": pick.tie(),
            # The shipped (refit) model against every deployment limit, measured on itself.
            "shipped": shipped_checks(final, constraint_limits(spec, prepared.memory)[0]),
            "baseline": final.baseline,
            # The MLflow model, in the run directory and on the parent run (`runs:/ID/model`).
            "model": MODEL_DIR if final.savable else None,
        }
    summary = {
        # Bumped when a key changes meaning or goes away; new keys keep the version.
        "schema_version": SCHEMA_VERSION,
        "study": spec.name,
        "run_dir": str(prepared.run_dir),
        "dataset": {
            "name": dataset.name,
            "task": dataset.task,
            "rows": dataset.n_rows,
            "features": dataset.n_features,
            "classes": dataset.n_classes,
            **dataset.provenance,
        },
        "models": spec.model_names,
        # By-path models: the class, its fixed arguments, the axes it takes, its losses' source.
        "estimators": {
            model.name: {
                "estimator": getattr(model, "path", None),
                "params": dict(getattr(model, "params", {})),
                "axes": dict(getattr(model, "axes", {})),
                "losses": model.loss_source,
            }
            for model in prepared.model_adapters()
        },
        "search_space": prepared.param_space,
        "folds": len(prepared.splits.folds),
        "objective": {"metric": spec.goal.metric, "mode": spec.goal.mode},
        "constraints": spec.constraints.active(),
        # Judged on each trial's final cross-validated value: {"val_accuracy": {"min": 0.8}}.
        "quality_constraints": {
            b.metric: {b.kind: b.threshold} for b in spec.constraints.quality()
        },
        # Which clock the time limits were judged on (both are measured and reported).
        "clock": spec.constraints.clock,
        "memory_limit": _memory_summary(prepared),
        "trials": len(records),
        "status_counts": status_counts(records),
        "search": {
            "method": spec.search.method,
            "scheduler": spec.search.scheduler.name if spec.search.scheduler else None,
            "stopping_enabled": spec.stopping.enabled,
            "backend": spec.resources.backend,
        },
        "stopped_by": stops_by_label(records),
        "stopped_trials": [
            {
                "trial_id": r.trial_id,
                "config": r.config,
                "status": r.status,
                "reason": r.stop_reason.describe(),
            }
            for r in records
            if r.stop_reason is not None and r.status in (STOPPED, SKIPPED, INFEASIBLE)
        ],
        "failed_trials": [
            {
                "trial_id": r.trial_id,
                "config": r.config,
                "status": r.status,
                "error": r.error,
                "attempts": r.attempts,
                "attempt_errors": r.attempt_errors,
            }
            for r in records
            if r.status in (FAILED, DIVERGED)
        ],
        "diverged_trials": [
            {"trial_id": r.trial_id, "config": r.config, "reason": r.stop_reason.describe()}
            for r in records
            if r.status == DIVERGED and r.stop_reason is not None
        ],
        "best": best_part,
        # Stops that reached a trial only after it had run every planned step: it was judged
        # on its complete record, and they saved nothing.
        "late_stops": [
            {"trial_id": r.trial_id, "status": r.status, "late_stop": r.late_stop.describe()}
            for r in records
            if r.late_stop is not None
        ],
        # Verdicts a rerun, or other work on the machine, may turn (NEAR_LIMIT_SHARE).
        "near_limits": near_limits(records, constraint_limits(spec, prepared.memory)[0]),
        "wall_time_s": wall_seconds,
        "trial_cpu_s": sum(r.last.get("cpu_time_s", 0.0) for r in records),
        "trial_wall_s": sum(
            wall
            for r in records
            if isinstance(wall := r.last.get("wall_time_s"), int | float) and math.isfinite(wall)
        ),
        "driver_cpu_s": driver_cpu_seconds,
        "tracking_uri": tracker.uri,
        "mlflow_parent_run_id": getattr(tracker, "parent_run_id", None),
        "mlflow_experiment": spec.tracking.experiment or spec.name,
        "leantune_version": __version__,
        "python": platform.python_version(),
        "environment": environment(),
    }
    return Summary.model_validate(summary)


def _chosen_on(pick: Pick, final: FinalModel) -> str:
    if not pick.reached:
        return "its complete record (every fold)"
    reason = pick.record.stop_reason
    rule = reason.rule if reason else "a quality rule"
    steps = f"; refit to {final.trained_steps} steps per fold" if final.trained_steps else ""
    return (
        f"what it had reached when {rule} ended it at step {reason.step if reason else '?'}, "
        f"compared with the best complete trial on the folds both trained{steps}"
    )


def _memory_summary(prepared: PreparedStudy) -> dict[str, Any] | None:
    """The machine's (or container's) memory limit, and the memory constraints it capped."""
    memory = prepared.memory
    if memory is None:
        return None
    _, capped = constraint_limits(prepared.spec, memory)
    return {
        "limit_mb": memory.limit_mb,
        "source": memory.source,
        "file": str(memory.limit_file) if memory.limit_file else None,
        "capped_constraints": {k: {"given": g, "enforced": e} for k, (g, e) in capped.items()},
    }


def summary_metrics(summary: dict[str, Any]) -> dict[str, float]:
    metrics = {f"trials_{k}": float(v) for k, v in summary["status_counts"].items()}
    ledger = summary.get("ledger", {})
    metrics.update(
        ledger_spent_cpu_s=ledger.get("spent_cpu_s"),
        ledger_saved_cpu_s_estimate=ledger.get("saved_cpu_s_estimate"),
        ledger_share_of_full_grid_spent_estimate=ledger.get("share_of_full_grid_spent_estimate"),
        wall_time_s=summary["wall_time_s"],
        trial_cpu_s=summary["trial_cpu_s"],
        driver_cpu_s=summary["driver_cpu_s"],
    )
    best = summary["best"]
    if best:
        metrics["best_cv_score_mean"] = best[CV_SCORE_MEAN]
        metrics.update({f"best_{k}": v for k, v in best["test"].items()})
        metrics["best_model_size_bytes"] = best["model_size_bytes"]
        metrics["best_inference_ms_per_sample"] = best["inference_ms_per_sample"]
    return {k: v for k, v in metrics.items() if isinstance(v, int | float) and math.isfinite(v)}
