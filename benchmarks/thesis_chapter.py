"""The thesis chapter on a reduced grid: the preset with repeats, relative limits, the RQ2 curve
and the run-order control, small enough to rerun on a shared 2-core machine.

    LEANTUNE_PMLB_CACHE=/work/shared/datasets/pmlb \
        .venv/bin/python benchmarks/thesis_chapter.py OUTPUT_DIR [--datasets diabetes,529_pollen]
        [--backend sklearn,minibatch] [--hog SECONDS] [--compare EARLIER_OUTPUT_DIR]

The grid keeps every batch size and learning rate of the thesis and two alphas (1e-5, 1e-3).
Prints the wall time and the chapter's path; `--compare OTHER_DIR` also prints, per headline
number, both runs' value and whether the second lies within the first's range over repeats,
and, per set, backend and batch size, the same for the batch section's step time and best score.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import pandas as pd

from leantune.study._thesis import ThesisOptions, backends_from_text, run_thesis
from leantune.testing import cpu_hog

REDUCED_GRID = {
    "batch_size": {"pow2": [1, "max"]},
    "learning_rate": {"pow10": [-4, -1]},
    "alpha": [1e-5, 1e-3],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--datasets", default="diabetes,529_pollen")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--subsample", type=int, default=2000)
    parser.add_argument("--backend", default="sklearn", help="as `leantune study thesis`")
    parser.add_argument("--compare", type=Path, help="an earlier OUTPUT_DIR of the same command")
    parser.add_argument(
        "--hog", type=float, default=0, help="seconds of a CPU hog (one core) beside the run"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    options = ThesisOptions(
        datasets=tuple(args.datasets.split(",")),
        repeats=args.repeats,
        subsample=args.subsample,
        backends=backends_from_text(args.backend),
        output_dir=args.output_dir,
        grid=REDUCED_GRID,
    )
    with cpu_hog(args.hog) if args.hog else contextlib.nullcontext():
        result = run_thesis(options, show_progress=False)
    print(f"wall time {time.perf_counter() - started:.0f} s; chapter {result.chapter[0]}")
    for outcome in result.outcomes:
        print(
            f"  {outcome.name} ({outcome.backend}): {outcome.status}, "
            f"{outcome.wall_time_s or 0:.0f} s"
        )
    if args.compare:
        compare(args.compare, args.output_dir)


def compare(first: Path, second: Path) -> None:
    """Each replayed curve point and measured arm: the second run's mean against the first's
    range over repeats."""
    tables = {
        name: (
            pd.read_csv(first / "results" / f"{name}.csv"),
            pd.read_csv(second / "results" / f"{name}.csv"),
        )
        for name in ("rq2_curve", "rq2_measured")
    }
    parts = [
        (f"rq2_curve[{metric}]", a[a["metric"] == metric], b[b["metric"] == metric])
        for metric in ("train_time_s", "step_time_ms")
        for a, b in [tables["rq2_curve"]]
    ] + [("rq2_measured", *tables["rq2_measured"])]
    for name, a, b in parts:
        for column in ("cpu_share_saved", "false_stops", "missed_violations", "regret_cv"):
            ranges = a.groupby(["dataset", "level"])[column].agg(["min", "max", "mean"])
            means = b.groupby(["dataset", "level"])[column].mean().reindex(ranges.index)
            inside = ((means >= ranges["min"] - 1e-12) & (means <= ranges["max"] + 1e-12)).mean()
            gap = (means - ranges["mean"]).abs().max()
            print(
                f"{name}.{column}: second run's mean inside the first's range at "
                f"{100 * inside:.0f} % of {len(ranges)} points; largest |difference of means| "
                f"{gap:.3g}"
            )
    batch = [pd.read_csv(path / "results" / "rq1_batch_by_backend.csv") for path in (first, second)]
    for column in ("step_time_ms", "score_best"):
        keys = ["dataset", "backend", "batch_size"]
        ranges = batch[0].groupby(keys)[column].agg(["min", "max"])
        means = batch[1].groupby(keys)[column].mean().reindex(ranges.index)
        inside = ((means >= ranges["min"] - 1e-12) & (means <= ranges["max"] + 1e-12)).mean()
        print(
            f"rq1_batch_by_backend.{column}: second run's mean inside the first's range at "
            f"{100 * inside:.0f} % of {len(ranges)} batch sizes"
        )
    keys = ["dataset", "hyperparameter", "metric"]
    a = pd.read_csv(first / "results" / "rq1_order_control.csv").set_index(keys)["verdict"]
    b = pd.read_csv(second / "results" / "rq1_order_control.csv").set_index(keys)["verdict"]
    same = a == b.reindex(a.index)
    print(f"rq1 verdicts: {int(same.sum())} of {len(same)} the same; differing:")
    for key in same[~same].index:
        print(f"  {key}: {a[key]} → {b.get(key)}")
    for path in (first, second):
        print(path, "wall", round(json.loads((path / "thesis.json").read_text())["wall_time_s"]))


if __name__ == "__main__":
    main()
