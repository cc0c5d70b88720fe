"""A training function of the user's (`leantune.run(spec, trainable=train)`): the degenerate
model adapter, where `train(config, data, session)` drives the steps and the trial loop only
measures, scores and reports them."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from leantune.datasets import Fold


class Diverged(Exception):
    """Training produced non-finite values; the trial ends with status `diverged`."""


class FoldRun(Protocol):
    """What a training function's session needs of the trial running it (engine/_trial.py's
    trial run): its data and plan, where it is, and the one way to send a window's report."""

    data: Any
    plan: Any
    model: Any
    config: Any
    classes: np.ndarray | None
    batch_size: int
    fold_index: int
    step: int
    estimator: Any

    def report_window(
        self,
        fold: Fold,
        fold_step: int,
        fold_steps: int,
        window: tuple[float, float],
        losses: list[float],
    ) -> None: ...


@dataclass(frozen=True)
class FoldData:
    """What a training function trains on: one fold, its features already standardized with
    the fold's own training statistics (as every model in a study sees them)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    task: str
    classes: np.ndarray | None
    """Class codes 0..K-1 (classification); y holds these codes."""
    batch_size: int
    steps: int
    """The steps planned for this fold (epochs or training.max_steps): the study's budget."""
    seed: int
    fold: int
    _order: Any = None

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """`steps` batches in leantune's seeded order (reshuffled each epoch if the study
        shuffles): the same rows, in the same order, a built-in model would see."""
        rng, n = self._order
        position, order = n, np.arange(n)
        for _ in range(self.steps):
            if position >= n:
                order, position = (rng.permutation(n) if rng is not None else np.arange(n)), 0
            rows = order[position : position + self.batch_size]
            position += self.batch_size
            yield self.X_train[rows], self.y_train[rows]


class TrainingSession:
    """The training function's line to leantune: `step(loss, model)` once a step. It reports
    every `training.report_every` steps (system metrics, validation scores of `model`) and
    returns True once the fold's planned steps are done. A stop decided by leantune (a limit,
    a forecast, divergence) ends the trial from outside, at a report."""

    def __init__(self, run: FoldRun, fold: Fold, steps: int):
        self._run, self._fold, self.steps = run, fold, steps
        self.fold_step = 0
        self._losses: list[float] = []
        self._wall = self._cpu = 0.0
        self._due = False
        self._last, self._last_cpu = time.perf_counter(), time.thread_time()

    @property
    def done(self) -> bool:
        """The fold's planned steps are done."""
        return self.fold_step >= self.steps

    def step(self, loss: float, model: Any) -> bool:
        """Record one step: its training loss and the model after it. Returns `done`."""
        now, now_cpu = time.perf_counter(), time.thread_time()
        if self.done:
            return True  # steps past the plan are the function's own, not the study's
        if self._due:
            # A window's report goes out at the next step, so the function's return can
            # always close the fold with a report of its own.
            self._send(self.steps)
            now, now_cpu = time.perf_counter(), time.thread_time()
            self._last, self._last_cpu = now, now_cpu
        self._wall += now - self._last
        self._cpu += now_cpu - self._last_cpu
        self.fold_step += 1
        self._losses.append(float(loss))
        self._run.estimator = model
        if not math.isfinite(float(loss)):
            raise Diverged(f"training loss is {loss} at step {self._run.step + len(self._losses)}")
        self._due = self.fold_step % self._run.plan.report_every == 0
        if self.done:
            self._send(self.steps)
        self._last, self._last_cpu = time.perf_counter(), time.thread_time()
        return self.done

    def finish(self) -> None:
        """The function returned: close the fold at the steps it made."""
        if self.fold_step == 0:
            raise ValueError("the training function returned without a single session.step")
        if self._losses:
            self._send(self.fold_step)

    def _send(self, fold_steps: int) -> None:
        self._run.report_window(
            self._fold, self.fold_step, fold_steps, (self._wall, self._cpu), self._losses
        )
        self._losses, self._wall, self._cpu, self._due = [], 0.0, 0.0, False


def train_fold_by_function(run: FoldRun, fold: Fold, rng: np.random.Generator, steps: int) -> None:
    """Hand the fold to the user's function, and close it when the function returns."""
    X, y, plan = run.data.X, run.data.y, run.plan
    inv_scale = 1.0 / fold.scale
    n = len(fold.train_idx)
    data = FoldData(
        X_train=(X[fold.train_idx] - fold.mean) * inv_scale,
        y_train=y[fold.train_idx],
        X_val=(X[fold.val_idx] - fold.mean) * inv_scale,
        y_val=y[fold.val_idx],
        task=run.data.task,
        classes=run.classes,
        batch_size=run.batch_size,
        steps=steps,
        seed=plan.seed,
        fold=run.fold_index,
        _order=(rng if plan.shuffle else None, n),
    )
    session = TrainingSession(run, fold, steps)
    model = run.model.function(dict(run.config), data, session)
    if model is not None:
        run.estimator = model
    session.finish()
