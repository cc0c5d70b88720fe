"""RQ2 as a curve: what stopping saves, and what it costs, as a limit tightens.

Two sources, kept apart:

- replay: the constraint rule run over the unstopped arm's stored reports at each level. The
  rule is reactive (it reads only the trial's own reports), so replay gives exactly the
  decisions it takes in a live run on the same histories; savings assume the trial ends at the
  report that broke the limit.
- measured: a stopped arm run at a level with every rule of the study (the predictive rule
  learns from other trials, so its decisions depend on run order and cannot be replayed).

The truth both are judged by is the unstopped arm's end-of-training value: a config violates a
limit when its final total (training time) or final average (step time) is over it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from leantune.metrics import METRICS, NEAR_LIMIT_SHARE
from leantune.report._rq1 import RAN_TO_THE_END
from leantune.report._rq2 import LIMIT_RULES, counterpart_key
from leantune.report._run import RunResults
from leantune.stoppers import ConstraintPolicy, replay
from leantune.trials import CV_SCORE_MEAN, FEASIBLE, SKIPPED, STOPPED

# The limits a level sets, by catalogue name; the curve judges each on the CPU clock.
LIMITED_METRICS = ("train_time_s", "step_time_ms")
COST_KEY = METRICS["train_time_s"].on_clock("cpu")
"""A trial's CPU cost: its training time on the CPU clock (evaluation included)."""

CURVE_COLUMNS = [
    "metric",
    "level",
    "quantile",
    "limit",
    "trials",
    "violating",
    "stops",
    "false_stops",
    "missed_violations",
    "cpu_s_unstopped",
    "cpu_s_saved",
    "cpu_share_saved",
    "oracle_share_saved",
    "regret_cv",
    "pick_feasible",
]


def final_values(run: RunResults, metric: str) -> pd.Series:
    """Each trial's end value of `metric` on the CPU clock (NaN where it did not run to the
    end), by trial id."""
    key = METRICS[metric].on_clock("cpu")
    trials = run.trials
    if trials.empty or key not in trials:
        return pd.Series(dtype=float)
    values = pd.to_numeric(trials[key], errors="coerce").where(
        trials["status"].isin(RAN_TO_THE_END)
    )
    return pd.Series(values.to_numpy(float), index=trials["trial_id"].astype(str))


def _histories(run: RunResults, metric: str) -> dict[str, list[dict[str, Any]]]:
    reports = run.reports(["step", metric, COST_KEY])
    histories: dict[str, list[dict[str, Any]]] = {}
    for trial_id, rows in reports.groupby("trial_id", sort=False):
        rows = rows.sort_values("step")
        histories[str(trial_id)] = rows.to_dict("records")
    return histories


def _best(scores: pd.Series, higher_is_better: bool) -> float:
    scores = scores.dropna()
    if scores.empty:
        return math.nan
    return float(scores.max() if higher_is_better else scores.min())


def _regret(best: float, picked: float, higher_is_better: bool) -> float:
    """How much worse the pick scores than the best (>= 0 worse). Configs that differ only in
    batch size learn the same model under scikit-learn and tie up to rounding: no regret."""
    if not (math.isfinite(best) and math.isfinite(picked)):
        return math.nan
    regret = (best - picked) if higher_is_better else (picked - best)
    return 0.0 if abs(regret) <= 1e-9 * max(1.0, abs(best)) else regret


def replay_level(
    run: RunResults, metric: str, limit: float, *, level: str, quantile: float, sustained: int = 2
) -> dict[str, Any]:
    """The constraint rule on `metric` at `limit`, replayed over an unstopped run."""
    if run.clock != "cpu":
        raise ValueError(
            f"replay needs a run judged on the CPU clock; {run.run_dir} used {run.clock}"
        )
    policy = ConstraintPolicy(metric, limit, sustained=sustained)
    histories = _histories(run, metric)
    stops = replay(policy, histories)
    final = final_values(run, metric).dropna()
    cost = final_values(run, "train_time_s")
    ids = run.trials["trial_id"].astype(str)
    scores = pd.Series(pd.to_numeric(run.trials[CV_SCORE_MEAN], errors="coerce").to_numpy(), ids)
    ran = final.index
    violating = final > limit
    stopped = pd.Series(
        [trial_id in stops and stops[trial_id] is not None for trial_id in ran], ran
    )
    saved = 0.0
    for trial_id, stop in stops.items():
        if stop is None:
            continue
        history = histories[trial_id]
        at_stop = float(history[stop.report_index].get(COST_KEY, math.nan))
        end = float(history[-1].get(COST_KEY, math.nan))
        if math.isfinite(at_stop) and math.isfinite(end):
            saved += max(0.0, end - at_stop)
    total = float(cost.sum())
    kept = scores.reindex(ran[~stopped.to_numpy(bool)])
    truly = scores.reindex(ran[~violating.to_numpy(bool)])
    higher = run.higher_is_better
    picked, best = _best(kept, higher), _best(truly, higher)
    kept = kept.dropna()
    pick_id = (kept.idxmax() if higher else kept.idxmin()) if len(kept) else None
    return {
        "metric": metric,
        "level": level,
        "quantile": quantile,
        "limit": float(limit),
        "trials": len(ran),
        "violating": int(violating.sum()),
        "stops": int(stopped.sum()),
        "false_stops": int((stopped & ~violating).sum()),
        "missed_violations": int((~stopped & violating).sum()),
        "cpu_s_unstopped": total,
        "cpu_s_saved": saved,
        "cpu_share_saved": saved / total if total > 0 else math.nan,
        # An oracle would skip every violating config outright.
        "oracle_share_saved": float(cost.reindex(ran[violating.to_numpy(bool)]).sum()) / total
        if total > 0
        else math.nan,
        "regret_cv": _regret(best, picked, higher),
        "pick_feasible": bool(pick_id is not None and final.get(pick_id, math.inf) <= limit),
    }


