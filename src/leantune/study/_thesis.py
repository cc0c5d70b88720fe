"""`leantune study thesis`: the original study's setup as a preset, and its results chapter.

Five PMLB sets (mnist, kddcup, diabetes, 1191_BNG_pbc, 529_pollen); regression sets get the
linear model, classification sets logistic regression and a linear SVM; the thesis grid (batch
size 2^1..2^max, learning rate 10^-4..10^-1, alpha 10^-5..10^-3); a 70/30 split, 5-fold CV,
a report every 100 steps and one CPU per trial. The budget knobs shrink it to fit a machine,
and every output says what they changed.

Limits are relative to each set by default: each repeat first runs the grid with stopping off
and measures each config's cost on the CPU clock; its limits are then the training (and step)
times that a given share of configs meet (quantiles of that distribution), so RQ2 is asked
where it matters on every set, whatever the machine. `--train-time-s` sets an absolute limit
instead. Each repeat (its own seed; repeats after the first run their trials in a seeded
shuffled order, RQ1's run-order control) runs the unstopped arm, then, with
--compare-stopping, one stopped arm per measured level.

Each set runs under every backend asked for (--backend sklearn,minibatch), each with its own
limits, repeats and curve. Batch size means two things: scikit-learn's partial_fit updates once
per sample, so under sklearn it is an overhead axis; minibatch updates once per batch, so there
it is a learning axis. Beside minibatch, sklearn runs as the *overhead arm* (--overhead-steps):
a fixed number of steps a fold at one learning rate and one alpha, which costs minutes where
its full grid on all of kddcup's rows would make 33 million calls of ~10 ms (days of CPU).
Before anything starts, the preset prints its plan with a rough cost (_thesis_plan). Layout
(<backend>/ only when more than one backend runs):

    OUTPUT_DIR/
      thesis.json                  what was asked (the command), the limits and how they were
                                   derived, what each backend's arm ran and what it reduced,
                                   what was skipped
      <dataset>/[<backend>/]repeat-<r>/unstopped/        a run directory: every trial to its end
      <dataset>/[<backend>/]repeat-<r>/stopped-<level>/  a run directory: the rules at that level
      results.html, results.md, results/   the results chapter
"""

from __future__ import annotations

import json
import math
import os
import shlex
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd
from rich.console import Console

from leantune.datasets import THESIS_DATASETS, pmlb_shape
from leantune.datasets._pmlb import cached_file, resolve_cache_dir
from leantune.errors import DatasetError, LeantuneError, SpecError
from leantune.metrics import METRICS
from leantune.results import REPEATS_LAYOUT, RunDir, ThesisIndex
from leantune.spec import load_spec
from leantune.spec._axis import parse_axis
from leantune.spec._model import BackendName
from leantune.trials import FEASIBLE, INFEASIBLE

GRID: dict[str, Any] = {
    "batch_size": {"pow2": [1, "max"]},
    "learning_rate": {"pow10": [-4, -1]},
    "alpha": {"pow10": [-5, -3]},
}
MODELS = {"classification": ["logistic", "svm"], "regression": ["linear"]}

