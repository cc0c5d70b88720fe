"""Private memory a trial's worker holds for the dataset: shared zero-copy vs a per-trial copy.

For each repetition, fresh Ray worker processes run the real trial loop (`train_trial`, every
fold of a 5-fold split, one epoch) on kddcup, whose arrays were put in Ray's object store once.
Each worker first warms up on a tiny dataset and records its private memory (RSS − shared, as
trials report it); the figure is the rise of that private memory over the warm baseline, at its
peak during the trial, divided by the dataset's size (X and y, in MiB). "shared" reads the arrays
zero-copy, as leantune's trials do; "copy" first copies them into the worker, as a trial that
received the data by value would. Goal for "shared": at most 0.2.

    .venv/bin/python benchmarks/memory_per_worker.py              # kddcup, 5 repetitions
    .venv/bin/python benchmarks/memory_per_worker.py --smoke      # a small synthetic set, seconds

It measures and prints; it asserts nothing (tests never assert times or machine figures).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from _harness import command, machine, versions

REPO = Path(__file__).resolve().parents[1]
SHARED_PMLB = REPO.parent / "shared" / "datasets" / "pmlb"
GOAL = 0.2
MODES = ("shared", "copy")


def main() -> int:
    args = _parse()
    data, megabytes, label = _dataset(args)  # imports leantune.engine, which sets Ray's env
    import ray  # here, so `--help` is instant

    print(f"dataset: {label}, {megabytes:.1f} MiB (X and y)", flush=True)
    ray.init(
        num_cpus=args.workers,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
    )
    try:
        ref = ray.put(data)  # once, for every worker and repetition: as a study does
        del data
        gc.collect()
        worker_class = ray.remote(num_cpus=1)(Worker)
        samples: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        for repetition in range(args.repeats):
            # Alternate which mode goes first, so neither always meets a cooler machine.
            order = MODES if repetition % 2 == 0 else MODES[::-1]
            for mode in order:
                workers = [worker_class.remote(args.features_warmup) for _ in range(args.workers)]
                started = time.perf_counter()
                readings = ray.get(
                    [w.measure.remote(ref, mode == "copy", args.batch_size) for w in workers]
                )
                for reading in readings:
                    reading["ratio"] = reading["rise_mb"] / megabytes
                    samples[mode].append(reading)
                for worker in workers:
                    ray.kill(worker)
                ratios = ", ".join(f"{r['ratio']:.3f}" for r in readings)
                print(
                    f"repetition {repetition + 1}/{args.repeats} {mode:>6}: ratio {ratios} "
                    f"({time.perf_counter() - started:.1f} s)",
                    flush=True,
                )
    finally:
        ray.shutdown()
    report = _report(args, label, megabytes, samples)
    print(report)
    if args.markdown:
        intro = (
            "## P4: memory per worker\n\n"
            "Private memory (RSS − shared) a trial's worker adds while it trains on the dataset, "
            "divided by the dataset's size: zero-copy from Ray's object store (as leantune's "
            "trials read it) against a per-trial copy, in the same run. The worker's own "
            "~170 MiB (Python, NumPy, scikit-learn, Ray) is its warm baseline, not counted. "
            f"Goal for shared: ≤ {GOAL}.\n"
        )
        args.markdown.write_text(intro + report + "\n")
    if args.json:
        args.json.write_text(
            json.dumps({"dataset": label, "megabytes": megabytes, "samples": samples}, indent=2)
        )
    return 0


class Worker:
    """One Ray worker process: warmed up once, then runs one trial and reports its memory."""

    def __init__(self, features: int) -> None:
        from leantune.datasets import make_splits, make_synthetic
        from leantune.engine import TrainingPlan, TrialData, train_trial

        # Warm up on a tiny set: imports, sklearn's code paths and the allocator's pools are
        # in place before the baseline, so the rise is what the dataset costs, not start-up.
        tiny = make_synthetic(
            "warmup", rows=2000, features=features, task="classification", classes=3
        )
        splits = make_splits(tiny, test_size=0.3, cv_folds=2, holdout_size=0.2, seed=0)
        warm = TrialData(tiny.X, tiny.y, tiny.task, tiny.n_classes, splits.folds)
        train_trial(_config(64), warm, TrainingPlan(report_every=5), lambda _: None)
        gc.collect()

    def measure(self, data: Any, copy: bool, batch_size: int) -> dict[str, float]:
        from leantune.engine import TrainingPlan, TrialData, train_trial
        from leantune.metrics import private_memory_mb

        process = psutil.Process()
        baseline = private_memory_mb(process)
        if copy:
            # What a trial holds when it gets the data by value (pickled into its closure or
            # config, or copied on arrival): its own X, y and folds.
            data = TrialData(
                np.array(data.X),
                np.array(data.y),
                data.task,
                data.n_classes,
                [
                    type(f)(*(np.array(a) for a in (f.train_idx, f.val_idx, f.mean, f.scale)))
                    for f in data.folds
                ],
            )
        peak = private_memory_mb(process)

        def report(result: dict[str, Any]) -> None:
            nonlocal peak
            peak = max(peak, result.get("memory_mb", 0.0))

        outcome = train_trial(
            _config(batch_size), data, TrainingPlan(epochs=1, report_every=10), report
        )
        info = process.memory_info()
        peak = max(peak, private_memory_mb(process))
        return {
            "baseline_mb": baseline,
            "peak_mb": peak,
            "rise_mb": peak - baseline,
            "rss_mb": info.rss / 2**20,
            "shared_mb": info.shared / 2**20,
            "status": outcome.status,
            "x_owns_data": float(data.X.flags.owndata),
        }


def _config(batch_size: int) -> dict[str, Any]:
    return {"model": "logistic", "batch_size": batch_size, "learning_rate": 0.01, "alpha": 1e-4}


def _dataset(args: argparse.Namespace) -> tuple[Any, float, str]:
    from leantune.datasets import load_pmlb, make_splits, make_synthetic
    from leantune.engine import TrialData

    if args.smoke:
        data = make_synthetic("smoke", rows=20_000, features=41, task="classification", classes=5)
        label = "synthetic 20,000 × 41, 5 classes (--smoke)"
    else:
        cache = args.cache_dir or os.environ.get("LEANTUNE_PMLB_CACHE") or SHARED_PMLB
        data = load_pmlb("kddcup", Path(cache))
        label = f"kddcup {data.n_rows:,} × {data.n_features} from {data.provenance['location']}"
    splits = make_splits(data, test_size=0.3, cv_folds=5, holdout_size=0.2, seed=0)
    trial_data = TrialData(data.X, data.y, data.task, data.n_classes, splits.folds)
    return trial_data, data.megabytes, label


def _report(
    args: argparse.Namespace,
    label: str,
    megabytes: float,
    samples: dict[str, list[dict[str, float]]],
) -> str:
    lines = [
        "",
        f"Private memory rise per worker ÷ dataset size ({megabytes:.1f} MiB), "
        f"{args.repeats} repetitions × {args.workers} workers:",
        "",
        "| mode | ratio median | min | max | rise MiB median | baseline MiB median | goal |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode in MODES:
        ratios = [s["ratio"] for s in samples[mode]]
        rises = [s["rise_mb"] for s in samples[mode]]
        baselines = [s["baseline_mb"] for s in samples[mode]]
        goal = "-"
        if mode == "shared" and not args.smoke:  # the goal is for kddcup, not the smoke set
            goal = f"≤ {GOAL}: {'met' if max(ratios) <= GOAL else 'missed'}"
        lines.append(
            f"| {mode} | {statistics.median(ratios):.3f} | {min(ratios):.3f} | "
            f"{max(ratios):.3f} | {statistics.median(rises):.1f} | "
            f"{statistics.median(baselines):.1f} | {goal} |"
        )
    lines += ["", "Machine: " + machine(), "Versions: " + versions(), "Command: " + command()]
    return "\n".join(lines)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small synthetic set, 1 repetition")
    parser.add_argument("--cache-dir", type=Path, help="PMLB cache holding kddcup")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="workers at once (default 2)")
    parser.add_argument("--batch-size", type=int, default=4096, help="trial batch size")
    parser.add_argument("--json", type=Path, help="also write every reading here")
    parser.add_argument("--markdown", type=Path, help="write the BENCHMARKS.md section here")
    args = parser.parse_args()
    args.features_warmup = 41
    if args.smoke:
        args.repeats, args.workers = 1, 1
    return args


if __name__ == "__main__":
    sys.exit(main())
