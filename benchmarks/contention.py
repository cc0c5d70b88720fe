"""How much contention inflates a trial's own CPU time, and what tracks it.

Two measurements:
- `--runs ROOT ...`: P9's run directories (cheap_stops.py's roots) joined with the root's
  stopping-off truth: per run, each finished trial's CPU time over the truth's for the same
  config (median), beside the trials' median `cpu_waiting_share`, switches per CPU second and
  probe slowdown, and the correlation of each with the inflation over every finished trial.
- `--micro`: an SGD hinge step (batch 16 and 512, 5,000 × 120 rows) timed on the thread's
  CPU clock in one process, alone and beside 2 and 4 processes training the same way (no
  pinning: the scheduler shares the cores as it shares them for studies), with the kernel's
  counters for each timing.

- `--verdicts ROOT ...`: would correcting the end verdict for contention make it load-proof?
  Each loaded run's trials that ran every step are judged again on `train_time_s` divided by
  1 + k × their own waiting share, at several limits (`--limits`), against the truth judged
  at the same limit: the Jaccard index of the feasible sets, the configs judged feasible that
  the truth finds over (false feasible: a pick among them breaks the limit on a CPU of its
  own), and those judged over that the truth finds feasible. Stopped trials stay over.

    .venv/bin/python benchmarks/contention.py --runs /tmp/p9d
    .venv/bin/python benchmarks/contention.py --micro --seconds 45
    .venv/bin/python benchmarks/contention.py --verdicts /tmp/p9d --limits 3,2.8,2.7,2.6
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _harness import finish, parser

_TRAINER = """
import sys, numpy as np
from sklearn.linear_model import SGDClassifier
rng = np.random.default_rng(1)
X = rng.normal(size=(5000, 120)); y = (X[:, 0] > 0).astype(int)
clf = SGDClassifier(loss="log_loss"); clf.partial_fit(X[:16], y[:16], classes=[0, 1])
b, i = int(sys.argv[1]), 0
while True:
    j = (i * b) % 4800; clf.partial_fit(X[j:j + b], y[j:j + b]); i += 1
