"""P8, scale: many short trials on one machine, by backend.

A random search of N configs whose trials each cost a few to a hundred milliseconds, run as a
user runs it (`leantune run`, MLflow on, in a fresh process), on each search backend: Ray Tune
(one Tune trial per config), the pool on Ray (`ray-pool`: the same workers as Ray actors; on the
Ray of `leantune ray start` where one runs), the process pool (long-lived workers pulling
configs) and in process; beside it, the same trainings in Optuna's own in-process loop
(`study.optimize`, no measurement kept, the ceiling a single-process user sees). For each:
trials per second of the search, the driver's CPU per trial and as a share of the trials' CPU,
how busy the cores were in trials, and the driver's peak memory.

    .venv/bin/python benchmarks/scale.py                       # N = 100 and 300, 2 sizes
    .venv/bin/python benchmarks/scale.py --sizes 1000 --repeats 1
    .venv/bin/python benchmarks/scale.py --smoke
    .venv/bin/python benchmarks/scale.py --sizes 1000 --trials 10ms --beside-study

`--beside-study`: another leantune study (the quickstart example, `leantune run` after
`leantune run`) runs the whole time, as on a machine a second user shares.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from _harness import REPO, finish, markdown_table, parser, spread

BIN = Path(sys.executable).parent
# Trial sizes: (label, batch size, epochs) on breast_cancer, 2 folds, logistic. A '10ms'
# trial costs ~10 ms of CPU (9–11 ms in Optuna's loop here), a 'tiny' one ~5 ms.
SIZES = {"tiny": (128, 1), "10ms": (16, 1), "small": (4, 1)}
BACKENDS = ("ray", "ray-pool", "processes", "in-process")


def _spec(n: int, size: str, backend: str, out: Path) -> dict[str, Any]:
    batch, epochs = SIZES[size]
    return {
        "name": f"scale-{backend}-{n}",
        "dataset": {"source": "sklearn", "name": "breast_cancer"},
        "model": "logistic",
        "search": {
            "method": "random",
            "num_samples": n,
            "space": {"batch_size": [batch], "learning_rate": {"log": [1e-4, 0.1]}},
        },
        "training": {"epochs": epochs, "report_every": 100, "seed": 0},
        "validation": {"test_size": 0.3, "cv_folds": 2},
        "resources": {"backend": backend},
        "output": {"dir": str(out), "report": False},
    }


def _leantune(n: int, size: str, backend: str) -> dict[str, float]:
    """One study in a fresh process; its summary's times and the driver's peak memory."""
    import yaml

    work = Path(tempfile.mkdtemp(prefix="p8-"))
    study = work / "study.yaml"
    study.write_text(yaml.safe_dump(_spec(n, size, backend, work / "run")))
    process = subprocess.Popen(
        [str(BIN / "leantune"), "run", str(study)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    samples = _rss_samples(process)
    if process.returncode != 0:
        raise RuntimeError(f"leantune run failed ({process.returncode}) for {backend} N={n}")
    summary = json.loads((work / "run" / "summary.json").read_text())
    ledger = json.loads((work / "run" / "ledger.json").read_text())
    wall = _search_wall(work / "run")
    ends = _trial_ends(work / "run")
    return {
        "trials_per_s": n / wall,
        "trial_cpu_s": summary["trial_cpu_s"] / n,
        "driver_cpu_per_trial_s": summary["driver_cpu_s"] / n,
        "driver_share": summary["driver_cpu_s"] / max(summary["trial_cpu_s"], 1e-9),
        "cores_busy": ledger["spent_cpu_s"] / (wall * (os.cpu_count() or 1)),
        "driver_peak_mb": max(rss for _, rss in samples),
        # While the search runs, from the end of its first tenth of trials to its last trial's
        # end, per 10,000 trials: what a flat driver keeps near 0.
        "driver_growth_mb_per_10k": (_rss_at(samples, ends[-1]) - _rss_at(samples, ends[n // 10]))
        * 10_000
        / max(1, n - n // 10),
    }


def _trial_ends(run_dir: Path) -> list[float]:
    import pandas as pd

    trials = pd.read_parquet(run_dir / "trials.parquet")
    return sorted(stamp.timestamp() for stamp in trials.ended_at)


def _rss_at(samples: list[tuple[float, float]], when: float) -> float:
    """The last reading taken at or before `when`."""
    return max((rss for at, rss in samples if at <= when), default=samples[0][1])


def _search_wall(run_dir: Path) -> float:
    """First trial's start to last trial's end: the search, without start-up and refit."""
    import pandas as pd

    trials = pd.read_parquet(run_dir / "trials.parquet")
    return (trials.ended_at.max() - trials.started_at.min()).total_seconds()


def _rss_samples(process: subprocess.Popen) -> list[tuple[float, float]]:
    """(time, resident MB) of the driver while it runs, every 0.1 s."""
    samples = [(time.time(), 0.0)]
    handle = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            samples.append((time.time(), handle.memory_info().rss / 2**20))
        except psutil.Error:
            break
        time.sleep(0.1)
    process.wait()
    return samples


def _optuna(n: int, size: str) -> dict[str, float]:
    """The same trainings in Optuna's study.optimize, in this process: no reports kept."""
    import optuna

    from leantune.engine import TrainingPlan, TrialData, train_trial
    from leantune.spec import load_spec
    from leantune.study import prepare_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="p8-optuna-"))
    prepared = prepare_study(load_spec(_spec(n, size, "in-process", work / "run")))
    data = TrialData(
        prepared.dataset.X,
        prepared.dataset.y,
        prepared.dataset.task,
        prepared.dataset.n_classes,
        prepared.splits.folds,
    )
    batch, epochs = SIZES[size]
    plan = TrainingPlan(epochs=epochs, report_every=100)

    def objective(trial: Any) -> float:
        config = {
            "model": "logistic",
            "batch_size": batch,
            "learning_rate": trial.suggest_float("learning_rate", 1e-4, 0.1, log=True),
            "alpha": 1e-4,
        }
        outcome = train_trial(config, data, plan, lambda report: None)
        return float(outcome.last_report.get("cv_score_mean", 0.0))

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    cpu, started = time.process_time(), time.perf_counter()
    peak = [0.0]
    stop = threading.Event()

    def watch() -> None:
        me = psutil.Process()
        while not stop.wait(0.1):
            peak[0] = max(peak[0], me.memory_info().rss / 2**20)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    study.optimize(objective, n_trials=n)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    stop.set()
    return {
        "trials_per_s": n / wall,
        "trial_cpu_s": cpu / n,
        "driver_cpu_per_trial_s": 0.0,
        "driver_share": 0.0,
        "cores_busy": cpu / (wall * (os.cpu_count() or 1)),
        "driver_peak_mb": peak[0],
        "driver_growth_mb_per_10k": float("nan"),
    }