# Default budgets: `--datasets diabetes,529_pollen,kddcup --compare-stopping` in well under 45
# minutes on 2 cores. kddcup's 23-class steps cost ~10 ms whatever the batch size, so its
# unstopped arm is what the subsample bounds (about 5 × 0.56 × rows steps per config sweep).
DEFAULT_SUBSAMPLE = 2000
DEFAULT_MEMORY_MB = 1024.0
DEFAULT_REPEATS = 3
CURVE_QUANTILES = (0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9)
"""Shares of configs that meet a limit: the levels RQ2's curve replays the constraint rule at."""
MEASURED_QUANTILES = (0.25, 0.5, 0.75)
"""The levels a stopped arm runs at (--compare-stopping): where replay is not exact."""
CLOCK = "cpu"
"""Limits are derived and judged on the CPU clock: another job on the machine moves wall time,
not the CPU time a trial's own thread spends."""
UNSTOPPED_DIR = "unstopped"
LEVEL_METRICS = ("train_time_s", "step_time_ms")
"""The costs a level sets a limit on (catalogue names); a stopped arm enforces the first."""
BACKENDS: tuple[str, ...] = get_args(BackendName)
OVERHEAD_STEPS = 10
"""Steps a fold of the sklearn overhead arm (beside minibatch, unless --overhead-steps says
otherwise). partial_fit's call costs ~12 ms plus ~5 µs a row on kddcup's shape, so 10 steps a
fold over every batch size 2..2^18, two models and 5 folds is ~5 CPU-minutes an arm, and 50
calls a config time a step well."""
OVERHEAD_WHY = (
    "scikit-learn's partial_fit updates once per sample, so batch size changes what a call "
    "costs, not what is learned; learning rate and alpha do not change a call's cost. So this "
    "arm times every batch size on a fixed number of steps a fold (training.max_steps) at one "
    "learning rate and one alpha. Its full grid at one epoch a fold would make 33 million "
    "partial_fit calls on all of kddcup's rows, at 10-13 ms each: days of CPU. A config reads "
    "steps × batch size rows a fold, so its score rises with the rows it read, not with the "
    "batch semantics."
)


def backends_from_text(text: str) -> tuple[str, ...]:
    """--backend's value: one backend, a comma-separated list, or `both`."""
    if text.strip() == "both":
        return BACKENDS
    return tuple(name.strip() for name in text.split(",") if name.strip())


