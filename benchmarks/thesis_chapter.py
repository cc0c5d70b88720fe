"""The thesis chapter on a reduced grid: the preset with repeats, relative limits, the RQ2 curve
and the run-order control, small enough to rerun on a shared 2-core machine.

    LEANTUNE_PMLB_CACHE=/work/shared/datasets/pmlb \
        .venv/bin/python benchmarks/thesis_chapter.py OUTPUT_DIR [--datasets diabetes,529_pollen]
        [--backend sklearn,minibatch] [--hog SECONDS] [--memory-hog SECONDS]
        [--compare EARLIER_OUTPUT_DIR] [--only-compare]

The grid keeps every batch size and learning rate of the thesis and two alphas (1e-5, 1e-3).
Prints the wall time and the chapter's path; `--compare EARLIER_DIR` also prints, per headline
number of the chapter (RQ2 curve and stopped arms, the batch section), the share of points where
this run's mean lies inside the earlier run's stated rerun interval (mean ± t·s·√(2/N)) and
inside its range of repeats, grouped into shares/counts/scores, absolute CPU times and wall
times, and how many RQ1 verdicts stayed the same. `--only-compare` judges two finished runs
(rebuild their chapters first with `leantune report DIR` after a change to the report).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

from leantune.report._reproduce import (
    findings_kept,
    reproduction,
    reproduction_summary,
    verdicts_kept,
)
from leantune.study._thesis import ThesisOptions, backends_from_text, run_thesis
from leantune.testing import cpu_hog, memory_hog

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
        "--only-compare",
        action="store_true",
        help="run nothing: compare OUTPUT_DIR (already run) with --compare",
    )
    parser.add_argument(
        "--hog", type=float, default=0, help="seconds of a CPU hog (one core) beside the run"
    )
    parser.add_argument(
        "--memory-hog",
        type=float,
        default=0,
        help="seconds of a memory-streaming hog (one core, 512 MiB) beside the run",
    )
    args = parser.parse_args()
    if args.only_compare:
        compare(args.compare, args.output_dir)
        return
    started = time.perf_counter()
    options = ThesisOptions(
        datasets=tuple(args.datasets.split(",")),
        repeats=args.repeats,
        subsample=args.subsample,
        backends=backends_from_text(args.backend),
        output_dir=args.output_dir,
        grid=REDUCED_GRID,
    )
    with contextlib.ExitStack() as hogs:
        if args.hog:
            hogs.enter_context(cpu_hog(args.hog))
        if args.memory_hog:
            hogs.enter_context(memory_hog(args.memory_hog))
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
    """Every headline number: the second run's mean over repeats against the first run's stated
    rerun interval (and its range of repeats), grouped by what the number rests on; then RQ1's
    verdicts. Writes each number's judgement to SECOND/reproduction.csv."""
    numbers = reproduction(first, second)
    numbers.to_csv(second / "reproduction.csv", index=False)
    print(f"{second} against {first} (rerun interval: mean ± t·s·√(2/N), 95 %)")
    print("| kind | number | points | inside the interval | inside the range | change |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for row in reproduction_summary(numbers).itertuples():
        print(
            f"| {row.kind} | {row.number} | {row.points} | {100 * row.inside_interval:.0f} % | "
            f"{100 * row.inside_range:.0f} % | {100 * row.change:+.1f} % |"
        )
    for kind, group in numbers.groupby("kind", sort=False):
        print(
            f"{kind}: {int(group['inside_interval'].sum())} of {len(group)} numbers inside the "
            f"interval ({100 * group['inside_interval'].mean():.0f} %), "
            f"{100 * group['inside_range'].mean():.0f} % inside the range"
        )
    verdicts = verdicts_kept(first, second)
    had, has, both = findings_kept(verdicts)
    print(
        f"rq1 findings (verdict holds): {had} in the first run, {has} in the second, {both} in both"
    )
    print(f"rq1 verdicts: {int(verdicts['same'].sum())} of {len(verdicts)} the same; differing:")
    for row in verdicts[~verdicts["same"]].itertuples():
        print(f"  {row.dataset} {row.hyperparameter} → {row.metric}: {row.first} → {row.second}")
    for path in (first, second):
        print(path, "wall", round(json.loads((path / "thesis.json").read_text())["wall_time_s"]))


if __name__ == "__main__":
    main()
