"""P7, do the examples' limits clear their configs' cost? Each example with a training-time limit
that claims to stop some configs and keep others runs with that limit lifted (every config to its
end), quiet and beside a process spinning one core. Per batch size: the CPU training time (all
folds) against the example's limit, and the margin on each side of it: how far the cheapest
config over the limit is above it, and how far the costliest one under it is below.

The machine behind a project changes (scikit-learn's per-call cost differs by 15 % or more
between VMs), so a limit tuned on one can sit on the edge of a config's cost on another. Rerun
this on a new machine before trusting an example's claim.

    .venv/bin/python benchmarks/example_limits.py --repeats 2   # quiet and loaded, twice
    .venv/bin/python benchmarks/example_limits.py --smoke    # the quickstart, once, quiet
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from _harness import REPO, finish, markdown_table, parser

# Examples whose header claims a limit in a gap between the configs that fit and those that do not.
EXAMPLES = ("quickstart.yaml", "tpe-constrained.yaml")
LIFTED_S = 1e6


def run_lifted(example: str, out: Path) -> pd.DataFrame:
    """The example with its training-time limit lifted: every config runs to its end."""
    import leantune

    spec = leantune.load_spec(
        REPO / "examples" / example,
        [
            f"output.dir={out}",
            "output.report=false",
            f"constraints.train_time_s={LIFTED_S}",
        ],
    )
    leantune.run(spec, show_progress=False)
    return pd.read_csv(out / "trials.csv")


def limit_of(example: str) -> float:
    import leantune

    return float(leantune.load_spec(REPO / "examples" / example).constraints.train_time_s)


def margins(costs: pd.Series, limit: float) -> tuple[float, float]:
    """(cheapest over the limit ÷ limit, limit ÷ costliest under it); NaN where a side is empty."""
    over, under = costs[costs > limit], costs[costs <= limit]
    return (
        float(over.min() / limit) if len(over) else float("nan"),
        float(limit / under.max()) if len(under) else float("nan"),
    )


def main() -> None:
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    from leantune.testing import cpu_hog

    examples = EXAMPLES[:1] if args.smoke else EXAMPLES
    loads = ("quiet",) if args.smoke else ("quiet", "loaded")
    repeats = 1 if args.smoke else args.repeats
    rows: list[dict[str, Any]] = []
    for example in examples:
        limit = limit_of(example)
        for repetition in range(repeats):
            for load in loads:
                hog = cpu_hog(600) if load == "loaded" else contextlib.nullcontext()
                with tempfile.TemporaryDirectory() as work, hog:
                    trials = run_lifted(example, Path(work) / "run")
                over, under = margins(trials.train_time_s, limit)
                by_batch = trials.groupby("batch_size").train_time_s
                rows.append(
                    {
                        "example": example,
                        "load": load,
                        "repetition": repetition + 1,
                        "limit_s": limit,
                        "trials": len(trials),
                        "cost by batch size, CPU s (min–max)": "; ".join(
                            f"{size}: {low:.3g}–{high:.3g}"
                            for size, (low, high) in by_batch.agg(["min", "max"]).iterrows()
                        ),
                        "over ÷ limit (least)": round(over, 2),
                        "limit ÷ under (least)": round(under, 2),
                    }
                )
    table = pd.DataFrame(rows)
    lines = [
        "## P7: the examples' limits against their configs' cost",
        "",
        "Each example run with its training-time limit lifted (every config to its end), quiet "
        "and beside a process spinning one core. 'over ÷ limit': the cheapest config above the "
        "limit, in multiples of it; 'limit ÷ under': how many times the costliest config under "
        "it would fit. Both well above 1 means the example stops and keeps the same configs on "
        "a quiet and a loaded machine. CPU training time, all folds.",
        "",
        *markdown_table(table),
    ]
    finish(args, "\n".join(lines), {"rows": rows})


if __name__ == "__main__":
    main()
