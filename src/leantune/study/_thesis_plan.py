"""What a thesis preset will cost, said before it starts: per set and backend, the configs, the
steps they train, and a rough CPU time from per-step costs measured on one machine.

The cost model is BENCHMARKS.md P5's: a partial_fit call costs a fixed ~0.5 ms per one-vs-rest
output plus a per-row cost; a minibatch step ~1 µs plus a per-row cost (~0.19 µs a kddcup row,
from the all-rows kddcup run of 2026-12-02: 235 CPU-s of trials for its 432 configs); a report
about a millisecond (the trial's and the driver's share); a trial's start and fold-end scoring
~0.15 s and a study's start, summary and report ~8 s (the last two from `--datasets diabetes
--subsample 0 --backend sklearn,minibatch --repeats 1`, 2 min of wall time on 2 cores). It is an
estimate, labelled as one: a loaded machine, another CPU or numba's first compile move it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from leantune.datasets._catalog import DatasetShape
from leantune.spec._axis import parse_axis


class ThesisOptions(Protocol):
    """What a plan reads of the preset's options (study/_thesis.py's `ThesisOptions`)."""

    @property
    def rows(self) -> int | None: ...

    @property
    def folds(self) -> int: ...

    @property
    def relative(self) -> bool: ...

    @property
    def measured_quantiles(self) -> tuple[float, ...]: ...

    @property
    def compare_stopping(self) -> bool: ...

    def arm(self, backend: str) -> dict[str, Any]: ...


COST_NOTE = (
    "rough CPU time of each arm from per-step costs measured on one machine (BENCHMARKS.md P5), "
    "an estimate; numba's first compile and a loaded machine add to it"
)
TEST_SIZE = 0.3
REPORT_EVERY = 100
REPORT_US = 1_000.0
TRIAL_US = 150_000.0
STUDY_S = 8.0


def _step_us(backend: str, batch: float, features: int, outputs: int) -> float:
    """Rough CPU µs of one training step (P5, kddcup's and diabetes' shapes)."""
    if backend == "sklearn":
        return 600.0 + 500.0 * outputs + (0.1 + 0.004 * features) * outputs * batch
    return 1.0 + (0.04 + (0.003 + 0.0001 * features) * outputs) * batch


@dataclass(frozen=True)
class ArmPlan:
    """One set under one backend: what one unstopped arm trains, and its rough CPU time."""

    dataset: str
    backend: str
    arm: str
    configs: int
    folds: int
    steps: int
    """Steps of every config over every fold."""
    cpu_s: float
    """Rough CPU-seconds of one unstopped arm."""

    def line(self, arms_a_repeat: int, repeats: int) -> str:
        return (
            f"{self.dataset} ({self.backend}, {self.arm}): {self.configs:,} configs × "
            f"{self.folds} folds, {self.steps:,} steps; an unstopped arm ≈ "
            f"{duration(self.cpu_s)} CPU, the {arms_a_repeat} arm(s) × {repeats} repeat(s) "
            f"≤ {duration(self.cpu_s * arms_a_repeat * repeats)}"
        )


def duration(seconds: float) -> str:
    """Seconds for a plan line: s, min or h."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def plan_arm(options: ThesisOptions, shape: DatasetShape, backend: str) -> ArmPlan:
    rows = min(shape.rows, options.rows or shape.rows)
    train = rows - math.ceil(rows * TEST_SIZE)
    fold = train * (options.folds - 1) / options.folds if options.folds > 1 else train * 0.8
    arm: dict[str, Any] = options.arm(backend)
    values = {name: parse_axis(axis, name).resolve(int(fold)) for name, axis in arm["grid"].items()}
    others = math.prod(len(v) for name, v in values.items() if name != "batch_size")
    models = 2 if shape.task == "classification" else 1
    outputs = shape.classes if shape.task == "classification" and (shape.classes or 0) > 2 else 1
    steps, cpu_us = 0, 0.0
    for batch in values["batch_size"]:
        per_fold = arm["max_steps"] or math.ceil(fold / batch)
        rows_a_step = fold / math.ceil(fold / batch) if batch < fold else fold
        config_steps = per_fold * options.folds
        steps += config_steps
        cpu_us += (
            config_steps * _step_us(backend, rows_a_step, shape.features, outputs)
            + (config_steps / REPORT_EVERY + options.folds) * REPORT_US
            + TRIAL_US
        )
    configs = len(values["batch_size"]) * others * models
    kind = "overhead arm" if arm["kind"] == "overhead" else "full grid"
    return ArmPlan(
        shape.name,
        backend,
        kind,
        configs,
        options.folds,
        steps * others * models,
        cpu_us * others * models / 1e6 + STUDY_S,
    )


def arms_a_repeat(options: ThesisOptions) -> int:
    """The unstopped arm, and a stopped arm per measured level (at most as costly)."""
    measured = len(options.measured_quantiles) if options.relative else 1
    return 1 + (measured if options.compare_stopping else 0)