@dataclass(frozen=True)
class ThesisOptions:
    datasets: tuple[str, ...] = THESIS_DATASETS
    max_train_seconds: float | None = None
    """An absolute training-time limit (seconds, all folds); None: limits relative to each set,
    at quantiles of its unstopped cost."""
    subsample: int | None = DEFAULT_SUBSAMPLE
    """Rows kept of a larger set (seeded, stratified); None or 0: every row."""
    folds: int = 5
    compare_stopping: bool = True
    """Run a stopped arm at each measured level (the predictive rule cannot be replayed)."""
    synthetic_missing: bool = False
    memory_mb: float = DEFAULT_MEMORY_MB
    seed: int = 0
    repeats: int = DEFAULT_REPEATS
    """Seeds per set (seed, seed + 1, ...); repeats after the first run in shuffled order."""
    cache_dir: Path | None = None
    output_dir: Path | None = None
    backends: tuple[str, ...] = ("sklearn",)
    """How models train (training.backend), each set under each: sklearn's partial_fit, where
    batch size is an overhead axis, and/or minibatch, where it is a learning axis."""
    overhead_steps: int | None = None
    """Under sklearn: N > 0 runs the overhead arm (N steps a fold, one learning rate, one
    alpha); 0 the full grid at one epoch a fold. None: OVERHEAD_STEPS beside minibatch, else 0."""
    grid: dict[str, Any] = field(default_factory=lambda: dict(GRID))
    """The search space (Python only: tests shrink it). The command notes a changed grid."""
    curve_quantiles: tuple[float, ...] = CURVE_QUANTILES
    measured_quantiles: tuple[float, ...] = MEASURED_QUANTILES
    """Python only, like the grid: tests measure fewer levels."""

    def __post_init__(self) -> None:
        problems = []
        unknown = [name for name in self.datasets if name not in THESIS_DATASETS]
        if unknown or not self.datasets:
            problems.append(
                f"--datasets: must be a comma-separated list of {', '.join(THESIS_DATASETS)}; "
                f"got {','.join(self.datasets) or 'nothing'}"
            )
        if len(set(self.datasets)) != len(self.datasets):
            problems.append(f"--datasets: names a set twice; got {','.join(self.datasets)}")
        if self.max_train_seconds is not None and not (
            math.isfinite(self.max_train_seconds) and self.max_train_seconds > 0
        ):
            problems.append(f"--train-time-s: must be a number > 0; got {self.max_train_seconds}")
        if self.subsample is not None and self.subsample < 0:
            problems.append(
                f"--subsample: must be a row count >= 0 (0: every row); got {self.subsample}"
            )
        if self.folds < 1:
            problems.append(f"--cv-folds: must be an integer >= 1; got {self.folds}")
        if self.repeats < 1:
            problems.append(f"--repeats: must be an integer >= 1; got {self.repeats}")
        if (
            not self.backends
            or not set(self.backends) <= set(BACKENDS)
            or len(set(self.backends)) != len(self.backends)
        ):
            problems.append(
                f"--backend: must be one of {', '.join(BACKENDS)}, a comma-separated list of "
                f"them without repeats, or both; got {','.join(self.backends) or 'nothing'}"
            )
        if self.overhead_steps is not None and self.overhead_steps < 0:
            problems.append(
                "--overhead-steps: must be a step count >= 0 (0: the full sklearn grid, one "
                f"epoch a fold); got {self.overhead_steps}"
            )
        for name in ("curve_quantiles", "measured_quantiles"):
            values = getattr(self, name)
            if not all(0 < q < 1 for q in values):
                problems.append(f"{name}: must be shares in (0, 1); got {list(values)}")
        if problems:
            raise LeantuneError(problems)

    @property
    def rows(self) -> int | None:
        return self.subsample or None

    @property
    def relative(self) -> bool:
        return self.max_train_seconds is None

    def max_steps(self, backend: str) -> int | None:
        """training.max_steps of this backend's studies: the overhead arm's steps a fold, or
        None (one epoch a fold, the thesis protocol)."""
        if backend != "sklearn":
            return None
        steps = self.overhead_steps
        if steps is None:
            steps = OVERHEAD_STEPS if len(self.backends) > 1 else 0
        return steps or None

    def arm(self, backend: str) -> dict[str, Any]:
        """What this backend's studies run: the grid, the steps, and what was reduced and why."""
        steps = self.max_steps(backend)
        if steps is None:
            return {"backend": backend, "kind": "full", "grid": self.grid, "max_steps": None}
        return {
            "backend": backend,
            "kind": "overhead",
            "grid": overhead_grid(self.grid),
            "max_steps": steps,
            "reduced": {
                "steps": f"{steps} steps a fold (training.max_steps) instead of one epoch",
                "grid": "one learning rate and one alpha (the middle of each axis) instead of "
                "every one; every batch size and model kept",
            },
            "why": OVERHEAD_WHY,
        }

    def set_dir(self, name: str, backend: str) -> str:
        """A set's folder for one backend: <set>, or <set>/<backend> when several run."""
        return name if len(self.backends) == 1 else f"{name}/{backend}"

    def command(self, output_dir: Path) -> str:
        """The command that reruns exactly this, into `output_dir`."""
        parts = ["leantune", "study", "thesis", "--datasets", ",".join(self.datasets)]
        if self.max_train_seconds is not None:
            parts += ["--train-time-s", f"{self.max_train_seconds:g}"]
        parts += [
            "--subsample",
            str(self.subsample or 0),
            "--cv-folds",
            str(self.folds),
            "--seed",
            str(self.seed),
            "--repeats",
            str(self.repeats),
        ]
        if self.memory_mb != DEFAULT_MEMORY_MB:
            parts += ["--memory-mb", f"{self.memory_mb:g}"]
        if self.backends != ("sklearn",):
            parts += ["--backend", ",".join(self.backends)]
        if self.overhead_steps is not None:
            parts += ["--overhead-steps", str(self.overhead_steps)]
        if not self.compare_stopping:
            parts.append("--no-compare-stopping")
        if self.synthetic_missing:
            parts.append("--synthetic-missing")
        cache = self.cache_dir or os.environ.get("LEANTUNE_PMLB_CACHE")
        if cache:
            parts += ["--cache-dir", str(cache)]
        parts += ["--output-dir", str(output_dir)]
        command = shlex.join(parts)
        changed = {
            name: list(getattr(self, name))
            for name, default in (
                ("curve_quantiles", CURVE_QUANTILES),
                ("measured_quantiles", MEASURED_QUANTILES),
            )
            if tuple(getattr(self, name)) != default
        }
        if self.grid != GRID:
            changed = {"grid": self.grid, **changed}
        if changed:
            command += f"  # with {json.dumps(changed)} (set from Python)"
        return command


