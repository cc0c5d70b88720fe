"""RQ2 as data: what stopping on system criteria saved.

From one run: the budget ledger (measured spend; *estimated* savings per rule). From a
comparison (the same study run with and without stopping, on the same seeds): measured spend
of each arm, the best feasible config each found, the stopped arm's regret, and the ledger's
estimates of unfinished cost set beside what the unstopped arm actually spent on the same
configs after the step where the stopped arm ended them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from leantune.report._run import HYPERPARAMETERS, RunResults
from leantune.trials import (
    DIVERGED,
    FEASIBLE,
    INFEASIBLE,
    SKIPPED,
    STEPS_DONE,
    STEPS_PLANNED,
    STOPPED,
)

CONFIG_KEYS = ("model", *HYPERPARAMETERS)


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _percent(share: float) -> str:
    return f"{100 * share:.1f} %" if math.isfinite(share) else "–"


def ledger_totals(run: RunResults) -> pd.DataFrame:
    ledger = run.ledger
    counts = run.summary.status_counts
    stopped = sum(int(counts.get(s, 0)) for s in (STOPPED, DIVERGED))
    rows = [
        ("trials", len(run.trials), "measured"),
        ("trials cut short (stopped or diverged)", stopped, "measured"),
        ("CPU-seconds spent in trials", _number(ledger.get("spent_cpu_s")), "measured"),
        ("wall-seconds of trials (summed)", _number(ledger.get("spent_wall_s")), "measured"),
        ("study wall time (s)", _number(run.summary.wall_time_s), "measured"),
        (
            "CPU-seconds stopping saved",
            _number(ledger.get("saved_cpu_s_estimate")),
            "estimate",
        ),
    ]
    if run.method == "grid":
        # Random search and TPE sample configs: there is no full grid to be a share of.
        rows.append(
            (
                "share of the full grid's CPU cost spent",
                _percent(_number(ledger.get("share_of_full_grid_spent_estimate"))),
                "estimate",
            )
        )
    uncontended = _number(ledger.get("full_grid_cpu_s_uncontended_estimate"))
    if run.method == "grid" and math.isfinite(uncontended):
        # CPU time itself grows with what the trials shared their CPUs with (study/_ledger.py).
        rows.append(
            ("full grid's CPU-seconds on CPUs of its own", uncontended, "estimate"),
        )
    return pd.DataFrame(rows, columns=["quantity", "value", "kind"]).astype({"value": object})


def ledger_by_rule(run: RunResults) -> pd.DataFrame:
    by_rule = (run.ledger or {}).get("by_rule") or {}
    rows = [
        {
            "rule": label,
            "trials_stopped": entry.get("trials_stopped"),
            "saved_cpu_s_estimate": _number(entry.get("saved_cpu_s_estimate")),
            "saved_wall_s_estimate": _number(entry.get("saved_wall_s_estimate")),
        }
        for label, entry in by_rule.items()
    ]
    return pd.DataFrame(
        rows, columns=["rule", "trials_stopped", "saved_cpu_s_estimate", "saved_wall_s_estimate"]
    )


# --- comparison of two arms --------------------------------------------------------------


def counterpart_key(row: Any) -> tuple[Any, ...]:
    """(model, batch, rate, alpha): what matches a trial of one arm with its counterpart in the
    other. Not `trials.config_key`, a config's identity across sessions (every axis, JSON)."""
    get = row.get if isinstance(row, dict) else row.__getitem__
    return (
        str(get("model")),
        int(get("batch_size")),
        float(get("learning_rate")),
        float(get("alpha")),
    )


def _best_scores(run: RunResults) -> dict[str, Any]:
    best = run.best
    if best is None:
        return {"config": None, "cv": math.nan, "cv_std": math.nan, "test": math.nan}
    metric = run.score_metric.removeprefix("val_")
    return {
        "config": best.config,
        "cv": _number(best.cv_score_mean),
        "cv_std": _number(best.cv_score_std),
        "test": _number(best.test.get(f"test_{metric}")),
    }


