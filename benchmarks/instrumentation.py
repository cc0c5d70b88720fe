"""P1, instrumentation overhead: leantune's trial loop against a bare `partial_fit` loop.

A: `train_trial` as a trial runs it (per-step training loss, every metric at each report,
report_every=100), with a report callback that does nothing (Ray's round trip is P2's).
B: the same rows, in the same order, gathered and scaled the same way, fed to `partial_fit`,
and nothing else. B+loss: B plus the per-step training loss the seed requires. So
A/B = (B+loss)/B × A/(B+loss): the loss's share and everything else's. One thread, fold 1 of a
5-fold split, a fixed number of steps per arm. Times are the thread's CPU seconds: on a shared
machine, wall time swings by ±20% between identical runs (other tenants, CPU steal), which
hides a 3% effect; CPU time of one thread doing all the work does not. Goal: A/B ≤ 1.03.

    .venv/bin/python benchmarks/instrumentation.py            # kddcup and diabetes
    .venv/bin/python benchmarks/instrumentation.py --smoke    # seconds
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from _harness import alternate, finish, parser, pmlb_cache, spread, timed

CONFIG = {"model": "logistic", "learning_rate": 0.01, "alpha": 1e-4}
GOAL = 1.03


def bare_loop(data: Any, fold: Any, batch_size: int, steps: int, with_loss: bool) -> None:
    """The same training the trial loop does, with no instrument (optionally the loss)."""
    from leantune.metrics import batch_loss
    from leantune.models import get_model, weights

    model = get_model(CONFIG["model"])
    estimator = model.make(learning_rate=CONFIG["learning_rate"], alpha=CONFIG["alpha"], seed=0)
    targets = data.targets
    classes = np.arange(data.n_classes)
    rng = np.random.default_rng([0, 0])
    inv_scale = 1.0 / fold.scale
    n_rows, position, order = len(fold.train_idx), len(fold.train_idx), fold.train_idx
    for step in range(steps):
        if position >= n_rows:
            order, position = rng.permutation(fold.train_idx), 0
        rows = order[position : position + batch_size]
        position += batch_size
        X_batch = (data.X[rows] - fold.mean) * inv_scale
        y_batch = data.y[rows]
        if with_loss:
            batch_loss(X_batch, y_batch, weights(estimator), model.loss, targets)
        if step == 0:
            estimator.partial_fit(X_batch, y_batch, classes=classes)
        else:
            estimator.partial_fit(X_batch, y_batch)


def main() -> None:
    options = parser(__doc__.split("\n\n")[0])
    args = options.parse_args()
    from leantune.datasets import load_pmlb, make_splits
    from leantune.engine import TrainingPlan, TrialData

    # Steps per arm: a few seconds each at this machine's step cost.
    cases = [
        ("kddcup", 32, 600),
        ("kddcup", 1024, 150),
        ("diabetes", 32, 3000),
        ("diabetes", 1024, 3000),
    ]
    if args.smoke:
        cases, args.repeats = [("diabetes", 32, 200)], 1
    lines = [
        "## P1: instrumentation overhead",
        "",
        "A = leantune's trial loop with every metric (report_every=100); B = a bare "
        "`partial_fit` loop over the same batches; B+loss = B plus the per-step training loss. "
        f"Median (min–max) of {args.repeats} alternating repetitions, one thread, timed in "
        "thread CPU seconds (wall time on this shared machine swings more than the effect). "
        f"Goal: A/B ≤ {GOAL}.",
        "",
        "| set | batch | steps | B, CPU s | A/B | loss: (B+loss)/B | the rest: A/(B+loss) | goal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    data_out: dict[str, Any] = {}
    loaded: dict[str, Any] = {}
    with threadpool_limits(limits=1):
        for name, batch_size, steps in cases:
            if name not in loaded:
                dataset = load_pmlb(name, pmlb_cache())
                splits = make_splits(dataset, test_size=0.3, cv_folds=5, holdout_size=0.2, seed=0)
                loaded[name] = (dataset, splits.folds[0])
            dataset, fold = loaded[name]
            data = TrialData(dataset.X, dataset.y, dataset.task, dataset.n_classes, [fold])
            plan = TrainingPlan(max_steps=steps, report_every=100)
            config = {**CONFIG, "batch_size": batch_size}
            readings = alternate(_arms(config, data, plan, fold, steps), args.repeats)
            a_b = [a / b for a, b in zip(readings["A"], readings["B"], strict=True)]
            loss = [c / b for c, b in zip(readings["B+loss"], readings["B"], strict=True)]
            rest = [a / c for a, c in zip(readings["A"], readings["B+loss"], strict=True)]
            effective = min(batch_size, len(fold.train_idx))
            batch = (
                str(batch_size)
                if effective == batch_size
                else f"{batch_size} (= fold, {effective})"
            )
            met = "met" if statistics.median(a_b) <= GOAL else "missed"
            lines.append(
                f"| {name} | {batch} | {steps} | {statistics.median(readings['B']):.2f} | "
                f"{spread(a_b)} | {spread(loss)} | {spread(rest)} | {met} |"
            )
            data_out[f"{name}-{batch_size}"] = readings
    finish(args, "\n".join(lines), data_out)


def _arms(config: dict, data: Any, plan: Any, fold: Any, steps: int) -> dict:
    from leantune.engine import train_trial

    batch_size = config["batch_size"]
    cpu = time.thread_time
    return {
        "A": lambda: timed(lambda: train_trial(config, data, plan, lambda report: None), cpu),
        "B": lambda: timed(lambda: bare_loop(data, fold, batch_size, steps, False), cpu),
        "B+loss": lambda: timed(lambda: bare_loop(data, fold, batch_size, steps, True), cpu),
    }


if __name__ == "__main__":
    main()