@dataclass
class DatasetOutcome:
    name: str
    status: str
    """ran, skipped, or interrupted."""
    backend: str = "sklearn"
    arm: dict[str, Any] = field(default_factory=dict)
    """What this backend's studies ran (ThesisOptions.arm): full, or the overhead arm with what
    it reduced and why."""
    data: str = ""
    """real or synthetic."""
    task: str = ""
    models: list[str] = field(default_factory=list)
    dir: str = ""
    kind: str = ""
    """repeats (this layout: <dir>/repeat-<r>/...)."""
    reason: str = ""
    wall_time_s: float | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    """The levels, and how they were derived."""
    repeats: list[dict[str, Any]] = field(default_factory=list)
    """Per repeat: index, seed, order, the unstopped run and the stopped run per level."""


@dataclass
class ThesisResult:
    output_dir: Path
    outcomes: list[DatasetOutcome]
    command: str
    chapter: list[Path]


def thesis_spec(
    name: str,
    task: str,
    options: ThesisOptions,
    output_dir: Path,
    *,
    synthetic: bool,
    seed: int | None = None,
    run_dir: Path | None = None,
    train_time_s: float | None = None,
    stopping: bool = True,
    report: bool = True,
    backend: str | None = None,
) -> dict[str, Any]:
    """The study for one set: the thesis grid and protocol under the options' budgets.

    `seed`: the repeat's (default the options'); `run_dir`: where it goes (default
    OUTPUT_DIR/<name>); `train_time_s`: the limit of this arm (default the options' absolute
    one, if any); `stopping`: False for the unstopped arm; `backend`: default the first asked
    for (the sklearn overhead arm gets its steps a fold and its reduced grid)."""
    seed = options.seed if seed is None else seed
    backend = backend or options.backends[0]
    arm = options.arm(backend)
    if synthetic:
        dataset: dict[str, Any] = {"synthetic_like": name, "seed": seed}
    else:
        dataset = {"source": "pmlb", "name": name}
    if options.cache_dir is not None:
        dataset["cache_dir"] = str(options.cache_dir)
    if options.rows:
        dataset["subsample"] = {"rows": options.rows, "seed": seed}
    limit = options.max_train_seconds if train_time_s is None else train_time_s
    constraints: dict[str, Any] = {"memory_mb": options.memory_mb, "clock": CLOCK}
    if limit is not None:
        constraints["train_time_s"] = limit
    length = {"max_steps": arm["max_steps"]} if arm["max_steps"] else {"epochs": 1}
    return {
        "name": f"thesis-{name}"
        + ("-synthetic" if synthetic else "")
        + (f"-{backend}" if len(options.backends) > 1 else ""),
        "dataset": dataset,
        "model": MODELS[task],
        "search": {"method": "grid", "space": arm["grid"]},
        "training": {**length, "report_every": 100, "seed": seed, "backend": backend},
        "validation": {"test_size": 0.3, "cv_folds": options.folds},
        "constraints": constraints,
        "stopping": {"predictive": {"margin": 0.1}} if stopping else {"enabled": False},
        "resources": {"cpus_per_trial": 1},
        "output": {"dir": str(run_dir or output_dir / name), "report": report},
    }


