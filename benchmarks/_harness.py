"""Shared pieces of the benchmark harness: machine facts, side-by-side timing, sections.

Every figure is a ratio or a distribution measured side by side in one run: the arms alternate,
each at least `repeats` times, and the median is quoted with its min and max. Benchmarks
measure and print; they assert nothing (tests never assert times).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
SHARED_PMLB = REPO.parent / "shared" / "datasets" / "pmlb"


def pmlb_cache() -> Path:
    """Where the PMLB sets are: $LEANTUNE_PMLB_CACHE, else the shared cache next to the repo."""
    return Path(os.environ.get("LEANTUNE_PMLB_CACHE") or SHARED_PMLB)


def machine() -> str:
    from leantune.metrics import cpu_model

    memory = psutil.virtual_memory().total / 2**30
    return f"{cpu_model()}, {os.cpu_count()} cores, {memory:.0f} GiB memory, {platform.platform()}"


def versions() -> str:
    packages = ("ray", "mlflow", "optuna", "numpy", "numba", "scikit-learn", "pandas", "psutil")
    found = []
    for package in packages:
        try:
            found.append(f"{package} {version(package)}")
        except Exception:
            continue
    return ", ".join([f"Python {platform.python_version()}", *found])


def command() -> str:
    """The command line that produced a figure, as a user would type it."""
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):
        script = script.resolve().relative_to(REPO)
    arguments, skip = [], False
    for argument in sys.argv[1:]:  # where run.py collects the section is not the figure's
        if skip or argument == "--markdown":
            skip = not skip
            continue
        arguments.append(argument)
    return " ".join([".venv/bin/python", str(script), *arguments])


def leantune_process(source: str | Path, *arguments: str) -> Any:
    """`python -m leantune ARGUMENTS` in a fresh process (a Popen) that imports leantune, and
    gives its workers, the source tree `source` (`src`, or an older commit's checkout), with
    this virtual environment's packages; its output discarded."""
    import subprocess

    return subprocess.Popen(
        [sys.executable, "-m", "leantune", *arguments],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(Path(source).resolve())},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def markdown_table(frame: Any) -> list[str]:
    """A pandas frame as the lines of a markdown table (pandas' own needs `tabulate`)."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    return [header, rule, *("| " + " | ".join(map(str, row)) + " |" for row in frame.values)]


def spread(values: Sequence[float], digits: int = 3) -> str:
    """'median (min–max)'."""
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}–{max(values):.{digits}f})"
    )


def alternate(arms: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Run every arm `repeats` times, rotating which goes first, so no arm always meets a
    cooler (or hotter) machine. Each arm returns its own measurement (usually seconds)."""
    names = list(arms)
    readings: dict[str, list[float]] = {name: [] for name in names}
    for repetition in range(repeats):
        shift = repetition % len(names)
        for name in names[shift:] + names[:shift]:
            readings[name].append(arms[name]())
    return readings


def timed(action: Callable[[], Any], clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds `action` takes on `clock` (wall by default; `time.thread_time` for CPU)."""
    started = clock()
    action()
    return clock() - started


def parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark script shares."""
    options = argparse.ArgumentParser(description=description)
    options.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition")
    options.add_argument("--repeats", type=int, default=5, help="repetitions per arm (default 5)")
    options.add_argument("--markdown", type=Path, help="write this figure's section here")
    options.add_argument("--json", type=Path, help="write every reading here")
    return options


def finish(args: argparse.Namespace, section: str, data: dict[str, Any]) -> None:
    """Print the section, and write it (and the raw readings) where asked."""
    footer = f"\n\nCommand: `{command()}`\n"
    print(section + footer)
    if args.markdown:
        args.markdown.write_text(section + footer)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2, default=str))