@contextlib.contextmanager
def _beside_study(wanted: bool) -> Iterator[None]:
    """While the block runs, another study runs beside it, one `leantune run` after another."""
    if not wanted:
        yield
        return
    stop = threading.Event()
    work = Path(tempfile.mkdtemp(prefix="p8-beside-"))
    spec = REPO / "examples" / "quickstart.yaml"

    def loop() -> None:
        runs = 0
        while not stop.is_set():
            runs += 1
            subprocess.run(
                [
                    str(BIN / "leantune"),
                    "run",
                    str(spec),
                    "-q",
                    "--set",
                    f"output.dir={work / f'run{runs}'}",
                ],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    beside = threading.Thread(target=loop, daemon=True)
    beside.start()
    time.sleep(5)  # under way (its imports and store) before the first arm
    try:
        yield
    finally:
        stop.set()
        beside.join()


def main() -> None:
    options = parser(__doc__.split("\n\n")[0])
    options.add_argument("--sizes", default="100,300", help="trial counts (default 100,300)")
    options.add_argument(
        "--backends",
        default=",".join((*BACKENDS, "optuna")),
        help="arms to run (default: every backend and optuna)",
    )
    options.add_argument(
        "--trials", default=",".join(SIZES), help=f"trial sizes ({','.join(SIZES)})"
    )
    options.add_argument(
        "--beside-study",
        action="store_true",
        help="run another leantune study (examples/quickstart.yaml, in a loop) the whole time",
    )
    args = options.parse_args()
    counts = [20] if args.smoke else [int(v) for v in args.sizes.split(",")]
    repeats = 1 if args.smoke else args.repeats
    trial_sizes = ["tiny"] if args.smoke else args.trials.split(",")
    chosen = args.backends.split(",")
    load = os.getloadavg()[0]
    rows, data = [], {}
    with _beside_study(args.beside_study):
        _measure(trial_sizes, counts, repeats, chosen, rows, data)
    _report(args, rows, data, repeats, load)


def _measure(
    trial_sizes: list[str],
    counts: list[int],
    repeats: int,
    chosen: list[str],
    rows: list[list[Any]],
    data: dict[str, Any],
) -> None:
    for size in trial_sizes:
        for n in counts:
            arms = {
                backend: []
                for backend in (*BACKENDS, "optuna (in process)")
                if backend.split()[0] in chosen
            }
            for repetition in range(repeats):
                order = list(arms)[repetition % len(arms) :] + list(arms)[: repetition % len(arms)]
                for arm in order:
                    load_before = os.getloadavg()[0]
                    run = _optuna(n, size) if arm.startswith("optuna") else _leantune(n, size, arm)
                    run["load"] = (load_before, os.getloadavg()[0])
                    arms[arm].append(run)
            for arm, runs in arms.items():
                data[f"{size}-{n}-{arm}"] = runs

                def column(key: str, digits: int = 3, runs: list = runs) -> str:
                    return spread([r[key] for r in runs], digits)

                rows.append(
                    [
                        size,
                        n,
                        arm,
                        column("trial_cpu_s", 4),
                        column("trials_per_s", 1),
                        column("driver_cpu_per_trial_s", 4),
                        column("driver_share", 2),
                        column("cores_busy", 2),
                        column("driver_peak_mb", 0),
                        column("driver_growth_mb_per_10k", 0),
                        " / ".join(f"{a:.1f}→{b:.1f}" for a, b in (r["load"] for r in runs)),
                    ]
                )


def _report(
    args: Any, rows: list[list[Any]], data: dict[str, Any], repeats: int, load: float
) -> None:
    import pandas as pd

    table = pd.DataFrame(
        rows,
        columns=[
            "trials",
            "N",
            "backend",
            "CPU-s a trial",
            "trials/s",
            "driver CPU-s a trial",
            "driver ÷ trial CPU",
            "cores busy in trials",
            "driver peak MB",
            "driver MB growth per 10,000 trials",
            "load (start→end of each run)",
        ],
    )
    section = "\n".join(
        [
            "## P8: scale, many short trials by backend",
            "",
            f"Random search of N configs of logistic regression on breast_cancer (2 folds); "
            f"'tiny' trials are batch 128, '10ms' batch 16, 'small' batch 4, 1 epoch. "
            f"Each arm a fresh "
            f"`leantune run` with MLflow on (Optuna: the same trainings in `study.optimize`, "
            f"in this process, nothing recorded). Median (min–max) of {repeats} "
            f"repetition(s), arms rotating; load average {load:.1f} when it started "
            f"({os.cpu_count()} cores)"
            + (
                "; another leantune study (examples/quickstart.yaml) ran beside it throughout."
                if args.beside_study
                else "."
            ),
            "",
            *markdown_table(table),
        ]
    )
    finish(args, section, data)


if __name__ == "__main__":
    main()
