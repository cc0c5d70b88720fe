"""The budget ledger: the compute each trial spent, and an estimate of what stopping saved.

Spent figures are measured: the CPU-seconds of the trial's worker process (user + system) and
the wall-seconds the driver saw the trial run. What a stopped trial would have cost to finish is
an *estimate* — its remaining steps times what a step cost it (its average step time on the CPU
clock plus its share of evaluation at one report every 100 steps; not its CPU so far over its
steps, which a stop at a first report fills with set-up) — and is labelled as one everywhere.

On a shared machine a trial's CPU time itself grows with what it shared its CPU with (other
work empties its caches). So the full grid also gets an *uncontended* estimate: each trial's
cost divided by the contention factor of the share of the time it waited for a CPU
(`leantune.stoppers.contention_factor`), what the grid would take on CPUs of its own.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from leantune.engine import TrialRecord
from leantune.stoppers import contention_factor
from leantune.trials import DIVERGED, SKIPPED, STEPS_DONE, STEPS_PLANNED, STOPPED


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.nan


def trial_entry(record: TrialRecord) -> dict[str, Any]:
    last = record.last
    cpu = _number(last.get("cpu_time_s"))
    wall = (record.ended_at or record.started_at) - record.started_at
    done, planned = _number(last.get("step")), _number(last.get(STEPS_PLANNED))
    entry: dict[str, Any] = {
        "trial_id": record.trial_id,
        "status": record.status,
        "stop_label": record.stop_reason.label
        if record.stop_reason and record.status in (STOPPED, SKIPPED, DIVERGED)
        else "",
        "cpu_s": cpu,
        "wall_s": wall,
        STEPS_DONE: done,
        STEPS_PLANNED: planned,
        "remaining_cpu_s_estimate": 0.0,
        "remaining_wall_s_estimate": 0.0,
        # Of the time it wanted a CPU, the share it waited (its whole run; nan: not told).
        "cpu_waiting_share": _number(last.get("cpu_waiting_share")),
    }
    # Only a trial that was actually cut short saved anything (in observe-only mode a trial
    # that broke a limit ran on to its end).
    cut_short = record.status in (STOPPED, DIVERGED) and record.stop_reason is not None
    if cut_short and done > 0 and planned > done:
        remaining = planned - done
        entry["remaining_cpu_s_estimate"] = remaining * _cpu_per_step(record, cpu, done)
        entry["remaining_wall_s_estimate"] = remaining * wall / done
    if record.status == SKIPPED:
        # Never trained: the cost model's prediction of its training time is the estimate.
        predicted = _number(last.get("predicted_train_time_s"))
        entry["remaining_cpu_s_estimate"] = predicted
        entry["remaining_wall_s_estimate"] = predicted
    return entry


def _cpu_per_step(record: TrialRecord, cpu: float, done: float) -> float:
    """What a further step would cost: the trial's average step time on the CPU clock, plus
    its share of evaluation at the steady cadence, not its CPU so far over its steps. A trial
    stopped at a first report (training.first_reports) spent most of its CPU on set-up and
    on reports a few steps apart, which the rest of its steps would not repeat; over steps
    that cost put a full grid at several times its cost."""
    last = record.last
    step_ms = _number(last.get("step_time_cpu_ms"))
    train = _number(last.get("train_time_cpu_s"))
    if not (math.isfinite(step_ms) and step_ms > 0 and math.isfinite(train)):
        return cpu / done
    evaluation = max(0.0, train - done * step_ms / 1e3) / max(1, len(record.reports))
    return step_ms / 1e3 + evaluation / STEADY_REPORT_EVERY


# The report cadence a ledger estimate assumes for the steps a trial did not run (the default
# training.report_every; the ledger sees records, not the spec).
STEADY_REPORT_EVERY = 100


def build_ledger(
    records: Sequence[TrialRecord], band: Sequence[float | None] | None = None
) -> dict[str, Any]:
    """`band`: (low, high, level) factors on a forecast cost of a step, as the study's finals
    taught them (summary["forecasts"]["step_cost_band"]): the full grid's estimate gets the
    interval the study's own forecasts earned, at the level they state (None: uncalibrated)."""
    trials = [trial_entry(record) for record in records]
    spent_cpu = sum(t["cpu_s"] for t in trials if math.isfinite(t["cpu_s"]))
    spent_wall = sum(t["wall_s"] for t in trials)
    saved_cpu: dict[str, float] = defaultdict(float)
    saved_wall: dict[str, float] = defaultdict(float)
    stopped: dict[str, int] = defaultdict(int)
    for t in trials:
        if t["stop_label"] and math.isfinite(t["remaining_cpu_s_estimate"]):
            saved_cpu[t["stop_label"]] += t["remaining_cpu_s_estimate"]
            saved_wall[t["stop_label"]] += t["remaining_wall_s_estimate"]
            stopped[t["stop_label"]] += 1
    total_saved_cpu = sum(saved_cpu.values())
    full_grid_cpu = spent_cpu + total_saved_cpu
    waiting = [t["cpu_waiting_share"] for t in trials if math.isfinite(t["cpu_waiting_share"])]
    return {
        "note": (
            "spent_* are measured; *_estimate figures are estimates: a stopped trial's "
            "remaining steps × its average step time plus its share of evaluation"
        ),
        "spent_cpu_s": spent_cpu,
        "spent_wall_s": spent_wall,
        "saved_cpu_s_estimate": total_saved_cpu,
        "saved_wall_s_estimate": sum(saved_wall.values()),
        "full_grid_cpu_s_estimate": full_grid_cpu,
        "share_of_full_grid_spent_estimate": spent_cpu / full_grid_cpu if full_grid_cpu else 1.0,
        # The estimate's interval: the saved part is a forecast, the spent part a measurement.
        "full_grid_cpu_s_interval": [
            spent_cpu + total_saved_cpu * float(band[0] if band else 1.0),
            spent_cpu + total_saved_cpu * float(band[1] if band else 1.0),
        ],
        "full_grid_interval_level": band[2] if band else None,
        # The trials' median waiting share, and the full grid on CPUs of its own (None where
        # the kernel did not say how much the trials shared their CPUs).
        "cpu_waiting_share": statistics.median(waiting) if waiting else None,
        "full_grid_cpu_s_uncontended_estimate": _uncontended(trials) if waiting else None,
        "by_rule": {
            label: {
                "trials_stopped": stopped[label],
                "saved_cpu_s_estimate": saved_cpu[label],
                "saved_wall_s_estimate": saved_wall[label],
            }
            for label in sorted(saved_cpu, key=saved_cpu.get, reverse=True)
        },
        "trials": trials,
    }


def _uncontended(trials: Sequence[dict[str, Any]]) -> float:
    """The full grid's CPU-seconds with each trial's cost (spent and estimated) divided by its
    contention factor; a trial not told its waiting share (one skipped: it never ran) by the
    trials' median one's."""
    told = [t["cpu_waiting_share"] for t in trials if math.isfinite(t["cpu_waiting_share"])]
    typical = statistics.median(told) if told else 0.0
    total = 0.0
    for t in trials:
        cost = (t["cpu_s"] if math.isfinite(t["cpu_s"]) else 0.0) + (
            t["remaining_cpu_s_estimate"] if math.isfinite(t["remaining_cpu_s_estimate"]) else 0.0
        )
        share = t["cpu_waiting_share"]
        total += cost / contention_factor(share if math.isfinite(share) else typical)
    return total