def arms_table(stopped: RunResults, unstopped: RunResults) -> pd.DataFrame:
    rows = []
    for arm, run in (("with stopping", stopped), ("without stopping", unstopped)):
        scores = _best_scores(run)
        counts = run.summary.status_counts
        config = scores["config"]
        rows.append(
            {
                "arm": arm,
                "trials": len(run.trials),
                **{status: int(counts.get(status, 0)) for status in counts},
                "trial_cpu_s": _number(run.ledger.get("spent_cpu_s")),
                "trial_wall_s": _number(run.ledger.get("spent_wall_s")),
                "study_wall_s": _number(run.summary.wall_time_s),
                "best_config": _config_text(config) if config else "none feasible",
                f"CV {run.score_label}": scores["cv"],
                f"test {run.score_label}": scores["test"],
            }
        )
    return pd.DataFrame(rows)


def _config_text(config: dict[str, Any]) -> str:
    return (
        f"{config['model']}, batch {config['batch_size']}, lr {float(config['learning_rate']):g}, "
        f"alpha {float(config['alpha']):g}"
    )


def regret(stopped: RunResults, unstopped: RunResults) -> dict[str, Any]:
    """How much worse the stopped arm's pick scores than the unstopped arm's (≥ 0 is worse;
    below 0, the stopped arm's pick happened to score better)."""
    a, b = _best_scores(stopped), _best_scores(unstopped)
    sign = 1.0 if unstopped.higher_is_better else -1.0
    out: dict[str, Any] = {
        "metric": stopped.score_metric.removeprefix("val_"),
        "same_config": a["config"] is not None and a["config"] == b["config"],
        # Under scikit-learn, configs that differ only in batch size learn the same weights
        # (partial_fit updates per sample), so their scores tie and the cheaper one wins: a pick
        # at another batch size is the same model. Under minibatch batch size is learned.
        "same_model": a["config"] is not None
        and b["config"] is not None
        and all(
            a["config"][k] == b["config"][k]
            for k in ("model", "learning_rate", "alpha")
            + (("batch_size",) if stopped.backend == "minibatch" else ())
        ),
        "stopped_arm_found_a_config": a["config"] is not None,
        "unstopped_arm_found_a_config": b["config"] is not None,
    }
    for part in ("cv", "test"):
        absolute = sign * (b[part] - a[part])
        out[f"{part}_stopped"] = a[part]
        out[f"{part}_unstopped"] = b[part]
        out[f"{part}_regret"] = absolute
        out[f"{part}_regret_relative"] = (
            absolute / abs(b[part]) if b[part] and math.isfinite(b[part]) else math.nan
        )
    return out


def savings(stopped: RunResults, unstopped: RunResults) -> dict[str, float]:
    cpu_s, cpu_u = (
        _number(stopped.ledger.get("spent_cpu_s")),
        _number(unstopped.ledger.get("spent_cpu_s")),
    )
    wall_s, wall_u = (
        _number(stopped.summary.wall_time_s),
        _number(unstopped.summary.wall_time_s),
    )
    return {
        "cpu_s_stopped": cpu_s,
        "cpu_s_unstopped": cpu_u,
        "cpu_s_saved": cpu_u - cpu_s,
        "cpu_share_saved": (cpu_u - cpu_s) / cpu_u if cpu_u else math.nan,
        "wall_s_stopped": wall_s,
        "wall_s_unstopped": wall_u,
        "wall_s_saved": wall_u - wall_s,
        "wall_share_saved": (wall_u - wall_s) / wall_u if wall_u else math.nan,
        "ledger_saved_cpu_s_estimate": _number(stopped.ledger.get("saved_cpu_s_estimate")),
    }


