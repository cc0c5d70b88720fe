"""P8, the driver: what the study's cost model costs a report, arm against arm.

The cost model sees every report on the driver (`CostModel.observe`), and the predictive rule
asks it for a running trial's forecast at each one (`forecast_train_time`). A fast study's
trials end every few milliseconds, each bringing a new final to the calibrations. This feeds
a synthetic study of 3,000 short trials (six reports each, two models, three batch sizes,
seeded) through both calls, as the driver does, and times it on the process's CPU clock.

Each arm is a source tree of leantune (`git worktree add /tmp/before <commit>`), run in a
fresh process with this virtual environment; arms alternate.

    .venv/bin/python benchmarks/cost_model.py --arm before=/tmp/before/src --arm after=src \\
        --repeats 5
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

import pandas as pd

from _harness import finish, markdown_table, parser, spread

_STUDY = """
import random, sys, time
from leantune.stoppers import CostModel, TrialHistory
rng = random.Random(0)
def trial(step_s, planned=120):
    out, spent, before = [], 0.0, 0
    for step in (5, 10, 20, 50, 100, 120):
        spent += (step - before) * step_s * rng.lognormvariate(0, 0.05)
        before = step
        out.append({"step": step, "steps_planned": planned, "train_time_s": spent,
                    "window_step_time_ms": 1e3 * step_s, "step_time_ms": 1e3 * step_s,
                    "inference_latency_ms": 0.05 * rng.lognormvariate(0, 0.1),
                    "model_size_kb": 3.2, "memory_rise_mb": 0.1, "cpu_waiting_share": 0.02,
                    "early_report": step < 100})
    return out
trials = [({"model": rng.choice(["logistic", "svm"]), "batch_size": rng.choice([16, 32, 64]),
            "learning_rate": rng.random(), "alpha": 1e-4},
           trial(1e-4 * rng.lognormvariate(0, 0.1))) for _ in range(int(sys.argv[1]))]
model, reports = CostModel(), 0
started = time.process_time()
for config, rows in trials:
    for i in range(1, len(rows) + 1):
        model.observe(TrialHistory(rows[:i], config))
        model.forecast_train_time(rows[i - 1], config)
        reports += 1
print(1e6 * (time.process_time() - started) / reports)
"""


def _run(source: str, trials: int) -> float:
    environment = {**os.environ, "PYTHONPATH": source}
    out = subprocess.run(
        [sys.executable, "-c", _STUDY, str(trials)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def main() -> None:
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--arm", action="append", default=[], help="NAME=SOURCE_DIR")
    options.add_argument("--trials", type=int, default=3000)
    args = options.parse_args()
    arms = dict(arm.split("=", 1) for arm in args.arm) or {"this": "src"}
    repeats = 1 if args.smoke else args.repeats
    trials = 200 if args.smoke else args.trials
    names = list(arms)
    readings: dict[str, list[float]] = {name: [] for name in names}
    loads = [os.getloadavg()[0]]
    for repetition in range(repeats):
        shift = repetition % len(names)
        for name in names[shift:] + names[:shift]:
            readings[name].append(_run(arms[name], trials))
            loads.append(os.getloadavg()[0])
    first = statistics.median(readings[names[0]])
    frame = pd.DataFrame(
        [
            {
                "arm": name,
                "µs a report": spread(runs, 0),
                "ms a trial (6 reports)": spread([6e-3 * r for r in runs], 2),
                f"÷ {names[0]}": f"{statistics.median(runs) / first:.2f}",
            }
            for name, runs in readings.items()
        ]
    )
    section = "\n".join(
        [
            f"### The cost model's work a report ({trials:,} short trials, {repeats} runs an arm)",
            "",
            *markdown_table(frame),
            "",
            f"Load average {min(loads):.1f}–{max(loads):.1f} over the runs.",
        ]
    )
    finish(args, section, {"readings": readings, "loads": loads})


if __name__ == "__main__":
    main()
