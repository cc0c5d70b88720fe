"""How much a busy machine inflates a thread's own CPU time, and whether a reference workload
timed beside it cancels that.

A trial's limits and savings are on the training thread's CPU time, which other jobs do not add
to directly; but they still slow it (context switches, shared caches, memory bandwidth). Here
one thread at nice 15 (as Ray runs trial workers) times fixed workloads on diabetes, in three
conditions that alternate round by round: the machine quiet; one process spinning one core
(the thesis check's hog: on 2 cores it leaves one core to the trials); two such processes
(what the 2 trial workers meet beside that hog: 3 runnable on 2 cores); one process streaming
memory (copying 256 MiB over and over: it competes for cache and memory bandwidth). Workloads:
the minibatch kernel's step at batch 1, 32 and 512; one `partial_fit` call at batch 32; a
pure-Python loop and a 128×128 matrix product as candidate reference workloads.

    flock /work/notes/heavy.lock .venv/bin/python benchmarks/cpu_inflation.py [--repeats 6]
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from step_cost import _minibatch_step, _sklearn_step
from threadpoolctl import threadpool_limits

from leantune.testing import cpu_hog, memory_hog

from _harness import alternate, finish, machine, parser, pmlb_cache

clock = time.thread_time
CONDITIONS = {
    "quiet": [],
    "one hog": [cpu_hog],
    "two hogs": [cpu_hog, cpu_hog],
    "memory hog": [memory_hog],
}
LOADED = [condition for condition, hogs in CONDITIONS.items() if hogs]


def _python_loop(budget_s: float) -> float:
    started, rounds = clock(), 0
    while clock() - started < budget_s:
        total = 0
        for i in range(20_000):
            total += i * i
        rounds += 1
    return (clock() - started) / rounds


def _matmul(budget_s: float, rng: Any) -> float:
    a, b = rng.normal(size=(128, 128)), rng.normal(size=(128, 128))
    started, rounds = clock(), 0
    while clock() - started < budget_s:
        a @ b
        rounds += 1
    return (clock() - started) / rounds


def main() -> None:
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    from leantune.datasets import load_pmlb

    budget = 0.02 if args.smoke else 0.25
    repeats = 1 if args.smoke else args.repeats
    dataset = load_pmlb("diabetes", pmlb_cache())
    X, y, classes = dataset.X, dataset.y, np.arange(dataset.n_classes)
    rng = np.random.default_rng(0)
    workloads: dict[str, Callable[[], float]] = {
        "minibatch step, batch 1": lambda: _minibatch_step(X, y, classes, 1, budget, rng),
        "minibatch step, batch 32": lambda: _minibatch_step(X, y, classes, 32, budget, rng),
        "minibatch step, batch 512": lambda: _minibatch_step(X, y, classes, 512, budget, rng),
        "partial_fit, batch 32": lambda: _sklearn_step(X, y, classes, 32, budget, rng),
        "reference: Python loop": lambda: _python_loop(budget),
        "reference: 128×128 matmul": lambda: _matmul(budget, rng),
    }

    def one_round(condition: str) -> dict[str, float]:
        """Every workload once, beside the condition's hogs."""
        with contextlib.ExitStack() as hogs:
            for hog in CONDITIONS[condition]:
                hogs.enter_context(hog(60))
            time.sleep(1.0 if CONDITIONS[condition] else 0)  # the hogs get going
            return {name: workload() for name, workload in workloads.items()}

    os.nice(15)
    with threadpool_limits(limits=1):
        for workload in workloads.values():  # compile and warm every arm first
            workload()
        rounds = alternate({c: partial(one_round, c) for c in CONDITIONS}, repeats)
    readings = {
        condition: {name: [one[name] for one in done] for name in workloads}
        for condition, done in rounds.items()
    }
    load = os.getloadavg()
    lines = [
        "## CPU time beside a CPU hog",
        "",
        f"Machine: {machine()}; load average at the end {load[0]:.2f}, {load[1]:.2f}, "
        f"{load[2]:.2f}. One thread at nice 15, thread CPU time per call, median of {repeats} "
        "rounds (conditions alternate), and the inflation against quiet: median (min–max over "
        "rounds, each against the quiet median). 'Over the loop': the workload's time divided "
        "by the Python loop's in the same round and condition, its change against quiet.",
        "",
        "| workload | quiet (µs) | "
        + " | ".join(LOADED)
        + " | "
        + " | ".join(f"over the loop, {c}" for c in LOADED)
        + " |",
        "| --- | ---: |" + " ---: |" * (2 * len(LOADED)),
    ]
    reference = "reference: Python loop"
    for name in workloads:
        quiet = statistics.median(readings["quiet"][name])
        quiet_ratio = statistics.median(
            a / b
            for a, b in zip(readings["quiet"][name], readings["quiet"][reference], strict=True)
        )
        cells = []
        for condition in LOADED:
            rises = [v / quiet - 1 for v in readings[condition][name]]
            cells.append(
                f"{100 * statistics.median(rises):+.0f} % ({100 * min(rises):+.0f}…"
                f"{100 * max(rises):+.0f})"
            )
        for condition in LOADED:
            ratio = statistics.median(
                a / b
                for a, b in zip(
                    readings[condition][name], readings[condition][reference], strict=True
                )
            )
            cells.append(f"{100 * (ratio / quiet_ratio - 1):+.0f} %")
        lines.append(f"| {name} | {1e6 * quiet:.3g} | " + " | ".join(cells) + " |")
    finish(args, "\n".join(lines), {"readings": readings})


if __name__ == "__main__":
    main()