def overhead_grid(grid: dict[str, Any]) -> dict[str, Any]:
    """The grid of the overhead arm: every batch size, and the middle value of each other axis
    (upper middle of an even count: learning rate 10^-2, alpha 10^-4 on the thesis grid)."""
    reduced = {}
    for name, axis in grid.items():
        if name == "batch_size":
            reduced[name] = axis
            continue
        values = parse_axis(axis, name).resolve(2)
        reduced[name] = [values[len(values) // 2]]
    return reduced


def level_name(quantile: float) -> str:
    return f"q{round(100 * quantile):02d}"


def derive_levels(
    trials: pd.DataFrame, quantiles: tuple[float, ...], absolute_train_time_s: float | None = None
) -> list[dict[str, Any]]:
    """The limit levels of one set, from its unstopped run's trials: at each quantile q, the
    training time and the step time (CPU clock) that a share q of the configs meet. With an
    absolute limit, a level `fixed` at it too, with the share of configs that meet it."""
    ran = trials[trials["status"].isin((FEASIBLE, INFEASIBLE))]
    costs = {
        metric: pd.to_numeric(ran[METRICS[metric].on_clock(CLOCK)], errors="coerce").dropna()
        for metric in LEVEL_METRICS
        if METRICS[metric].on_clock(CLOCK) in ran
    }
    levels = []
    for quantile in sorted(quantiles):
        level: dict[str, Any] = {"name": level_name(quantile), "quantile": quantile}
        for metric, values in costs.items():
            level[metric] = float(np.quantile(values, quantile)) if len(values) else None
            level[f"share_meeting_{metric}"] = (
                float(np.mean(values <= level[metric])) if len(values) else None
            )
        levels.append(level)
    if absolute_train_time_s is not None:
        values = costs.get("train_time_s", pd.Series(dtype=float))
        share = float(np.mean(values <= absolute_train_time_s)) if len(values) else math.nan
        levels.append(
            {
                "name": "fixed",
                "quantile": share,
                "train_time_s": absolute_train_time_s,
                "share_meeting_train_time_s": share,
                "step_time_ms": None,
            }
        )
    return levels


def thesis_output_dir(options: ThesisOptions) -> Path:
    if options.output_dir is None:
        return Path("runs") / f"thesis-{time.strftime('%Y%m%d-%H%M%S')}"
    directory = options.output_dir.expanduser()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise SpecError(
            f"--output-dir: {str(directory)!r} already exists and is not an empty directory; "
            "choose a new one, so no earlier result is overwritten"
        )
    return directory


def run_thesis(
    options: ThesisOptions, *, console: Console | None = None, show_progress: bool = True
) -> ThesisResult:
    """Run the preset set by set, then write the results chapter. A set that cannot be loaded
    offline is skipped with a line that says why (or run as its synthetic stand-in)."""
    from leantune.engine import start_ray, stop_ray
    from leantune.report._thesis_chapter import write_chapter

    console = console or Console(stderr=True)
    output_dir = thesis_output_dir(options)
    command = options.command(output_dir)
    cache = resolve_cache_dir(options.cache_dir)
    outcomes: list[DatasetOutcome] = []
    started = time.perf_counter()
    output_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]leantune thesis preset[/] → {output_dir}\n  {command}", highlight=False)
    plan = _print_plan(options, cache, console)

    def record() -> None:
        _write_thesis_file(
            output_dir, options, command, outcomes, time.perf_counter() - started, plan
        )

    # One Ray for every arm of every set: each study would otherwise start and stop its own.
    started_ray = start_ray(None)
    try:
        for name in options.datasets:
            shape = pmlb_shape(name, cache)
            skipped = "its PMLB summary is unknown" if shape is None else ""
            if skipped:
                console.print(f"[yellow]{name}: skipped, {skipped}[/]")
            for backend in options.backends:
                arm = options.arm(backend)
                if skipped:
                    # A set the first backend could not load, the others cannot either.
                    outcomes.append(DatasetOutcome(name, "skipped", backend, arm, reason=skipped))
                    record()
                    continue
                outcome = DatasetOutcome(
                    name, "ran", backend, arm, task=shape.task, models=MODELS[shape.task]
                )
                outcomes.append(outcome)
                _run_set(
                    outcome,
                    options,
                    output_dir,
                    cache_has_file=cached_file(name, cache) is not None,
                    cache=cache,
                    console=console,
                    show_progress=show_progress,
                    record=record,
                )
                record()
                if outcome.status == "skipped":
                    skipped = outcome.reason
    finally:
        if started_ray:
            stop_ray()
    chapter = write_chapter(output_dir)
    record()
    return ThesisResult(output_dir, outcomes, command, [w.html for w in chapter])


def _run_set(
    outcome: DatasetOutcome,
    options: ThesisOptions,
    output_dir: Path,
    *,
    cache_has_file: bool,
    cache: Path,
    console: Console,
    show_progress: bool,
    record: Any,
) -> None:
    """Every repeat of one set under one backend: the unstopped arm, its levels, the stopped
    arms."""
    from leantune.study._runner import StudyInterrupted, run_study

    name, backend = outcome.name, outcome.backend
    who = name if len(options.backends) == 1 else f"{name} ({backend})"
    synthetic = False
    set_started = time.perf_counter()
    outcome.dir, outcome.kind = options.set_dir(name, backend), "repeats"

    def arm_spec(directory: Path, seed: int, synthetic: bool, **arm: Any) -> dict[str, Any]:
        """One arm's study of this set and backend, into OUTPUT_DIR/`directory`."""
        return thesis_spec(
            name,
            outcome.task,
            options,
            output_dir,
            synthetic=synthetic,
            seed=seed,
            run_dir=output_dir / directory,
            backend=backend,
            **arm,
        )

    try:
        for index in range(options.repeats):
            seed = options.seed + index
            # The first repeat keeps the grid's order; the others shuffle it (seeded): an RQ1
            # effect that is really the order trials ran in does not survive them.
            order_seed = None if index == 0 else seed
            base = Path(outcome.dir) / f"repeat-{index}"
            entry: dict[str, Any] = {
                "index": index,
                "seed": seed,
                "order": "grid" if order_seed is None else f"shuffled (seed {order_seed})",
                "trial_order_seed": order_seed,
                "unstopped": str(base / UNSTOPPED_DIR),
                "stopped": {},
            }
            outcome.repeats.append(entry)
            console.print(
                f"[bold]{who}[/], repeat {index + 1} of {options.repeats} (seed {seed}, "
                f"{entry['order']} order): without stopping",
                highlight=False,
            )

            while True:
                spec = arm_spec(
                    base / UNSTOPPED_DIR, seed, synthetic, stopping=False, report=index == 0
                )
                if options.max_train_seconds is not None:
                    del spec["constraints"]["train_time_s"]  # levels are judged by replay
                try:
                    run_study(
                        load_spec(spec),
                        console=console,
                        show_progress=show_progress,
                        trial_order_seed=order_seed,
                    )
                except DatasetError as error:
                    if cache_has_file or synthetic:
                        raise
                    line = (
                        f"{name}: not available offline: no "
                        f"{cache / name / (name + '.tsv.gz')} and no download"
                    )
                    if not options.synthetic_missing:
                        console.print(
                            f"[yellow]{line}; skipped. Place the PMLB file there, or pass "
                            "--synthetic-missing to run its labelled SYNTHETIC stand-in.[/]",
                            highlight=False,
                        )
                        outcome.status, outcome.reason = "skipped", f"{line} ({error.problems[0]})"
                        outcome.dir, outcome.kind, outcome.repeats = "", "", []
                        return
                    console.print(
                        f"[bold yellow]{line}; running its SYNTHETIC stand-in "
                        "(--synthetic-missing): its scores say nothing about the real set.[/]",
                        highlight=False,
                    )
                    synthetic = True
                    continue
                break
            outcome.data = "synthetic" if synthetic else "real"
            # Each repeat's levels come from its own unstopped arm: a level then sits at the
            # same share of configs in every repeat, whatever the machine's load did to CPU time
            # between repeats (beside a CPU hog it rose by a third or more on 2 cores).
            limits = _limits(options, output_dir / base / UNSTOPPED_DIR)
            entry["levels"] = limits["levels"]
            if index == 0:
                outcome.limits = limits
            record()
            if not options.compare_stopping:
                continue
            for level in limits["levels"]:
                if level["name"] not in limits["measured"]:
                    continue
                directory = base / f"stopped-{level['name']}"
                console.print(
                    f"[bold]{who}[/], repeat {index + 1}: with stopping at {level['name']} "
                    f"(training time ≤ {level['train_time_s']:.3g} s on the CPU clock)",
                    highlight=False,
                )
                run_study(
                    load_spec(
                        arm_spec(
                            directory,
                            seed,
                            synthetic,
                            train_time_s=level["train_time_s"],
                            report=False,
                        )
                    ),
                    console=console,
                    show_progress=show_progress,
                    trial_order_seed=order_seed,
                )
                entry["stopped"][level["name"]] = str(directory)
                record()
    except (StudyInterrupted, KeyboardInterrupt):
        outcome.status = "interrupted"
        record()
        raise
    finally:
        outcome.wall_time_s = time.perf_counter() - set_started


def _print_plan(options: ThesisOptions, cache: Path, console: Console) -> dict[str, Any]:
    """Say what each set and backend will train and roughly cost, before anything starts."""
    from leantune.study._thesis_plan import COST_NOTE, arms_a_repeat, duration, plan_arm

    arms = arms_a_repeat(options)
    plans = [
        plan_arm(options, shape, backend)
        for shape in (pmlb_shape(name, cache) for name in options.datasets)
        if shape is not None
        for backend in options.backends
    ]
    total = sum(plan.cpu_s for plan in plans) * arms * options.repeats
    console.print(
        f"Plan ({COST_NOTE}):\n"
        + "".join(f"  {plan.line(arms, options.repeats)}\n" for plan in plans)
        + f"  in all ≤ {duration(total)} of CPU (stopped arms cost less than this bound)",
        highlight=False,
    )
    return {
        "note": COST_NOTE,
        "arms_a_repeat": arms,
        "cpu_s_at_most": total,
        "sets": [asdict(plan) for plan in plans],
    }


def _limits(options: ThesisOptions, unstopped_dir: Path) -> dict[str, Any]:
    trials = RunDir(unstopped_dir).read_trials()
    levels = derive_levels(trials, options.curve_quantiles, options.max_train_seconds)
    if options.relative:
        measured = [level_name(q) for q in sorted(options.measured_quantiles)]
        how = (
            "relative: quantiles of each repeat's own unstopped cost distribution (every config "
            f"ran to its end), {len(trials)} configs, {CLOCK.upper()} clock; a level at q is the "
            "training time (and the average step time) that a share q of the configs meet"
        )
    else:
        measured = ["fixed"]
        how = (
            f"absolute: training time ≤ {options.max_train_seconds:g} s (--train-time-s), on "
            f"the {CLOCK.upper()} clock; the quantile levels beside it are replayed only"
        )
    # Measured levels a stopped arm runs at; the rest are replayed from the unstopped arms.
    return {
        "clock": CLOCK,
        "mode": "relative" if options.relative else "absolute",
        "derived_from": how,
        "levels": levels,
        "measured": [name for name in measured if any(lv["name"] == name for lv in levels)],
        "enforced_in_stopped_arms": ["train_time_s", "memory_mb"],
        "memory_mb": options.memory_mb,
    }


def _write_thesis_file(
    output_dir: Path,
    options: ThesisOptions,
    command: str,
    outcomes: list[DatasetOutcome],
    wall_seconds: float,
    plan: dict[str, Any],
) -> None:
    options_json = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()}
    RunDir(output_dir).write_thesis(
        ThesisIndex.model_validate(
            {
                "layout": REPEATS_LAYOUT,
                "command": command,
                "options": options_json,
                "grid": options.grid,
                "backends": list(options.backends),
                "arms": {backend: options.arm(backend) for backend in options.backends},
                "protocol": {
                    "test_size": 0.3,
                    "cv_folds": options.folds,
                    "report_every": 100,
                    "cpus_per_trial": 1,
                    "epochs": 1,
                    "clock": CLOCK,
                    "repeats": options.repeats,
                },
                "wall_time_s": wall_seconds,
                "plan_estimate": plan,
                "datasets": [asdict(outcome) for outcome in outcomes],
            }
        )
    )
