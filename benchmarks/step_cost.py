"""P5, step cost against batch size: scikit-learn's `partial_fit` beside the minibatch backend.

For kddcup's shape (41 features, 23 classes: one-vs-rest fits 23 models) and diabetes' (8
features, 2 classes), batch sizes 2 to 65536, side by side in one run (arms alternate):
- sklearn: one steady-state `partial_fit` call (after the first, which sets up the classes)
  on a batch already gathered and scaled;
- minibatch: one step of the compiled kernel, timed over a whole window of steps in one call,
  including what sklearn's arm leaves out: gathering and scaling the rows, and the step's
  progressive loss;
- matmul floor: the two matrix products a step cannot avoid (decisions X·Wᵀ, gradient Gᵀ·X) on
  a gathered batch, with numpy's BLAS: the "step bound by matrix multiply".
Log loss, one thread (as a trial runs), timed in the thread's CPU seconds: on a shared machine
wall time swings with other tenants far more than these effects. Rows are drawn with
replacement, so any batch size can be timed whatever the set's size. Then numba's compile cost:
the kernel's first call in a fresh process with an empty cache, and with the cache a first run
leaves (what every later worker on the machine pays).

The two backends differ in what batch size means: `partial_fit` updates once per sample, so
batch size changes overhead, not learning; the minibatch backend updates once per batch, so
batch size changes what is learned.

    .venv/bin/python benchmarks/step_cost.py            # full sweep, 5 repetitions
    .venv/bin/python benchmarks/step_cost.py --smoke    # seconds
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from _harness import alternate, finish, parser, pmlb_cache, spread

# Goals from issue 13: (largest batch the goal covers, least speed-up) and the matmul bound.
SPEEDUP_GOALS = ((16, 1000.0), (512, 100.0))
# Every arm runs in the calling thread (numba's kernel, and BLAS held to one thread).
clock = time.thread_time
MATMUL_FROM, MATMUL_WITHIN = 4096, 2.0


def _batches(X: np.ndarray, y: np.ndarray, size: int, count: int, rng: Any) -> list:
    rows = rng.integers(0, len(X), size=(count, size))
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    return [((X[r] - mean) / scale, y[r]) for r in rows]


def _sklearn_step(X, y, classes, size: int, budget_s: float, rng: Any) -> float:
    from sklearn.linear_model import SGDClassifier

    model = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.01, shuffle=False)
    warm = _batches(X, y, min(size, 64), 1, rng)[0]
    model.partial_fit(*warm, classes=classes)
    probe = _batches(X, y, size, 1, rng)[0]
    started = clock()
    model.partial_fit(*probe)
    one = max(clock() - started, 1e-6)
    count = int(min(200, max(3, budget_s / one)))
    batches = _batches(X, y, size, count, rng)
    started = clock()
    for X_batch, y_batch in batches:
        model.partial_fit(X_batch, y_batch)
    return (clock() - started) / count


def _minibatch_step(X, y, classes, size: int, budget_s: float, rng: Any, loss="log_loss") -> float:
    from leantune.models import MiniBatchSGDClassifier

    mean, inv_scale = X.mean(axis=0), 1.0 / np.where(X.std(axis=0) == 0, 1.0, X.std(axis=0))
    model = MiniBatchSGDClassifier(loss, eta0=0.01, batch_size=size)
    model.start(X.shape[1], classes)
    probe = rng.integers(0, len(X), size=size)
    started = clock()
    model.train_steps(X, y, probe, start=0, steps=1, mean=mean, inv_scale=inv_scale)
    one = max(clock() - started, 1e-7)
    count = int(min(100_000, max(3, budget_s / one)))
    order = rng.integers(0, len(X), size=count * size)
    started = clock()
    model.train_steps(X, y, order, start=0, steps=count, mean=mean, inv_scale=inv_scale)
    return (clock() - started) / count


def _matmul_step(X, n_outputs: int, size: int, budget_s: float, rng: Any) -> float:
    rows = X[rng.integers(0, len(X), size=size)]
    weights = rng.normal(size=(n_outputs, X.shape[1]))
    started = clock()
    (rows @ weights.T).T @ rows
    one = max(clock() - started, 1e-7)
    count = int(min(100_000, max(3, budget_s / one)))
    started = clock()
    for _ in range(count):
        (rows @ weights.T).T @ rows
    return (clock() - started) / count


_FIRST_CALL = """
import time, numpy as np
from leantune.models import MiniBatchSGDClassifier
import leantune.models._kernel
X, y = np.random.default_rng(0).normal(size=(64, 41)), np.arange(64) % 23
model = MiniBatchSGDClassifier("log_loss", batch_size=8).start(41, np.arange(23))
wall, cpu = time.perf_counter(), time.process_time()
model.train_steps(X, y, np.arange(64), start=0, steps=8)
print(time.perf_counter() - wall, time.process_time() - cpu)
"""


def _first_call_seconds(cache: str) -> tuple[float, float]:
    """(wall, CPU) seconds of the kernel's first call in a fresh process whose numba cache is
    `cache` (the import, numba's included, is not counted)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_CALL], env=env, capture_output=True, text=True, check=True
    )
    wall, cpu = (float(v) for v in out.stdout.split())
    return wall, cpu


