"""P2, orchestration overhead per trial: a leantune study of N short trials against the same
trainings run back to back in one process.

The study runs one trial at a time (max_concurrent 1), so its search takes N × (training +
overhead). Start-up is the time from `leantune.run` to the first trial's start (Ray, the MLflow
store, the data); overhead per trial is (first trial's start to last trial's end − back-to-back
wall)/N. What follows the search (refit of the pick, test score, report) is shown apart.
The same study without MLflow (a null tracker) tells what tracking costs. Goals: ≤ 0.15 s per
trial, ≤ 6 s start-up.

    .venv/bin/python benchmarks/orchestration.py                 # N = 32 and 128
    .venv/bin/python benchmarks/orchestration.py --profile DIR   # also a pyinstrument profile
    .venv/bin/python benchmarks/orchestration.py --smoke         # seconds
"""

from __future__ import annotations

import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from _harness import alternate, finish, parser, spread

GOAL_PER_TRIAL_S, GOAL_STARTUP_S = 0.15, 6.0


def _spec(n_trials: int, out_dir: Path) -> dict[str, Any]:
    rates = [float(f"{v:.6g}") for v in np.geomspace(1e-4, 1e-1, n_trials)]
    return {
        "name": f"orchestration-{n_trials}",
        "dataset": {"source": "sklearn", "name": "breast_cancer"},
        "model": "logistic",
        "search": {"space": {"batch_size": [128], "learning_rate": rates, "alpha": [1e-4]}},
        "training": {"epochs": 1, "report_every": 100, "seed": 0},
        "validation": {"test_size": 0.3, "cv_folds": 2},
        "resources": {"max_concurrent": 1},
        "output": {"dir": str(out_dir)},
    }


def _study(n_trials: int, tracked: bool) -> dict[str, float]:
    import leantune
    from leantune.tracking import NullTracker

    out = Path(tempfile.mkdtemp(prefix="bench-p2-")) / "run"
    started = time.time()
    result = leantune.run(
        _spec(n_trials, out), show_progress=False, tracker=None if tracked else NullTracker()
    )
    wall = time.time() - started
    first = min(record.started_at for record in result.records)
    last = max(record.ended_at or first for record in result.records)
    return {"wall": wall, "startup": first - started, "search": last - first}


def _record(arm: str, n_trials: int, store: dict[str, list[Any]]) -> float:
    if arm == "back":
        store[arm].append(_back_to_back(n_trials))
    else:
        store[arm].append(_study(n_trials, tracked=arm == "mlflow"))
    return 0.0


def _back_to_back(n_trials: int) -> float:
    from leantune import load_spec
    from leantune.engine import TrainingPlan, TrialData, train_trial
    from leantune.study import prepare_study

    spec = load_spec(_spec(n_trials, Path(tempfile.mkdtemp()) / "unused"))
    prepared = prepare_study(spec)
    data = prepared.dataset
    trial_data = TrialData(data.X, data.y, data.task, data.n_classes, prepared.splits.folds)
    plan = TrainingPlan(**spec.training.model_dump())
    started = time.perf_counter()
    for rate in prepared.param_space["learning_rate"]:
        config = {"model": "logistic", "batch_size": 128, "learning_rate": rate, "alpha": 1e-4}
        train_trial(config, trial_data, plan, lambda report: None)
    return time.perf_counter() - started


def main() -> None:
    options = parser(__doc__.split("\n\n")[0])
    options.add_argument("--profile", type=Path, help="write a pyinstrument profile here")
    args = options.parse_args()
    sizes = [32, 128]
    if args.smoke:
        sizes, args.repeats = [2], 1
    lines = [
        "## P2: orchestration overhead per trial",
        "",
        "A study of N short trials (breast_cancer, batch 128, 2 folds: ~4 steps a trial), one "
        "trial at a time, against the same trainings back to back in one process. Median "
        f"(min–max) of {args.repeats} alternating repetitions; each study starts its own Ray. "
        f"Goals: ≤ {GOAL_PER_TRIAL_S} s per trial, ≤ {GOAL_STARTUP_S:.0f} s start-up.",
        "",
        "| N | tracking | study wall, s | start-up, s | search, s | back to back, s "
        "| overhead per trial, s | after the search, s | goals |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    data: dict[str, Any] = {}
    for n_trials in sizes:
        arms = ("mlflow", "back") if args.smoke else ("mlflow", "none", "back")
        readings: dict[str, list[Any]] = {name: [] for name in arms}

        alternate({name: partial(_record, name, n_trials, readings) for name in arms}, args.repeats)
        back = statistics.median(readings["back"])
        for tracking in [arm for arm in arms if arm != "back"]:
            runs = readings[tracking]
            per_trial = [(r["search"] - back) / n_trials for r in runs]
            after = [r["wall"] - r["startup"] - r["search"] for r in runs]
            startup = [r["startup"] for r in runs]
            goals = (
                f"per trial {_verdict(per_trial, GOAL_PER_TRIAL_S)}, "
                f"start-up {_verdict(startup, GOAL_STARTUP_S)}"
            )
            lines.append(
                f"| {n_trials} | {'MLflow (sqlite)' if tracking == 'mlflow' else 'none'} | "
                f"{spread([r['wall'] for r in runs], 1)} | {spread(startup, 2)} | "
                f"{spread([r['search'] for r in runs], 1)} | {back:.2f} | "
                f"{spread(per_trial, 3)} | {spread(after, 1)} | {goals} |"
            )
        data[str(n_trials)] = readings
    if args.profile:
        lines += ["", _profile(max(sizes), args.profile)]
    finish(args, "\n".join(lines), data)


def _profile(n_trials: int, directory: Path) -> str:
    """Where the driver's time goes in one tracked study (the workers are other processes)."""
    from pyinstrument import Profiler

    directory.mkdir(parents=True, exist_ok=True)
    profiler = Profiler(interval=0.005)
    profiler.start()
    _study(n_trials, tracked=True)
    profiler.stop()
    path = directory / f"orchestration-{n_trials}.txt"
    path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    return f"Driver profile of one N={n_trials} study: `{path}` (pyinstrument)."


def _verdict(values: list[float], goal: float) -> str:
    return "met" if statistics.median(values) <= goal else "missed"


if __name__ == "__main__":
    main()