def estimate_check(stopped: RunResults, unstopped: RunResults) -> pd.DataFrame:
    """Per trial the stopped arm cut short: the ledger's estimate of what finishing would have
    cost, and what the unstopped arm actually spent on the same config after that step."""
    columns = [
        *CONFIG_KEYS,
        "stop_label",
        STEPS_DONE,
        STEPS_PLANNED,
        "spent_cpu_s",
        "remaining_cpu_s_estimate",
        "remaining_cpu_s_actual",
        "remaining_wall_s_estimate",
        "remaining_wall_s_actual",
        "matched",
    ]
    ledger_trials = (stopped.ledger or {}).get("trials") or []
    cut = [t for t in ledger_trials if t.get("stop_label")]
    if not cut or stopped.trials.empty:
        return pd.DataFrame(columns=columns)
    configs = {str(row["trial_id"]): counterpart_key(row) for _, row in stopped.trials.iterrows()}
    unstopped_ids = {
        counterpart_key(row): str(row["trial_id"]) for _, row in unstopped.trials.iterrows()
    }
    unstopped_ledger = {str(t["trial_id"]): t for t in (unstopped.ledger or {}).get("trials") or []}
    reports = unstopped.reports(["step", "cpu_time_s", "wall_time_s"])
    by_trial = {tid: rows for tid, rows in reports.groupby("trial_id", sort=False)}
    rows = []
    for entry in cut:
        key = configs.get(str(entry["trial_id"]))
        if key is None:
            continue
        done = _number(entry.get(STEPS_DONE))
        row: dict[str, Any] = dict(zip(CONFIG_KEYS, key, strict=True))
        row.update(
            stop_label=entry["stop_label"],
            steps_done=done,
            steps_planned=_number(entry.get(STEPS_PLANNED)),
            spent_cpu_s=_number(entry.get("cpu_s")),
            remaining_cpu_s_estimate=_number(entry.get("remaining_cpu_s_estimate")),
            remaining_wall_s_estimate=_number(entry.get("remaining_wall_s_estimate")),
            remaining_cpu_s_actual=math.nan,
            remaining_wall_s_actual=math.nan,
            matched=False,
        )
        twin = unstopped_ids.get(key)
        history = by_trial.get(twin) if twin is not None else None
        if history is not None and len(history) and math.isfinite(done):
            history = history.sort_values("step")
            final = history.iloc[-1]
            if final["step"] > done:
                # Both arms report at the same steps, so the stop step is normally one of the
                # twin's reports; interpolation (from 0 at step 0) covers the rest.
                steps = np.r_[0.0, history["step"].to_numpy(float)]
                cpu = np.r_[0.0, history["cpu_time_s"].to_numpy(float)]
                wall = np.r_[0.0, history["wall_time_s"].to_numpy(float)]
                at_stop_cpu = float(np.interp(done, steps, cpu))
                at_stop_wall = float(np.interp(done, steps, wall))
                row["matched"] = True
                row["remaining_cpu_s_actual"] = _number(final["cpu_time_s"]) - at_stop_cpu
                twin_wall = _number((unstopped_ledger.get(twin) or {}).get("wall_s"))
                if not math.isfinite(twin_wall):
                    twin_wall = _number(final["wall_time_s"])
                row["remaining_wall_s_actual"] = twin_wall - at_stop_wall
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def estimate_by_rule(check: pd.DataFrame) -> pd.DataFrame:
    """Per rule: the ledger's estimated savings beside the unstopped arm's actual spend."""
    columns = [
        "rule",
        "trials_stopped",
        "matched",
        "saved_cpu_s_estimate",
        "saved_cpu_s_actual",
        "estimate_over_actual",
        "median_abs_error_pct",
    ]
    if check.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for rule, group in check.groupby("stop_label", sort=False):
        matched = group[group["matched"]]
        estimate = matched["remaining_cpu_s_estimate"].sum()
        actual = matched["remaining_cpu_s_actual"].sum()
        errors = (
            (matched["remaining_cpu_s_estimate"] - matched["remaining_cpu_s_actual"]).abs()
            / matched["remaining_cpu_s_actual"].where(matched["remaining_cpu_s_actual"] > 0)
        ).dropna()
        rows.append(
            {
                "rule": rule,
                "trials_stopped": len(group),
                "matched": len(matched),
                "saved_cpu_s_estimate": group["remaining_cpu_s_estimate"].sum(),
                "saved_cpu_s_actual": actual if len(matched) else math.nan,
                "estimate_over_actual": estimate / actual if actual > 0 else math.nan,
                "median_abs_error_pct": 100 * float(np.median(errors)) if len(errors) else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=columns)


# Rules whose stops are about the application's limits, judged against the unstopped arm.
LIMIT_RULES = ("constraint", "predictive", "skip")


def decision_quality(stopped: RunResults, unstopped: RunResults) -> pd.DataFrame:
    """Per stopping rule, how its stops fared against the same configs run with stopping off.

    A stop is right when the config's unstopped twin broke a limit (ended `infeasible`), false
    when the twin finished within every limit (`feasible`); a twin that diverged or failed
    does not judge it. A missed violation is a trial the stopped arm let finish `feasible`
    whose twin broke a limit. The rows add up to an "all rules" row.
    """
    columns = ["rule", "stops", "right_stops", "false_stops", "unjudged", "false_stop_rate"]
    if stopped.trials.empty or unstopped.trials.empty:
        return pd.DataFrame(columns=columns)
    twin_status = {counterpart_key(row): row["status"] for _, row in unstopped.trials.iterrows()}
    counts: dict[str, dict[str, int]] = {}
    missed = 0
    for _, row in stopped.trials.iterrows():
        twin = twin_status.get(counterpart_key(row))
        if row["status"] == FEASIBLE and twin == INFEASIBLE:
            missed += 1
        rule = row.get("stop_rule")
        if row["status"] not in (STOPPED, SKIPPED) or rule not in LIMIT_RULES:
            continue
        tally = counts.setdefault(str(row["stop_label"]), dict.fromkeys(columns[1:5], 0))
        tally["stops"] += 1
        verdict = {INFEASIBLE: "right_stops", FEASIBLE: "false_stops"}.get(twin, "unjudged")
        tally[verdict] += 1
    rows = [{"rule": label, **tally} for label, tally in sorted(counts.items())]
    total = {key: sum(r[key] for r in rows) for key in columns[1:5]}
    rows.append({"rule": "all rules", **total})
    frame = pd.DataFrame(rows)
    judged = frame["right_stops"] + frame["false_stops"]
    frame["false_stop_rate"] = (frame["false_stops"] / judged).where(judged > 0)
    frame.attrs["missed_violations"] = missed
    return frame[columns]


def decision_summary(stopped: RunResults, unstopped: RunResults) -> dict[str, Any]:
    """The headline of decision_quality, and whether the stopped arm's pick is truly feasible
    (its unstopped twin finished within every limit)."""
    quality = decision_quality(stopped, unstopped)
    total = quality.iloc[-1].to_dict() if len(quality) else {}
    pick = stopped.best.config if stopped.best else None
    twin_status = {counterpart_key(row): row["status"] for _, row in unstopped.trials.iterrows()}
    return {
        "stops": int(total.get("stops", 0)),
        "right_stops": int(total.get("right_stops", 0)),
        "false_stops": int(total.get("false_stops", 0)),
        "unjudged_stops": int(total.get("unjudged", 0)),
        "false_stop_rate": _number(total.get("false_stop_rate")),
        "missed_violations": int(quality.attrs.get("missed_violations", 0)),
        "pick_status_in_unstopped_arm": twin_status.get(counterpart_key(pick)) if pick else None,
        "by_rule": quality.iloc[:-1].to_dict("records") if len(quality) else [],
    }


def comparison_summary(stopped: RunResults, unstopped: RunResults) -> dict[str, Any]:
    """The headline numbers of a comparison, for comparison.json and the thesis chapter."""
    check = estimate_check(stopped, unstopped)
    matched = check[check["matched"]] if not check.empty else check
    estimate = float(matched["remaining_cpu_s_estimate"].sum()) if len(matched) else math.nan
    actual = float(matched["remaining_cpu_s_actual"].sum()) if len(matched) else math.nan
    return {
        "savings": savings(stopped, unstopped),
        "regret": regret(stopped, unstopped),
        "decisions": decision_summary(stopped, unstopped),
        "estimates": {
            "trials_cut_short": len(check),
            "matched_in_unstopped_arm": len(matched),
            "remaining_cpu_s_estimate": estimate,
            "remaining_cpu_s_actual": actual,
            "estimate_over_actual": estimate / actual if actual and actual > 0 else math.nan,
        },
        "by_rule": estimate_by_rule(check).to_dict("records"),
    }
