"""P8, fixed costs: where a medium study's CPU goes, trials against everything around them.

A 16-config grid on a seeded 20,000-row subsample of PMLB kddcup, trained by the minibatch
backend (each trial a few hundredths of a CPU-second), run as a user runs it (`leantune run`,
MLflow on, report on, in a fresh process). For each arm: the study's wall time, the CPU of the
whole process tree (the driver and its workers, from wait4), the CPU the trials themselves
measured (summary.json's trial_cpu_s), the workers' CPU outside their trials (start-up,
imports), the driver's own CPU, and how long after the command started the first trial started
and the first trial ended.

Arms are source trees of leantune run with this virtual environment, e.g. the code before a
change checked out by `git worktree add /tmp/before <commit>`:

    .venv/bin/python benchmarks/fixed_costs.py --arm before=/tmp/before/src --arm after=src \
        --arm "after, no report=src,no-report"
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from _harness import finish, leantune_process, markdown_table, parser, pmlb_cache, spread


def _spec(out: Path, rows: int, backend: str, report: bool) -> dict[str, Any]:
    return {
        "name": "kddcup-20k-16",
        "dataset": {
            "source": "pmlb",
            "name": "kddcup",
            "cache_dir": str(pmlb_cache()),
            "subsample": rows,
        },
        "model": "logistic",
        "search": {
            "method": "grid",
            "space": {
                "batch_size": [16, 64, 256, 1024],
                "learning_rate": [0.001, 0.01],
                "alpha": [0.0001, 0.00001],
            },
        },
        "training": {"epochs": 1, "report_every": 100, "seed": 0, "backend": "minibatch"},
        "validation": {"test_size": 0.3, "cv_folds": 5},
        "resources": {"backend": backend},
        "output": {"dir": str(out), "report": report},
    }


def _study(arm: str, rows: int, backend: str) -> dict[str, float]:
    """One study in a fresh process, importing leantune from the arm's source tree
    (`SOURCE` or `SOURCE,no-report`)."""
    import yaml

    work = Path(tempfile.mkdtemp(prefix="p8-fixed-"))
    spec = work / "study.yaml"
    source, _, flag = arm.partition(",")
    report = flag != "no-report"
    spec.write_text(yaml.safe_dump(_spec(work / "run", rows, backend, report)))
    started_at = time.time()
    started = time.perf_counter()
    process = leantune_process(source, "run", str(spec))
    workers = _children_cpu(process.pid)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"leantune run failed ({status}) with {source}")
    total = usage.ru_utime + usage.ru_stime
    summary = json.loads((work / "run" / "summary.json").read_text())
    trials = pd.read_parquet(work / "run" / "trials.parquet")
    first = pd.to_datetime(trials["started_at"]).min().timestamp() - started_at
    # A trial's start is when its worker took it: before a worker's first trial it may still
    # load its libraries. The first end is when the study has its first result.
    first_end = pd.to_datetime(trials["ended_at"]).min().timestamp() - started_at
    worker_cpu = workers()
    in_trials = float(summary["trial_cpu_s"])
    shutil.rmtree(work, ignore_errors=True)
    return {
        "wall_s": wall,
        "total_cpu_s": total,
        "trial_cpu_s": in_trials,
        "in_trials_share": in_trials / total,
        "workers_outside_trials_cpu_s": max(worker_cpu - in_trials, 0.0),
        "driver_cpu_s": total - worker_cpu,
        "first_trial_after_s": first,
        "first_end_after_s": first_end,
    }


def _children_cpu(pid: int) -> Any:
    """Follow the driver's child processes; returns a function giving their CPU-seconds so far
    (the driver's own reckoning of its waited children, read until it exits)."""
    seen = {"cpu": 0.0}
    driver = psutil.Process(pid)

    def follow() -> None:
        while True:
            try:
                times = driver.cpu_times()
                seen["cpu"] = max(seen["cpu"], times.children_user + times.children_system)
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                return
            time.sleep(0.05)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()

    def read() -> float:
        thread.join(timeout=1.0)
        return seen["cpu"]

    return read


COLUMNS = {
    "wall_s": "wall s",
    "total_cpu_s": "CPU-s, whole study",
    "trial_cpu_s": "CPU-s in trials",
    "in_trials_share": "share in trials",
    "workers_outside_trials_cpu_s": "CPU-s in workers outside trials",
    "driver_cpu_s": "CPU-s on the driver",
    "first_trial_after_s": "first trial starts after (s)",
    "first_end_after_s": "first trial ends after (s)",
}


def main() -> None:
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--arm", action="append", default=[], help="NAME=SOURCE_DIR (repeatable)")
    options.add_argument("--rows", type=int, default=20_000)
    options.add_argument("--backend", default="processes")
    args = options.parse_args()
    arms = dict(arm.split("=", 1) for arm in args.arm) or {"this": "src"}
    repeats = 1 if args.smoke else args.repeats
    readings: dict[str, list[dict[str, float]]] = {name: [] for name in arms}
    names = list(arms)
    # One study an arm first, not counted: a source tree's first study compiles the minibatch
    # kernels into numba's cache (~25 CPU-s), a one-off that would swamp what is measured.
    for name in names:
        _study(arms[name], args.rows, args.backend)
    loads = [os.getloadavg()[0]]
    for repetition in range(repeats):
        shift = repetition % len(names)
        for name in names[shift:] + names[:shift]:
            readings[name].append(_study(arms[name], args.rows, args.backend))
            loads.append(os.getloadavg()[0])
    rows = []
    for name, runs in readings.items():
        row = {"arm": name}
        for key, label in COLUMNS.items():
            row[label] = spread([run[key] for run in runs], 2)
        rows.append(row)
    section = "\n".join(
        [
            f"{args.rows:,}-row kddcup, 16 configs, minibatch, backend {args.backend}; "
            f"{repeats} runs an arm after one not counted, alternated; median (min–max); "
            "load average "
            f"{min(loads):.1f}–{max(loads):.1f} (median {statistics.median(loads):.1f})",
            "",
            *markdown_table(pd.DataFrame(rows)),
        ]
    )
    finish(args, section, {"arms": arms, "readings": readings, "loads": loads})


if __name__ == "__main__":
    main()
