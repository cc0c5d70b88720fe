"""`leantune study thesis`: the original study's setup as a preset, and its results chapter.

Five PMLB sets (mnist, kddcup, diabetes, 1191_BNG_pbc, 529_pollen); regression sets get the
linear model, classification sets logistic regression and a linear SVM; the thesis grid (batch
size 2^1..2^max, learning rate 10^-4..10^-1, alpha 10^-5..10^-3); a 70/30 split, 5-fold CV,
a report every 100 steps and one CPU per trial. The budget knobs shrink it to fit a machine,
and every output says what they changed. Layout:

    OUTPUT_DIR/
      thesis.json                  what was asked (the command), what ran, what was skipped
      <dataset>/                   a run directory, or with --compare-stopping a comparison
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

from rich.console import Console

from leantune.datasets import THESIS_DATASETS, pmlb_shape
from leantune.datasets._pmlb import cached_file, resolve_cache_dir
from leantune.errors import DatasetError, LeantuneError, SpecError
from leantune.results import THESIS_FILE
from leantune.spec import load_spec
from leantune.spec._model import BackendName

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
DEFAULT_MAX_TRAIN_SECONDS = 2.0
DEFAULT_MEMORY_MB = 1024.0


@dataclass(frozen=True)
class ThesisOptions:
    datasets: tuple[str, ...] = THESIS_DATASETS
    max_train_seconds: float = DEFAULT_MAX_TRAIN_SECONDS
    """The training-time limit every trial must meet (seconds, all folds)."""
    subsample: int | None = DEFAULT_SUBSAMPLE
    """Rows kept of a larger set (seeded, stratified); None or 0: every row."""
    folds: int = 5
    compare_stopping: bool = False
    synthetic_missing: bool = False
    memory_mb: float = DEFAULT_MEMORY_MB
    seed: int = 0
    cache_dir: Path | None = None
    output_dir: Path | None = None
    backend: str = "sklearn"
    """How models train (training.backend): sklearn's partial_fit, where batch size is an
    overhead axis, or minibatch, where it is a learning axis."""
    grid: dict[str, Any] = field(default_factory=lambda: dict(GRID))
    """The search space (Python only: tests shrink it). The command notes a changed grid."""

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
        if not (math.isfinite(self.max_train_seconds) and self.max_train_seconds > 0):
            problems.append(f"--train-time-s: must be a number > 0; got {self.max_train_seconds}")
        if self.subsample is not None and self.subsample < 0:
            problems.append(
                f"--subsample: must be a row count >= 0 (0: every row); got {self.subsample}"
            )
        if self.folds < 1:
            problems.append(f"--cv-folds: must be an integer >= 1; got {self.folds}")
        if self.backend not in get_args(BackendName):
            problems.append(
                f"--backend: must be one of {', '.join(get_args(BackendName))}; got {self.backend}"
            )
        if problems:
            raise LeantuneError(problems)

    @property
    def rows(self) -> int | None:
        return self.subsample or None

    def command(self, output_dir: Path) -> str:
        """The command that reruns exactly this, into `output_dir`."""
        parts = [
            "leantune",
            "study",
            "thesis",
            "--datasets",
            ",".join(self.datasets),
            "--train-time-s",
            f"{self.max_train_seconds:g}",
            "--subsample",
            str(self.subsample or 0),
            "--cv-folds",
            str(self.folds),
            "--seed",
            str(self.seed),
        ]
        if self.memory_mb != DEFAULT_MEMORY_MB:
            parts += ["--memory-mb", f"{self.memory_mb:g}"]
        if self.backend != "sklearn":
            parts += ["--backend", self.backend]
        if self.compare_stopping:
            parts.append("--compare-stopping")
        if self.synthetic_missing:
            parts.append("--synthetic-missing")
        cache = self.cache_dir or os.environ.get("LEANTUNE_PMLB_CACHE")
        if cache:
            parts += ["--cache-dir", str(cache)]
        parts += ["--output-dir", str(output_dir)]
        command = shlex.join(parts)
        if self.grid != GRID:
            command += f"  # with grid {json.dumps(self.grid)} (set from Python)"
        return command


@dataclass
class DatasetOutcome:
    name: str
    status: str
    """ran, skipped, or interrupted."""
    data: str = ""
    """real or synthetic."""
    task: str = ""
    models: list[str] = field(default_factory=list)
    dir: str = ""
    kind: str = ""
    """run, or comparison (--compare-stopping)."""
    reason: str = ""
    wall_time_s: float | None = None


@dataclass
class ThesisResult:
    output_dir: Path
    outcomes: list[DatasetOutcome]
    command: str
    chapter: list[Path]


def thesis_spec(
    name: str, task: str, options: ThesisOptions, output_dir: Path, *, synthetic: bool
) -> dict[str, Any]:
    """The study for one set: the thesis grid and protocol under the options' budgets."""
    if synthetic:
        dataset: dict[str, Any] = {"synthetic_like": name, "seed": options.seed}
    else:
        dataset = {"source": "pmlb", "name": name}
    if options.cache_dir is not None:
        dataset["cache_dir"] = str(options.cache_dir)
    if options.rows:
        dataset["subsample"] = {"rows": options.rows, "seed": options.seed}
    return {
        "name": f"thesis-{name}" + ("-synthetic" if synthetic else ""),
        "dataset": dataset,
        "model": MODELS[task],
        "search": {"method": "grid", "space": options.grid},
        "training": {
            "epochs": 1,
            "report_every": 100,
            "seed": options.seed,
            "backend": options.backend,
        },
        "validation": {"test_size": 0.3, "cv_folds": options.folds},
        "constraints": {"train_time_s": options.max_train_seconds, "memory_mb": options.memory_mb},
        "stopping": {"predictive": {"margin": 0.1}},
        "resources": {"cpus_per_trial": 1},
        "output": {"dir": str(output_dir / name)},
    }


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
    from leantune.report._chapter import write_chapter
    from leantune.study._compare import run_comparison
    from leantune.study._runner import StudyInterrupted, run_study

    console = console or Console(stderr=True)
    output_dir = thesis_output_dir(options)
    command = options.command(output_dir)
    cache = resolve_cache_dir(options.cache_dir)
    outcomes: list[DatasetOutcome] = []
    started = time.perf_counter()
    output_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]leantune thesis preset[/] → {output_dir}\n  {command}", highlight=False)

    def record() -> None:
        _write_thesis_file(output_dir, options, command, outcomes, time.perf_counter() - started)

    for name in options.datasets:
        shape = pmlb_shape(name, cache)
        if shape is None:
            outcomes.append(DatasetOutcome(name, "skipped", reason="its PMLB summary is unknown"))
            console.print(f"[yellow]{name}: skipped, its PMLB summary is unknown[/]")
            record()
            continue
        cached = cached_file(name, cache) is not None
        synthetic = False
        outcome = DatasetOutcome(name, "ran", task=shape.task, models=MODELS[shape.task])
        while True:
            spec = load_spec(
                thesis_spec(name, shape.task, options, output_dir, synthetic=synthetic)
            )
            set_started = time.perf_counter()
            try:
                if options.compare_stopping:
                    run_comparison(spec, console=console, show_progress=show_progress)
                else:
                    run_study(spec, console=console, show_progress=show_progress)
            except DatasetError as error:
                if cached or synthetic:
                    raise
                line = (
                    f"{name}: not available offline: no {cache / name / (name + '.tsv.gz')} and "
                    "no download"
                )
                if not options.synthetic_missing:
                    console.print(
                        f"[yellow]{line}; skipped. Place the PMLB file there, or pass "
                        "--synthetic-missing to run its labelled SYNTHETIC stand-in.[/]",
                        highlight=False,
                    )
                    outcome.status, outcome.reason = "skipped", f"{line} ({error.problems[0]})"
                    break
                console.print(
                    f"[bold yellow]{line}; running its SYNTHETIC stand-in "
                    "(--synthetic-missing): its scores say nothing about the real set.[/]",
                    highlight=False,
                )
                synthetic = True
                continue
            except (StudyInterrupted, KeyboardInterrupt):
                outcome.status = "interrupted"
                outcome.dir = name
                outcomes.append(outcome)
                record()
                raise
            outcome.data = "synthetic" if synthetic else "real"
            outcome.dir = name
            outcome.kind = "comparison" if options.compare_stopping else "run"
            outcome.wall_time_s = time.perf_counter() - set_started
            break
        outcomes.append(outcome)
        record()
    chapter = write_chapter(output_dir)
    record()
    return ThesisResult(output_dir, outcomes, command, [w.html for w in chapter])


def _write_thesis_file(
    output_dir: Path,
    options: ThesisOptions,
    command: str,
    outcomes: list[DatasetOutcome],
    wall_seconds: float,
) -> None:
    options_json = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()}
    (output_dir / THESIS_FILE).write_text(
        json.dumps(
            {
                "command": command,
                "options": options_json,
                "grid": options.grid,
                "protocol": {
                    "test_size": 0.3,
                    "cv_folds": options.folds,
                    "report_every": 100,
                    "cpus_per_trial": 1,
                    "epochs": 1,
                },
                "wall_time_s": wall_seconds,
                "datasets": [asdict(outcome) for outcome in outcomes],
            },
            indent=2,
        )
    )
