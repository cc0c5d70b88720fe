"""P5, step cost against batch size: what one scikit-learn `partial_fit` call costs.

For kddcup (23 classes: SGD fits 23 one-vs-rest models a call) and diabetes (2 classes), and
batch sizes 2 to 65536, the time of one steady-state `partial_fit` call (after the first, which
sets up the classes), per step and per sample. Batches are rows drawn with replacement, scaled,
so any size can be timed whatever the set's size. One thread (as a trial runs).

This is the data needed to read RQ1's batch-size axis: `partial_fit` updates once per sample, so
batch size does not change what is learned, only how many calls (each with a fixed overhead)
the same samples take. The fixed overhead is read off as the time of a call minus its samples
times the per-sample cost at the largest batch (the arithmetic).

    .venv/bin/python benchmarks/step_cost.py            # full sweep, 5 repetitions
    .venv/bin/python benchmarks/step_cost.py --smoke    # seconds
"""

from __future__ import annotations

import statistics
import time
from functools import partial
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from _harness import alternate, finish, parser, pmlb_cache


def _batches(X: np.ndarray, y: np.ndarray, size: int, count: int, rng: Any) -> list:
    rows = rng.integers(0, len(X), size=(count, size))
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    return [((X[r] - mean) / scale, y[r]) for r in rows]


def _seconds_per_call(X, y, classes, size: int, budget_s: float, rng: Any) -> float:
    from sklearn.linear_model import SGDClassifier

    model = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.01, shuffle=False)
    warm = _batches(X, y, min(size, 64), 1, rng)[0]
    model.partial_fit(*warm, classes=classes)
    probe = _batches(X, y, size, 1, rng)[0]
    started = time.perf_counter()
    model.partial_fit(*probe)
    one = max(time.perf_counter() - started, 1e-6)
    count = int(min(200, max(3, budget_s / one)))
    batches = _batches(X, y, size, count, rng)
    started = time.perf_counter()
    for X_batch, y_batch in batches:
        model.partial_fit(X_batch, y_batch)
    return (time.perf_counter() - started) / count


def main() -> None:
    options = parser(__doc__.split("\n\n")[0])
    args = options.parse_args()
    from leantune.datasets import load_pmlb

    sizes = [2**i for i in range(1, 17)]
    budget = 0.3
    names = ("kddcup", "diabetes")
    if args.smoke:
        sizes, budget, args.repeats, names = [2, 64, 2048], 0.02, 1, ("diabetes",)
    rng = np.random.default_rng(0)
    lines = [
        "## P5: step cost against batch size",
        "",
        "One steady-state scikit-learn `partial_fit` call (log loss, one thread), median of "
        f"{args.repeats} repetitions (min–max in µs per step). `partial_fit` updates once per "
        "sample: batch size changes how many calls the same samples take, not what is learned.",
        "",
    ]
    data: dict[str, Any] = {}
    with threadpool_limits(limits=1):
        for name in names:
            dataset = load_pmlb(name, pmlb_cache())
            classes = np.arange(dataset.n_classes)
            arms = {
                str(size): partial(
                    _seconds_per_call, dataset.X, dataset.y, classes, size, budget, rng
                )
                for size in sizes
            }
            readings = alternate(arms, args.repeats)
            per_call = {int(s): statistics.median(v) for s, v in readings.items()}
            arithmetic = per_call[sizes[-1]] / sizes[-1]  # seconds per sample at the largest
            lines += [
                f"### {name} ({dataset.n_rows:,} × {dataset.n_features}, "
                f"{dataset.n_classes} classes)",
                "",
                "| batch | µs per step (min–max) | µs per sample | fixed overhead per call, µs "
                "| overhead share |",
                "| ---: | ---: | ---: | ---: | ---: |",
            ]
            for size in sizes:
                values = [1e6 * v for v in readings[str(size)]]
                call = per_call[size]
                overhead = max(0.0, call - size * arithmetic)
                lines.append(
                    f"| {size} | {statistics.median(values):,.1f} "
                    f"({min(values):,.1f}–{max(values):,.1f}) | {1e6 * call / size:,.3f} | "
                    f"{1e6 * overhead:,.1f} | {overhead / call:.0%} |"
                )
            lines.append("")
            data[name] = {s: readings[str(s)] for s in sizes}
    finish(args, "\n".join(lines), data)


if __name__ == "__main__":
    main()