"""


def _key(row: Any) -> tuple:
    return (row["model"], int(row["batch_size"]), float(row["learning_rate"]))


def runs(roots: list[Path]) -> dict[str, Any]:
    import pandas as pd

    per_run, trials = [], []
    for root in roots:
        truth = pd.read_csv(root / "truth" / "trials.csv")
        idle = {_key(r): float(r["train_time_s"]) for _, r in truth.iterrows()}
        for run in sorted(p for p in root.iterdir() if (p / "reports.parquet").exists()):
            if run.name == "truth":
                continue
            table = pd.read_csv(run / "trials.csv")
            last = pd.read_parquet(run / "reports.parquet").groupby("trial_id").last()
            if "cpu_waiting_share" not in last:
                continue
            rows = []
            for _, row in table.iterrows():
                ran_whole = row["status"] in ("feasible", "infeasible")
                if not ran_whole or row["trial_id"] not in last.index:
                    continue
                report = last.loc[row["trial_id"]]
                if not math.isfinite(report["cpu_waiting_share"]):
                    continue
                rows.append(
                    {
                        "inflation": float(report["train_time_cpu_s"]) / idle[_key(row)],
                        "waiting": float(report["cpu_waiting_share"]),
                        "switches": float(report["cpu_switches_per_s"]),
                        "slowdown": float(report["slowdown"]),
                    }
                )
            if rows:
                trials += rows
                per_run.append(
                    {"run": f"{root.name}/{run.name}", "trials": len(rows)}
                    | {k: statistics.median(r[k] for r in rows) for k in rows[0]}
                )
    inflation = [t["inflation"] for t in trials]
    correlation = {
        k: float(np.corrcoef(inflation, [t[k] for t in trials])[0, 1])
        for k in ("waiting", "switches", "slowdown")
    }
    return {"runs": per_run, "correlation_with_inflation": correlation}


# Contention factors per unit of waiting share the verdicts are judged with (0: as measured;
# 0.3: leantune's CONTENTION_ALLOWANCE, the most contention was seen to add).
VERDICT_FACTORS = (0.0, 0.2, 0.3)


def verdicts(roots: list[Path], limits: list[float]) -> list[dict[str, Any]]:
    import pandas as pd

    out = []
    for root in roots:
        truth = pd.read_csv(root / "truth" / "trials.csv")
        for run in sorted(p for p in root.iterdir() if (p / "reports.parquet").exists()):
            if run.name == "truth" or not run.name.startswith("leantune"):
                continue
            table = pd.read_csv(run / "trials.csv")
            reports = pd.read_parquet(run / "reports.parquet").sort_values("step")
            if "cpu_waiting_share" not in reports:
                continue
            waiting = reports.groupby("trial_id")["cpu_waiting_share"].last()
            whole = table[(table.status.isin(["feasible", "infeasible"]))]
            whole = whole[whole.steps_done >= whole.steps_planned]
            for limit in limits:
                feasible_truth = {_key(r) for _, r in truth.iterrows() if r.train_time_s <= limit}
                for factor in VERDICT_FACTORS:
                    judged = set()
                    for _, row in whole.iterrows():
                        share = float(waiting.get(row.trial_id, 0.0))
                        share = share if math.isfinite(share) else 0.0
                        if row.train_time_s / (1 + factor * share) <= limit:
                            judged.add(_key(row))
                    union = judged | feasible_truth
                    out.append(
                        {
                            "run": f"{root.name}/{run.name}",
                            "limit": limit,
                            "factor": factor,
                            "jaccard": len(judged & feasible_truth) / len(union) if union else 1,
                            "false_feasible": len(judged - feasible_truth),
                            "false_over": len(feasible_truth - judged),
                        }
                    )
    return out


def micro(seconds: float) -> dict[str, Any]:
    from sklearn.linear_model import SGDClassifier

    from leantune.metrics._probe import ContentionMeter

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 120))
    y = (X[:, 0] + rng.normal(size=5000) > 0).astype(int)
    model = SGDClassifier(loss="hinge", alpha=1e-4, learning_rate="constant", eta0=0.01)
    model.partial_fit(X[:16], y[:16], classes=[0, 1])
    results: dict[str, Any] = {}
    for others in (0, 2, 4, 0):
        trainers = [
            subprocess.Popen([sys.executable, "-c", _TRAINER, str(b)])
            for b in (16, 512, 32, 64)[:others]
        ]
        try:
            time.sleep(2 if others else 0)
            timings: dict[int, list[tuple[float, float]]] = {16: [], 512: []}
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                for batch, steps in ((16, 100), (512, 10)):
                    meter, started = ContentionMeter(), time.thread_time()
                    for i in range(steps):
                        j = (i * batch) % 4400
                        model.partial_fit(X[j : j + batch], y[j : j + batch])
                    spent = time.thread_time() - started
                    reading = meter.read()
                    timings[batch].append((spent, reading.waiting_share if reading else math.nan))
        finally:
            for trainer in trainers:
                trainer.kill()
                trainer.wait()
        label = (
            f"beside {others}" if others else ("alone" if "alone" not in results else "alone again")
        )
        results[label] = {
            batch: {
                "cpu_s": statistics.median(t for t, _ in got),
                "waiting": statistics.median(w for _, w in got),
                "timings": len(got),
            }
            for batch, got in timings.items()
        }
    base = {
        b: statistics.median([results["alone"][b]["cpu_s"], results["alone again"][b]["cpu_s"]])
        for b in (16, 512)
    }
    for got in results.values():
        for batch, cell in got.items():
            cell["inflation"] = cell["cpu_s"] / base[batch]
    return results


def main() -> int:
    options = parser(__doc__.split("\n\n")[0])
    options.add_argument("--runs", type=Path, nargs="*", default=[])
    options.add_argument("--micro", action="store_true")
    options.add_argument("--seconds", type=float, default=45.0)
    options.add_argument("--verdicts", type=Path, nargs="*", default=[])
    options.add_argument("--limits", default="3", help="train_time_s limits, comma-separated")
    args = options.parse_args()
    data: dict[str, Any] = {}
    lines = ["## Contention: what inflates a trial's CPU time", ""]
    if args.runs:
        data["runs"] = runs(args.runs)
        lines += [
            "| run | finished trials | CPU ÷ idle truth | waiting share | switches / CPU-s "
            "| probe slowdown |",
            "|---|---|---|---|---|---|",
        ]
        for r in data["runs"]["runs"]:
            lines.append(
                f"| {r['run']} | {r['trials']} | {r['inflation']:.3f} | {r['waiting']:.2f} "
                f"| {r['switches']:.0f} | {r['slowdown']:.2f} |"
            )
        corr = data["runs"]["correlation_with_inflation"]
        lines += [
            "",
            "Correlation with the inflation, over every finished trial: "
            + ", ".join(f"{k} {v:.2f}" for k, v in corr.items()),
            "",
        ]
    if args.verdicts:
        limits = [float(x) for x in args.limits.split(",")]
        data["verdicts"] = verdicts(args.verdicts, limits)
        lines += [
            "Each cell: min Jaccard over the runs / false feasible (max) / false over (max)",
            "",
            "| limit | " + " | ".join(f"k = {k:g}" for k in VERDICT_FACTORS) + " |",
            "|---|" + "---|" * len(VERDICT_FACTORS),
        ]
        for limit in limits:
            cells = []
            for factor in VERDICT_FACTORS:
                rows = [
                    r for r in data["verdicts"] if r["limit"] == limit and r["factor"] == factor
                ]
                cells.append(
                    f"{min(r['jaccard'] for r in rows):.3f} / "
                    f"{max(r['false_feasible'] for r in rows)} / "
                    f"{max(r['false_over'] for r in rows)}"
                    if rows
                    else "-"
                )
            lines.append(f"| {limit:g} s | " + " | ".join(cells) + " |")
        lines.append("")
    if args.micro:
        data["micro"] = micro(args.seconds)
        lines += ["| load | batch | CPU ÷ alone | waiting share |", "|---|---|---|---|"]
        for label, got in data["micro"].items():
            for batch, cell in got.items():
                lines.append(
                    f"| {label} | {batch} | {cell['inflation']:.3f} | {cell['waiting']:.2f} |"
                )
    print(json.dumps(data, indent=1, default=str)[:4000])
    finish(args, "\n".join(lines), data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
