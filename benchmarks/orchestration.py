"""P2, orchestration overhead per trial: a leantune study of N short trials against the same
trainings run back to back in one process.

The study runs one trial at a time (max_concurrent 1), so its search takes N × (training +
overhead). Start-up is the time from `leantune.run` to the first trial's start (Ray, the MLflow
store, the data); overhead per trial is (first trial's start to last trial's end − back-to-back
wall)/N. What follows the search (refit of the pick, test score, report) is shown apart.
The same study without MLflow (a null tracker) tells what tracking costs. Goals: ≤ 0.15 s per
trial, ≤ 6 s start-up.

The iteration cycle, each arm a fresh process as a user starts it, side by side: a 1-config
study's whole `leantune run` against a bare Ray Tune script of one similar trial (goal ≤ 1.2),
`leantune validate` against importing the libraries (goal ≤ 0.5), and the driver's CPU per trial
of the quickstart (goal ≤ 0.03 s).

    .venv/bin/python benchmarks/orchestration.py                 # N = 32 and 128
    .venv/bin/python benchmarks/orchestration.py --profile DIR   # also a pyinstrument profile
    .venv/bin/python benchmarks/orchestration.py --smoke         # seconds
    .venv/bin/python benchmarks/orchestration.py --sizes 32 --repeats 3   # a shorter run
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from _harness import REPO, alternate, finish, parser, spread

GOAL_PER_TRIAL_S, GOAL_STARTUP_S = 0.15, 6.0
GOAL_RUN_RATIO, GOAL_VALIDATE_RATIO, GOAL_DRIVER_CPU_S = 1.2, 0.5, 0.03
GOAL_JOINED_RATIO = 0.6
BIN = Path(sys.executable).parent


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
    options.add_argument("--sizes", default="32,128", help="study sizes N (default 32,128)")
    args = options.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
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
    cycle_lines, data["cycle"] = _cycle(args.repeats, smoke=args.smoke)
    lines += ["", *cycle_lines]
    if args.profile:
        lines += ["", _profile(max(sizes), args.profile)]
    finish(args, "\n".join(lines), data)


# One trial of the same model on the same data, as a user would write it with Ray Tune alone.
_BARE_TUNE = textwrap.dedent(
    """
    import os
    import numpy as np
    import ray
    from ray import tune
    from sklearn.datasets import load_iris
    from sklearn.linear_model import SGDClassifier

    def trainable(config):
        X, y = load_iris(return_X_y=True)
        model = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=config["lr"])
        model.partial_fit(X, y, classes=np.unique(y))
        tune.report({"accuracy": model.score(X, y)})

    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False,
             log_to_driver=False)
    tune.Tuner(trainable, param_space={"lr": 0.01},
               run_config=tune.RunConfig(storage_path=os.environ["STORAGE"], verbose=0)).fit()
    ray.shutdown()
    """
)
_ONE_CONFIG = textwrap.dedent(
    """
    name: one-config
    dataset: {source: sklearn, name: iris}
    model: logistic
    search: {space: {batch_size: [16], learning_rate: [0.01], alpha: [0.0001]}}
    training: {epochs: 1, report_every: 100}
    validation: {cv_folds: 2}
    output: {report: false}
    """
)


def _cycle(repeats: int, smoke: bool) -> tuple[list[str], dict[str, Any]]:
    """The iteration cycle: whole commands in fresh processes, as a user meets them."""
    work = Path(tempfile.mkdtemp(prefix="bench-p2-cycle-"))
    study = work / "one.yaml"
    study.write_text(_ONE_CONFIG)
    runs = iter(range(10**6))

    def process(*command: str, **env: str) -> float:
        started = time.perf_counter()
        subprocess.run(
            command, cwd=work, check=True, capture_output=True, env={**os.environ, **env}
        )
        return time.perf_counter() - started

    driver: dict[str, list[dict[str, float]]] = {"run": [], "joined": [], "quickstart": []}
    leantune = str(BIN / "leantune")
    # The joined arm's own cache holds the state of a `leantune ray start` Ray; the other arms'
    # studies never see it, so they start their own.
    joined = {"XDG_CACHE_HOME": str(work / "joined-cache")}

    def study_run(arm: str, path: Path, *overrides: str, **env: str) -> float:
        out = work / f"{arm}-{next(runs)}"
        wall = process(
            leantune, "run", "-q", str(path), "--set", f"output.dir={out}", *overrides, **env
        )
        summary = json.loads((out / "summary.json").read_text())
        driver[arm].append({"cpu": summary["driver_cpu_s"], "trials": summary["trials"]})
        return wall

    smaller = ["--set", "search.space.batch_size=[128]"] if smoke else []
    arms = {
        "run": lambda: study_run("run", study),
        "joined": lambda: study_run("joined", study, **joined),
        "bare": lambda: process(
            sys.executable, "-c", _BARE_TUNE, STORAGE=str(work / f"bare-{next(runs)}")
        ),
        "validate": lambda: process(str(BIN / "leantune"), "validate", str(study)),
        "imports": lambda: process(
            sys.executable, "-c", "import ray, ray.tune, mlflow, sklearn, pandas"
        ),
        "quickstart": lambda: study_run(
            "quickstart",
            REPO / "examples/quickstart.yaml",
            "--set",
            "output.report=false",
            *smaller,
        ),
    }
    process(leantune, "ray", "start", **joined)
    try:
        study_run("joined", study, **joined)  # makes its cache's MLflow template: not timed
        driver["joined"].clear()
        readings = alternate(arms, repeats)
    finally:
        process(leantune, "ray", "stop", **joined)
    # Each ratio pairs the readings of one repetition, taken minutes apart at most.
    run_ratio = [r / b for r, b in zip(readings["run"], readings["bare"], strict=True)]
    joined_ratio = [j / b for j, b in zip(readings["joined"], readings["bare"], strict=True)]
    validate_ratio = [v / i for v, i in zip(readings["validate"], readings["imports"], strict=True)]
    # The quickstart's driver CPU a trial, with and without what any study spends once
    # (imports, Ray's start, the store): the 1-config study of the same repetition tells that.
    per_trial = [q["cpu"] / q["trials"] for q in driver["quickstart"]]
    marginal = [
        (q["cpu"] - one["cpu"]) / (q["trials"] - one["trials"])
        for q, one in zip(driver["quickstart"], driver["run"], strict=True)
    ]
    lines = [
        "### P2b: the iteration cycle",
        "",
        "Whole commands, each in a fresh process as a user types it, arms alternating; median "
        f"(min–max) of {repeats} repetitions, a ratio per repetition. The 1-config study is "
        "iris, logistic, 2 folds, `output.report: false`; the bare script is `ray.init`, a "
        "`Tuner.fit` of one trial of one `partial_fit` on iris, `ray.shutdown`.",
        "",
        "| what | wall, s | against | wall, s | ratio | goal |",
        "| --- | ---: | --- | ---: | ---: | --- |",
        f"| `leantune run` of the 1-config study | {spread(readings['run'], 2)} "
        f"| bare Ray Tune script | {spread(readings['bare'], 2)} | {spread(run_ratio, 2)} "
        f"| ≤ {GOAL_RUN_RATIO}: {_verdict(run_ratio, GOAL_RUN_RATIO)} |",
        f"| the same, joining the Ray of `leantune ray start` | {spread(readings['joined'], 2)} "
        f"| bare Ray Tune script | {spread(readings['bare'], 2)} | {spread(joined_ratio, 2)} "
        f"| ≤ {GOAL_JOINED_RATIO}: {_verdict(joined_ratio, GOAL_JOINED_RATIO)} |",
        f"| `leantune validate` of it | {spread(readings['validate'], 2)} "
        f"| `import ray, ray.tune, mlflow, sklearn, pandas` | {spread(readings['imports'], 2)} "
        f"| {spread(validate_ratio, 2)} "
        f"| ≤ {GOAL_VALIDATE_RATIO}: {_verdict(validate_ratio, GOAL_VALIDATE_RATIO)} |",
        "",
        f"Driver CPU per trial of the quickstart (`leantune run examples/quickstart.yaml`, "
        f"report off, {driver['quickstart'][0]['trials']} trials, "
        f"{spread(readings['quickstart'], 1)} s wall): the summary's `driver_cpu_s` ÷ trials, "
        f"what every study spends once included: {spread(per_trial, 3)} s; without it (minus "
        f"the 1-config study's driver CPU, {spread([r['cpu'] for r in driver['run']], 2)} s, "
        f"÷ the trials more): {spread(marginal, 3)} s. Goal ≤ {GOAL_DRIVER_CPU_S} s: "
        f"{_verdict(per_trial, GOAL_DRIVER_CPU_S)} with, {_verdict(marginal, GOAL_DRIVER_CPU_S)} "
        "without.",
    ]
    return lines, {"readings": readings, "driver": driver}


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
