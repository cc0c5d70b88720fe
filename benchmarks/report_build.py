"""P8, the report: how long `leantune report` takes on a large run directory, arm against arm.

Each arm is a source tree of leantune run with this virtual environment (the code before a
change checked out by `git worktree add /tmp/before <commit>`); each build is a fresh
`leantune report RUN_DIR` process, its wall time, CPU and peak resident memory from wait4.
A 10,000-trial run directory: `leantune run` on `scale.py`'s spec with N = 10,000.

    .venv/bin/python benchmarks/report_build.py /tmp/rep10k/run \\
        --arm before=/tmp/before/src --arm after=src --repeats 3
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import pandas as pd

from _harness import finish, leantune_process, markdown_table, parser, spread


def _build(source: str, run_dir: Path) -> dict[str, float]:
    started = time.perf_counter()
    process = leantune_process(source, "report", str(run_dir))
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError(f"leantune report failed ({status}) with {source}")
    return {
        "wall_s": time.perf_counter() - started,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mib": usage.ru_maxrss / 1024,  # kB on Linux
    }


def main() -> None:
    options = parser(__doc__.splitlines()[0])
    options.add_argument("run_dir", type=Path)
    options.add_argument("--arm", action="append", default=[], help="NAME=SOURCE_DIR")
    args = options.parse_args()
    arms = dict(arm.split("=", 1) for arm in args.arm) or {"this": "src"}
    repeats = 1 if args.smoke else args.repeats
    names = list(arms)
    readings: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    loads = [os.getloadavg()[0]]
    for repetition in range(repeats):
        shift = repetition % len(names)
        for name in names[shift:] + names[:shift]:
            readings[name].append(_build(arms[name], args.run_dir))
            loads.append(os.getloadavg()[0])
    rows = [
        {
            "arm": name,
            "wall s": spread([r["wall_s"] for r in runs], 1),
            "CPU-s": spread([r["cpu_s"] for r in runs], 1),
            "peak MiB": spread([r["peak_mib"] for r in runs], 0),
        }
        for name, runs in readings.items()
    ]
    section = "\n".join(
        [
            f"`leantune report` on {args.run_dir}; {repeats} builds an arm, alternated; median "
            f"(min–max); load average {min(loads):.1f}–{max(loads):.1f} "
            f"(median {statistics.median(loads):.1f})",
            "",
            *markdown_table(pd.DataFrame(rows)),
        ]
    )
    finish(args, section, {"arms": arms, "readings": readings, "loads": loads})


if __name__ == "__main__":
    main()
