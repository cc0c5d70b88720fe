"""Run the benchmark figures and write BENCHMARKS.md.

    .venv/bin/python benchmarks/run.py                  # every figure (about an hour)
    .venv/bin/python benchmarks/run.py --only P1,P5     # some
    .venv/bin/python benchmarks/run.py --smoke          # every harness path, tiny sizes

Each figure runs in its own process and writes its section; this script puts them together with
the machine and versions. Smoke runs write to a temporary file unless --out is given, so they
never overwrite measured figures. Nothing is asserted: benchmarks measure.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import REPO, machine, versions

FIGURES = {
    "P1": "instrumentation.py",
    "P2": "orchestration.py",
    "P3": "compute_saved.py",
    "P4": "memory_per_worker.py",
    "P5": "step_cost.py",
    "P6": "decisions.py",
    "P7": "example_limits.py",
    "P8": "scale.py",
    "P9": "cheap_stops.py",
}


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--smoke", action="store_true", help="tiny sizes, seconds to a minute")
    options.add_argument("--only", default=",".join(FIGURES), help="e.g. P1,P5")
    options.add_argument("--out", type=Path, help="default: BENCHMARKS.md (smoke: a temp file)")
    args = options.parse_args()
    chosen = [name.strip().upper() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(FIGURES))
    if unknown:
        print(f"--only: unknown figures {unknown}; known: {', '.join(FIGURES)}", file=sys.stderr)
        return 2
    out = args.out or (
        Path(tempfile.mkdtemp()) / "BENCHMARKS.md" if args.smoke else REPO / "BENCHMARKS.md"
    )
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    # --only re-measures some figures and keeps the others' sections as they were.
    sections = {} if args.smoke or not out.exists() else _sections(out.read_text())
    for name in chosen:
        section = work / f"{name}.md"
        command = [
            sys.executable,
            str(Path(__file__).parent / FIGURES[name]),
            "--markdown",
            str(section),
        ]
        if args.smoke:
            command.append("--smoke")
        started = time.perf_counter()
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        subprocess.run(command, check=True, cwd=REPO)
        print(f"== {name} done in {time.perf_counter() - started:.0f} s", flush=True)
        sections[name] = section.read_text().strip() + "\n"
    header = [
        "# Benchmarks",
        "",
        "Figures measured on one machine, each with the exact command that produced it. Every "
        "figure is a ratio or a distribution measured side by side in one run (arms alternate, "
        "median with min and max). Benchmarks measure; tests never assert times.",
        "",
        f"- Machine: {machine()}",
        f"- Versions: {versions()}",
        "- Regenerate: `make bench` (or `.venv/bin/python benchmarks/run.py --only P1,...`)",
        "",
    ]
    if args.smoke:
        header.insert(2, "**Smoke run: tiny sizes to keep the harness working; not figures.**\n")
    body = [sections[name] for name in FIGURES if name in sections]
    out.write_text("\n".join(header) + "\n" + "\n".join(body))
    print(f"wrote {out}")
    return 0


def _sections(text: str) -> dict[str, str]:
    """The figure sections of an existing BENCHMARKS.md, keyed P1, P2, ... by their heading."""
    found = {}
    for chunk in re.split(r"(?m)^(?=## )", text):
        heading = re.match(r"## (P\d)\b", chunk)
        if heading:
            found[heading.group(1)] = chunk.strip() + "\n"
    return found


if __name__ == "__main__":
    sys.exit(main())