def _compile_cost(repeats: int) -> list[str]:
    cold, warm = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(_first_call_seconds(cache))
            warm.append(_first_call_seconds(cache))
    lines = [
        "### numba's compile cost",
        "",
        "The kernel's first call in a fresh process (int64 class codes, float64 rows), median of "
        f"{repeats} (min–max), seconds of wall time and of the process's CPU time:",
        "",
    ]
    for label, runs in (("empty cache (compiles)", cold), ("cache a first run left (loads)", warm)):
        wall, cpu = [r[0] for r in runs], [r[1] for r in runs]
        lines.append(f"- {label}: wall {spread(wall, 2)}, CPU {spread(cpu, 2)}")
    return [
        *lines,
        "",
        "numba caches the machine code per argument types (next to the module, or in "
        "NUMBA_CACHE_DIR): a machine compiles each signature once (class codes and regression "
        "targets, writable or read-only arrays: Ray hands workers read-only ones), and every "
        "later worker only loads it.",
        "",
    ]


def _verdict(size: int, speedup: float, over_matmul: float) -> str:
    for largest, least in SPEEDUP_GOALS:
        if size <= largest:
            return f"{'met' if speedup >= least else 'not met'} (≥ {least:,.0f}×)"
    if size >= MATMUL_FROM:
        ok = over_matmul <= MATMUL_WITHIN
        return f"{'met' if ok else 'not met'} (≤ {MATMUL_WITHIN:g}× matmul)"
    return ""


def main() -> None:
    options = parser(__doc__.split("\n\n")[0])
    args = options.parse_args()
    from leantune.datasets import load_pmlb

    sizes = [2**i for i in range(1, 17)]
    budget = 0.3
    names = ("kddcup", "diabetes")
    if args.smoke:
        sizes, budget, args.repeats, names = [2, 64, 4096], 0.02, 1, ("diabetes",)
    rng = np.random.default_rng(0)
    lines = [
        "## P5: step cost against batch size",
        "",
        "µs per step (thread CPU time), median of "
        f"{args.repeats} repetitions (min–max), arms alternating, one thread, log loss. "
        "**sklearn**: one steady-state `partial_fit` call on a batch already gathered and "
        "scaled. **minibatch**: one step of the compiled kernel, timed over a window of steps in "
        "one call, *including* gathering and scaling the rows and the progressive loss. "
        "**matmul floor**: the two matrix products of a step (X·Wᵀ and Gᵀ·X) on a gathered "
        "batch, numpy's BLAS. **hinge**: the minibatch step with hinge loss (no exp or log).",
        "",
        "What batch size means differs: `partial_fit` updates once per sample, so under "
        "`sklearn` batch size changes overhead, not learning; the minibatch backend updates "
        "once per batch, so under `minibatch` batch size changes what is learned.",
        "",
        "Goals (issue 13): minibatch ≥ 1,000× cheaper per step at batch ≤ 16, ≥ 100× at "
        "≤ 512, and within 2× of the matmul floor at ≥ 4,096.",
        "",
    ]
    data: dict[str, Any] = {}
    with threadpool_limits(limits=1):
        for name in names:
            dataset = load_pmlb(name, pmlb_cache())
            X, y = dataset.X, dataset.y
            classes = np.arange(dataset.n_classes)
            outputs = 1 if dataset.n_classes == 2 else dataset.n_classes
            # Compile (or load) the kernel before anything is timed.
            _minibatch_step(X, y, classes, 2, 0.0, rng)
            _minibatch_step(X, y, classes, 2, 0.0, rng, loss="hinge")
            arms: dict[str, Any] = {}
            for size in sizes:
                arms[f"sklearn {size}"] = partial(_sklearn_step, X, y, classes, size, budget, rng)
                arms[f"minibatch {size}"] = partial(
                    _minibatch_step, X, y, classes, size, budget / 3, rng
                )
                arms[f"hinge {size}"] = partial(
                    _minibatch_step, X, y, classes, size, budget / 3, rng, "hinge"
                )
                arms[f"matmul {size}"] = partial(_matmul_step, X, outputs, size, budget / 3, rng)
            readings = alternate(arms, args.repeats)
            us = {arm: [1e6 * v for v in values] for arm, values in readings.items()}
            lines += [
                f"### {name} ({dataset.n_rows:,} × {dataset.n_features}, "
                f"{dataset.n_classes} classes)",
                "",
                "| batch | sklearn µs | minibatch µs | sklearn ÷ minibatch | matmul floor µs "
                "| minibatch ÷ matmul | hinge µs | goal |",
                "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | :--- |",
            ]
            for size in sizes:
                sk, mb = us[f"sklearn {size}"], us[f"minibatch {size}"]
                mm, hinge = us[f"matmul {size}"], us[f"hinge {size}"]
                speedup = statistics.median(sk) / statistics.median(mb)
                over = statistics.median(mb) / statistics.median(mm)
                lines.append(
                    f"| {size} | {_cell(sk)} | {_cell(mb)} | {speedup:,.0f}× | "
                    f"{_cell(mm)} | {over:.1f}× | {statistics.median(hinge):,.1f} | "
                    f"{_verdict(size, speedup, over)} |"
                )
            lines.append("")
            data[name] = {arm: values for arm, values in readings.items()}
    lines += _compile_cost(1 if args.smoke else 3)
    finish(args, "\n".join(lines), data)


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):,.1f} ({min(values):,.1f}–{max(values):,.1f})"


if __name__ == "__main__":
    main()
