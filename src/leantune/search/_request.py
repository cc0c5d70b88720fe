"""What a search is asked to do, built once from the prepared study, whatever backend runs it."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leantune.engine._faults import Fault
from leantune.engine._trial import TrainingPlan, TrialData
from leantune.metrics import Objective
from leantune.trials import LogUniform, ResumePoint, config_key

# Longest a report waits in its worker before it goes to the driver (batched); 0: at once.
FLUSH_SECONDS = 1.0


@dataclass(frozen=True)
class SearchRequest:
    name: str
    param_space: Mapping[str, Sequence[Any] | LogUniform]
    """Axis name → values (or a LogUniform range for random/tpe); grid: the cartesian product."""
    data: TrialData
    plan: TrainingPlan
    storage_dir: Path
    cpus_per_trial: int = 1
    max_concurrent: int | None = None
    ray_address: str | None = None
    method: str = "grid"
    """grid, random or tpe (Optuna's samplers)."""
    num_samples: int = 1
    """Configs to sample (random and tpe)."""
    mode: str = "max"
    """Whether a higher `objective` is better ("max") or a lower one ("min")."""
    objective: Objective | None = None
    """What TPE learns from, with `mode`: a metric's final value. None: the CV score."""
    seed: int = 0
    scheduler: Mapping[str, Any] | None = None
    """{"name": "asha", "grace_period": %, "reduction_factor": n}, or None."""
    enforce: bool = True
    """False: policies only observe. Trials run to the end; a broken limit makes them infeasible."""
    max_failures: int = 0
    """Retries of a trial that raised or whose worker died (N retries: at most N + 1 attempts)."""
    memory_limit_mb: float | None = None
    """Hard cap on a trial's private memory, enforced in its worker (MemoryCap); None: none."""
    resume: ResumePoint | None = None
    faults: tuple[Fault, ...] = ()
    """Test-only misbehaviour injected into chosen trials (leantune.engine._faults)."""
    flush_seconds: float = FLUSH_SECONDS
    """Longest a report waits in its worker before it goes to the driver (batched); 0: at once."""
    trial_order_seed: int | None = None
    """Grid only: run the configs in this seed's shuffled order, not the grid's (a run-order
    control: a reused worker's drift must not line up with an axis). None: grid order."""

    @property
    def planned_trials(self) -> int:
        """Trials of the whole study, earlier sessions included."""
        if self.method == "grid":
            # A grid's axes are lists (the spec refuses a sampled axis in a grid).
            return math.prod(
                len(axis) for axis in self.param_space.values() if not isinstance(axis, LogUniform)
            )
        return self.num_samples

    @property
    def session(self) -> int:
        return self.resume.session if self.resume else 0

    def grid_points(self) -> list[dict[str, Any]] | None:
        """The grid configs this session runs, in order, where they differ from the plain grid
        (a shuffled order, or a resume that leaves out what ended); None: the whole grid."""
        if self.method != "grid":
            return None
        if self.resume is not None:
            ended = [record.config for record in self.resume.ended]
            return without(grid_configs(self.param_space), ended)
        if self.trial_order_seed is not None:
            configs = grid_configs(self.param_space)
            random.Random(self.trial_order_seed).shuffle(configs)
            return configs
        return None

    def configs_to_run(self) -> int:
        """How many trials this session runs."""
        if self.method == "grid":
            points = self.grid_points()
            return self.planned_trials if points is None else len(points)
        done = len(self.resume.ended) if self.resume else 0
        return max(0, self.num_samples - done)

    def pending_samples(self) -> list[dict[str, Any]]:
        """Random/TPE on resume: the configs that were running, to be run again first."""
        if self.resume is None or self.method == "grid":
            return []
        return [dict(config) for _, config in self.resume.unfinished][: self.configs_to_run()]


def grid_configs(param_space: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, in the grid's order (the last axis fastest)."""
    for axis, values in param_space.items():
        if isinstance(values, LogUniform):
            raise ValueError(f"grid search needs discrete values for {axis}, not a range")
    axes, values = list(param_space), list(param_space.values())
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*values)]


def without(
    configs: list[dict[str, Any]], taken: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """`configs` less one occurrence of each config in `taken`."""
    left = Counter(config_key(config) for config in taken)
    kept = []
    for config in configs:
        key = config_key(config)
        if left[key]:
            left[key] -= 1
        else:
            kept.append(config)
    return kept