def replay_curve(run: RunResults, levels: list[dict[str, Any]], sustained: int = 2) -> pd.DataFrame:
    """One row per level and limited metric: the constraint rule replayed over `run`."""
    rows = [
        replay_level(
            run,
            metric,
            float(level[metric]),
            level=str(level["name"]),
            quantile=float(level.get("quantile", math.nan)),
            sustained=sustained,
        )
        for metric in LIMITED_METRICS
        for level in levels
        if level.get(metric) is not None and float(level[metric]) > 0
    ]
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


MEASURED_COLUMNS = [
    "level",
    "quantile",
    "limits",
    "trials",
    "violating",
    "stops",
    "stops_constraint",
    "stops_predictive",
    "false_stops",
    "missed_violations",
    "wrong_near_limit",
    "cpu_s_unstopped",
    "cpu_s_stopped",
    "cpu_s_saved",
    "cpu_share_saved",
    "study_wall_s_unstopped",
    "study_wall_s_stopped",
    "study_wall_share_saved",
    "regret_cv",
    "pick_feasible",
]


def judge_arm(
    stopped: RunResults,
    unstopped: RunResults,
    limits: dict[str, float],
    *,
    level: str,
    quantile: float,
) -> dict[str, Any]:
    """A stopped arm run at `limits`, judged against its unstopped twin's end values."""
    twin = unstopped.trials.assign(trial_id=unstopped.trials["trial_id"].astype(str))
    finals = {metric: final_values(unstopped, metric) for metric in limits}
    twin_violates: dict[tuple[Any, ...], bool] = {}
    twin_near: dict[tuple[Any, ...], bool] = {}
    twin_score: dict[tuple[Any, ...], float] = {}
    for _, row in twin.iterrows():
        key = counterpart_key(row)
        values = [finals[m].get(row["trial_id"], math.nan) for m in limits]
        if row["status"] in RAN_TO_THE_END and all(math.isfinite(v) for v in values):
            twin_violates[key] = any(v > limits[m] for v, m in zip(values, limits, strict=True))
            twin_near[key] = any(
                abs(v - limits[m]) <= NEAR_LIMIT_SHARE * limits[m]
                for v, m in zip(values, limits, strict=True)
            )
            twin_score[key] = float(pd.to_numeric(row.get(CV_SCORE_MEAN), errors="coerce"))
    counts = dict.fromkeys(
        (
            "stops",
            "stops_constraint",
            "stops_predictive",
            "false_stops",
            "missed_violations",
            "wrong_near_limit",
        ),
        0,
    )
    for _, row in stopped.trials.iterrows():
        key = counterpart_key(row)
        violates = twin_violates.get(key)
        wrong = False
        if row["status"] in (STOPPED, SKIPPED) and row.get("stop_rule") in LIMIT_RULES:
            counts["stops"] += 1
            rule = str(row.get("stop_rule"))
            if f"stops_{rule}" in counts:
                counts[f"stops_{rule}"] += 1
            wrong = violates is False
            counts["false_stops"] += wrong
        elif row["status"] == FEASIBLE and violates:
            wrong = True
            counts["missed_violations"] += 1
        # A wrong call on a config whose unstopped cost lies within NEAR_LIMIT_SHARE of the
        # limit may be the run-to-run noise of CPU time rather than the rule.
        counts["wrong_near_limit"] += wrong and twin_near.get(key, False)
    cost_u = float(pd.to_numeric(unstopped.trials.get(COST_KEY), errors="coerce").sum())
    cost_s = float(pd.to_numeric(stopped.trials.get(COST_KEY), errors="coerce").sum())
    # What a user waits for: the whole study, per-trial overhead (scheduling, tracking) included.
    wall_u = float(unstopped.summary.wall_time_s or math.nan)
    wall_s = float(stopped.summary.wall_time_s or math.nan)
    higher = unstopped.higher_is_better
    feasible_scores = [s for k, s in twin_score.items() if not twin_violates[k]]
    best = (max if higher else min)(feasible_scores) if feasible_scores else math.nan
    pick = stopped.best.config if stopped.best else None
    picked = twin_score.get(counterpart_key(pick), math.nan) if pick else math.nan
    return {
        "level": level,
        "quantile": quantile,
        "limits": ", ".join(f"{m} ≤ {v:.4g}" for m, v in limits.items()),
        "trials": len(stopped.trials),
        "violating": int(sum(twin_violates.values())),
        **counts,
        "cpu_s_unstopped": cost_u,
        "cpu_s_stopped": cost_s,
        "cpu_s_saved": cost_u - cost_s,
        "cpu_share_saved": (cost_u - cost_s) / cost_u if cost_u > 0 else math.nan,
        "study_wall_s_unstopped": wall_u,
        "study_wall_s_stopped": wall_s,
        "study_wall_share_saved": (wall_u - wall_s) / wall_u if wall_u > 0 else math.nan,
        "regret_cv": _regret(best, picked, higher),
        "pick_feasible": bool(pick) and twin_violates.get(counterpart_key(pick)) is False,
    }


def share_meeting(run: RunResults, metric: str, limit: float) -> float:
    """The share of configs (that ran to the end) whose end value of `metric` meets `limit`."""
    final = final_values(run, metric).dropna()
    return float(np.mean(final <= limit)) if len(final) else math.nan
