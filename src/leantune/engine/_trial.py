"""The trial loop: one config trained fold after fold, a mini-batch step at a time (scikit-learn
`partial_fit`), or a report window at a time (the compiled minibatch backend).

It knows nothing of Ray or MLflow: it calls `report(dict)` every `report_every` steps and at the
end of each fold. The same loop refits the chosen config on the driver, so what is scored on the
test part is trained exactly as it was tuned.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from leantune.datasets import Fold
from leantune.engine._faults import ActiveFault, Fault, select_fault
from leantune.engine._memory_cap import MemoryCap
from leantune.engine._session import Diverged, train_fold_by_function
from leantune.metrics import Clock, SystemSampler, Targets, score_metric
from leantune.models import get_adapter
from leantune.trials import (  # statuses, re-exported from here too
    CV_SCORE_MEAN,
    CV_SCORE_STD,
    DIVERGED,
    FAILED,
    FINISHED,
    FOLD_FINISHED,
    PROGRESS_PCT,
    STEPS_PLANNED,
    STOPPED,
)

Report = Callable[[dict[str, Any]], None]

# The phase of a report sent before the first step (TrainingPlan.announce_start).
START_PHASE = "start"


@dataclass(frozen=True)
class TrialData:
    """What every trial reads: the one shared feature matrix and index-only folds."""

    X: np.ndarray
    y: np.ndarray
    task: str
    n_classes: int | None
    folds: Sequence[Fold]

    @property
    def targets(self) -> Targets:
        outputs = 1 if self.task == "regression" or self.n_classes == 2 else int(self.n_classes)
        return Targets(self.task, outputs)


@dataclass(frozen=True)
class TrainingPlan:
    epochs: int = 1
    max_steps: int | None = None
    report_every: int = 100
    first_reports: tuple[int, ...] = ()
    """Extra reports in the trial's first fold, at these steps (those below `report_every`), so
    the first evidence of a config's cost arrives after a few steps, not a whole window: a
    clearly infeasible config is then stopped within a small fraction of its limit."""
    seed: int = 0
    shuffle: bool = True
    log_every_step: bool = False
    report_rows: int | None = 4096
    """Validation rows (a fixed seeded sample) behind the metrics of reports inside a fold;
    the report at a fold's end uses every validation row. None: every row every time."""
    clock: Clock = "cpu"
    """The clock the plain time names (train_time_s, step_time_ms, ...) carry; both are kept."""
    announce_start: bool = False
    """Send a report before the first step (`trial_phase: start`, with the steps planned and
    the worker's memory baseline), so the driver can skip the config before it trains."""
    backend: str = "sklearn"
    """sklearn: one partial_fit call a step. minibatch: one compiled call a report window."""
    estimators: tuple[Any, ...] = ()
    """The study's by-path models (leantune.models.EstimatorModel), found by config["model"]."""

    def steps_per_fold(self, n_rows: int, batch_size: int) -> int:
        if self.max_steps is not None:
            return self.max_steps
        return self.epochs * math.ceil(n_rows / batch_size)

    def steps_planned(self, folds: Sequence[Fold], batch_size: int) -> int:
        return sum(self.steps_per_fold(len(fold.train_idx), batch_size) for fold in folds)


@dataclass
class TrialOutcome:
    status: str
    estimator: Any = None
    fold_scores: list[float] = field(default_factory=list)
    last_report: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    retryable: bool = False
    """A failure another attempt might not repeat (an exception), as opposed to divergence or
    a hit memory cap, which the same config would meet again."""


# Rows of the validation part used to time predict() at each report: enough to amortize the
# call, few enough to cost far less than a window of steps, and at most ~0.5 MB so that the
# instrument does not show up in the memory it measures.
LATENCY_ROWS, LATENCY_BYTES = 256, 2**19
# Timed predict() calls per reading, as timeit repeats: their median is the reading. One call
# gave 1.1 µs per sample with spikes to 10-45 µs on a shared machine.
LATENCY_REPEATS = 5
# After the first reading, a report times one more call only once this much training (thread
# CPU seconds) has passed since the last: a linear model's predict costs the same whatever its
# weights, so more frequent readings only buy noise, and on the minibatch backend one predict
# (~0.3 ms) cost a fifth of a 100-step window at batch 64.
LATENCY_EVERY_TRAIN_S = 0.25
# Fewest validation rows a minibatch report inside a fold scores (see _in_fold_rows).
MIN_REPORT_ROWS = 256


def latency_rows(features: int) -> int:
    """Rows each latency reading predicts on, for a model of `features` inputs."""
    return max(16, min(LATENCY_ROWS, LATENCY_BYTES // (8 * features)))


class StopTraining(Exception):
    """Raised by a `report` callable to end the trial at once: the report it was handed, which
    says why, is the trial's last (a stopping rule run in the worker)."""


# The process's native thread pools, and how many modules were imported when they were found.
_thread_pools: tuple[int, ThreadpoolController] | None = None


def thread_pools() -> ThreadpoolController:
    """The native thread pools (BLAS, OpenMP) loaded in this process. Finding them scans every
    loaded library (~3 ms, a tenth of a short minibatch trial); a reused worker runs hundreds of
    trials, so the scan is redone only when a module was imported since the last one (a new
    native library comes with a new module)."""
    global _thread_pools
    if _thread_pools is None or _thread_pools[0] != len(sys.modules):
        controller = ThreadpoolController()  # may import modules itself: count after it
        _thread_pools = (len(sys.modules), controller)
    return _thread_pools[1]


def load_trial_libraries(plan: TrainingPlan) -> None:
    """Load what a process's first trial of `plan` would load first: scikit-learn, and the
    minibatch backend's compiled kernels. A pool's worker calls it while it waits for its first
    config (the driver is still opening the store, ~1–2 s), so that config trains at once
    instead of after a second of imports. One that cannot load is left to the trial, which
    then fails with the import's own error."""
    with contextlib.suppress(ImportError):
        import sklearn.linear_model  # noqa: F401

        if plan.backend == "minibatch":
            import leantune.models._minibatch  # noqa: F401


def train_trial(
    config: Mapping[str, Any],
    data: TrialData,
    plan: TrainingPlan,
    report: Report,
    *,
    cpus: int = 1,
    memory_limit_mb: float | None = None,
    faults: tuple[Fault, ...] = (),
) -> TrialOutcome:
    """Train one config on every fold, reporting as it goes. Never raises for a bad config:
    divergence and errors end the trial with a status and a final report.

    `memory_limit_mb` caps the memory the trial may add to its process (see MemoryCap);
    `faults` are test-only misbehaviour (see leantune.engine._faults).
    """
    # The built-in models load scikit-learn on first use, so that `leantune validate` never
    # does. A trial loads it first: before the thread limits (they cover the libraries loaded
    # by then, its OpenMP among them) and before the memory baseline (it adds ~60 MB).
    import sklearn.linear_model  # noqa: F401

    # Native thread pools get the trial's own CPUs only, so trials side by side stay honest.
    # Entered first: setting the limits is set-up, not training time.
    with thread_pools().limit(limits=cpus):
        fault = select_fault(faults, config)
        try:
            return _train(config, data, plan, report, memory_limit_mb, fault)
        finally:
            if fault is not None:
                fault.release()


def _train(
    config: Mapping[str, Any],
    data: TrialData,
    plan: TrainingPlan,
    report: Report,
    memory_limit_mb: float | None,
    fault: ActiveFault | None,
) -> TrialOutcome:
    try:
        if fault is not None:
            fault.at_step(0)
        run = _TrialRun(config, data, plan, report, fault)
    except Exception as error:  # a config the loop cannot even set up
        message = f"{type(error).__name__}: {error}"
        report({"step": 0, "trial_status": FAILED, "error": message})
        return TrialOutcome(status=FAILED, error=message, retryable=True)
    if plan.announce_start:
        # Synchronous: the driver decides on it before this thread trains a single step.
        report(
            {
                "step": 0,
                "trial_phase": START_PHASE,
                STEPS_PLANNED: run.steps_planned,
                **run.sampler.sample(),
            }
        )
    cap = MemoryCap(memory_limit_mb, run.sampler.baseline_memory_mb)
    try:
        with cap:
            for fold_index, fold in enumerate(data.folds):
                run.train_fold(fold_index, fold)
    except StopTraining:
        return run.stopped()
    except MemoryError:
        # The cap is lifted again here (the `with` has exited), so the closing report has room.
        if fault is not None:
            fault.release()
        return run.finish(FAILED, cap.describe_hit(run.step))
    except Diverged as error:
        return run.finish(DIVERGED, f"diverged: {error}")
    except ValueError as error:
        # scikit-learn raises ValueError on floating-point overflow: that is divergence.
        if "overflow" in str(error).lower() or "infinity" in str(error).lower():
            return run.finish(DIVERGED, f"diverged: {error}")
        return run.finish(FAILED, f"{type(error).__name__}: {error}", retryable=True)
    except Exception as error:
        return run.finish(FAILED, f"{type(error).__name__}: {error}", retryable=True)
    return run.finish(FINISHED)


class _TrialRun:
    def __init__(
        self,
        config: Mapping[str, Any],
        data: TrialData,
        plan: TrainingPlan,
        report: Report,
        fault: ActiveFault | None = None,
    ):
        self.config = config
        self.fault = fault
        self.data = data
        self.plan = plan
        self.report = report
        self.model = get_adapter(
            config["model"], plan.backend, {model.name: model for model in plan.estimators}
        )
        self.batch_size = int(config["batch_size"])
        self.targets = data.targets
        self.classes = np.arange(data.n_classes) if data.task == "classification" else None
        self.metric, _ = score_metric(data.task)
        self.steps_planned = plan.steps_planned(data.folds, self.batch_size)
        self.first_reports = sorted({s for s in plan.first_reports if 0 < s < plan.report_every})
        if plan.backend == "minibatch":
            self._warm_compiled_code()
        self.sampler = SystemSampler(clock=plan.clock)
        self.step = 0
        self.step_seconds = 0.0
        self.step_cpu_seconds = 0.0
        # Blocked in report(): Tune waits for the driver to take it. Not training time.
        self.report_seconds = 0.0
        self.report_cpu_seconds = 0.0
        self.fold_scores: list[float] = []
        self.latency_walls: deque[float] = deque(maxlen=LATENCY_REPEATS)
        self.latency_cpus: deque[float] = deque(maxlen=LATENCY_REPEATS)
        self.latency_timed_at = -math.inf  # step_cpu_seconds at the last timed call
        self.model_size_kb = math.nan
        self.estimator: Any = None
        self.last: dict[str, Any] = {}
        self.fold_index = 0
        self.epoch = 0

    def _warm_compiled_code(self) -> None:
        """Load the minibatch kernels for this trial's array types before its clocks and its
        memory baseline start. A first call in a process costs ~0.3 s from numba's cache, ~6 s
        where nothing is cached yet: the worker's set-up, not this config's cost."""
        X, y = self.data.X, self.data.y
        estimator = self.model.make(self.config, seed=self.plan.seed, batch_size=1)
        estimator.start(X.shape[1], self.classes)
        first = np.zeros(1, dtype=np.int64)
        mean, inv_scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        # Shuffled epochs train on a fresh (writable) permutation, unshuffled ones on the
        # fold's own indices (read-only when Ray hands them over): two array types.
        orders = [first] + [fold.train_idx[:1] for fold in self.data.folds[:1]]
        # A config that overflows at once raises (ValueError): compiled all the same.
        with contextlib.suppress(ValueError):
            for order in orders:
                estimator.train_steps(X, y, order, start=0, steps=1, mean=mean, inv_scale=inv_scale)
            estimator.score_rows(X, y, first, mean=mean, inv_scale=inv_scale)

    def train_fold(self, fold_index: int, fold: Fold) -> None:
        X, y, plan, batch_size = self.data.X, self.data.y, self.plan, self.batch_size
        targets, step, step_loss = self.targets, self.model.step, self.model.step_loss
        mean, inv_scale = fold.mean, 1.0 / fold.scale
        rng = np.random.default_rng([plan.seed, fold_index])
        estimator = self.model.make(self.config, seed=plan.seed, batch_size=batch_size)
        self.estimator, self.fold_index = estimator, fold_index
        # The loss of the all-zero model SGD starts from: the divergence policy's yardstick.
        # Reports inside the fold read a fixed sample of validation rows: on kddcup the whole
        # validation part costs ~70 ms a report, 5-10% of a 100-step window at batch 32.
        self.report_rows = fold.val_idx
        in_fold = self._in_fold_rows(len(fold.val_idx))
        if in_fold < len(fold.val_idx):
            sampler = np.random.default_rng([plan.seed, fold_index, 1])  # not the row order's
            picked = sampler.choice(len(fold.val_idx), size=in_fold, replace=False)
            self.report_rows = fold.val_idx[np.sort(picked)]
        untrained = None
        if plan.backend == "minibatch":
            # All-zero weights from the start: the compiled scorer then gives the untrained
            # model's loss (numpy's pass took ~3 ms of 4,096 kddcup rows a fold).
            estimator.start(X.shape[1], self.classes)
            untrained = estimator
        self.start_loss = self._evaluate(fold, untrained, self.report_rows)["val_loss"]
        self.latency_rows = (X[fold.val_idx[: latency_rows(X.shape[1])]] - mean) * inv_scale
        n_rows = len(fold.train_idx)
        steps = plan.steps_per_fold(n_rows, batch_size)
        if self.model.driven:  # a training function of the user's drives the steps
            train_fold_by_function(self, fold, rng, steps)
            return
        if plan.backend == "minibatch":
            self._train_fold_in_windows(fold, rng, steps)
            return
        order, position, epoch = fold.train_idx, n_rows, -1
        window_seconds, window_loss_cpu, window_losses = 0.0, 0.0, []
        # The thread's CPU clock is a system call (~0.65 µs, against ~0.07 µs for the wall
        # clock): read twice a step, around the loss, and once a window. A window's CPU time is
        # its span less the loss's.
        clock, cpu_clock = time.perf_counter, time.thread_time
        window_cpu_start = cpu_clock()
        for fold_step in range(1, steps + 1):
            if position >= n_rows:
                epoch, position = epoch + 1, 0
                order = rng.permutation(fold.train_idx) if plan.shuffle else fold.train_idx
            started = clock()
            rows = order[position : position + batch_size]
            position += batch_size
            X_batch = (X[rows] - mean) * inv_scale
            y_batch = y[rows]
            gathered, loss_cpu_start = clock(), cpu_clock()
            # Progressive loss: the batch under the weights before its update (the seed's
            # definition). It is instrumentation, so it is kept out of the step time.
            batch_value = step_loss(estimator, X_batch, y_batch, targets)
            measured, measured_cpu = clock(), cpu_clock()
            window_loss_cpu += measured_cpu - loss_cpu_start
            if fold_step == 1 and self.classes is not None:
                # Every class code up front: a fold's first batch rarely holds them all.
                step(estimator, X_batch, y_batch, self.classes)
            else:
                step(estimator, X_batch, y_batch)
            window_seconds += (gathered - started) + (clock() - measured)
            window_losses.append(batch_value)
            if self.fault is not None:
                self.fault.at_step(self.step + len(window_losses))
            if not math.isfinite(batch_value):
                raise Diverged(f"training loss is {batch_value} at step {self.step + fold_step}")
            if self._report_due(fold_step, steps):
                self.epoch = epoch
                window_cpu = cpu_clock() - window_cpu_start - window_loss_cpu
                self.report_window(
                    fold, fold_step, steps, (window_seconds, window_cpu), window_losses
                )
                window_seconds, window_loss_cpu, window_losses = 0.0, 0.0, []
                window_cpu_start = cpu_clock()

    def _next_report(self, fold_step: int) -> int:
        """The fold step of the next report after `fold_step` (a fold's end aside)."""
        every = self.plan.report_every
        regular = (fold_step // every + 1) * every
        if self.fold_index == 0:
            early = [s for s in self.first_reports if s > fold_step]
            if early:
                return min(early[0], regular)
        return regular

    def _report_due(self, fold_step: int, fold_steps: int) -> bool:
        if fold_step == fold_steps or fold_step % self.plan.report_every == 0:
            return True
        return self.fold_index == 0 and fold_step in self.first_reports

    def _train_fold_in_windows(self, fold: Fold, rng: np.random.Generator, steps: int) -> None:
        """The minibatch backend: one compiled call runs every step up to the next report (or
        the epoch's end), so Python's cost is paid once a window. Same row order, reports and
        cadence as the per-step loop; the progressive loss is computed inside the call, so
        here the step time includes it (it shares the step's forward pass)."""
        from leantune.models import TrainingDiverged

        X, y, plan, estimator = self.data.X, self.data.y, self.plan, self.estimator
        mean, inv_scale = fold.mean, 1.0 / fold.scale  # estimator: started by train_fold
        n_rows, batch_size = len(fold.train_idx), self.batch_size
        order, position, epoch = fold.train_idx, n_rows, -1
        fold_step, window_seconds, window_cpu_seconds, window_losses = 0, 0.0, 0.0, []
        clock, cpu_clock = time.perf_counter, time.thread_time
        while fold_step < steps:
            if position >= n_rows:
                epoch, position = epoch + 1, 0
                order = rng.permutation(fold.train_idx) if plan.shuffle else fold.train_idx
            count = min(
                self._next_report(fold_step) - fold_step,
                -(-(n_rows - position) // batch_size),  # steps left in this epoch
                steps - fold_step,
            )
            started, started_cpu = clock(), cpu_clock()
            try:
                losses = estimator.train_steps(
                    X, y, order, start=position, steps=count, mean=mean, inv_scale=inv_scale
                )
            except TrainingDiverged as error:
                step = self.step + len(window_losses) + error.step
                raise Diverged(f"{error.what} at step {step}") from None
            window_seconds += clock() - started
            window_cpu_seconds += cpu_clock() - started_cpu
            window_losses.extend(losses.tolist())
            position = min(n_rows, position + count * batch_size)
            fold_step += count
            if self.fault is not None:
                self.fault.at_step(self.step + len(window_losses))
            if self._report_due(fold_step, steps):
                self.epoch = epoch
                self.report_window(
                    fold, fold_step, steps, (window_seconds, window_cpu_seconds), window_losses
                )
                window_seconds, window_cpu_seconds, window_losses = 0.0, 0.0, []

    def report_window(
        self,
        fold: Fold,
        fold_step: int,
        fold_steps: int,
        window: tuple[float, float],
        window_losses: list[float],
    ) -> None:
        """Measure, score and send one window's report (also a training function's session
        sends its windows here). `window`: the wall and thread-CPU seconds its steps took."""
        window_wall, window_cpu = window
        self.step += len(window_losses)
        self.step_seconds += window_wall
        self.step_cpu_seconds += window_cpu
        problem = self.model.diverged(self.estimator)
        if problem is not None:
            raise Diverged(f"{problem} at step {self.step}")
        fold_finished = fold_step == fold_steps
        early = not fold_finished and fold_step % self.plan.report_every != 0
        rows = fold.val_idx if fold_finished else self.report_rows
        quality = self._evaluate(fold, self.estimator, rows)
        if not math.isfinite(quality["val_loss"]):
            raise Diverged(f"validation loss is {quality['val_loss']} at step {self.step}")
        result: dict[str, Any] = {
            "step": self.step,
            "fold": self.fold_index,
            "fold_step": fold_step,
            "epoch": self.epoch,
            STEPS_PLANNED: self.steps_planned,
            "train_loss": math.fsum(window_losses) / len(window_losses),
            "train_loss_last": window_losses[-1],
            **quality,
            "val_rows": len(rows),
            "val_loss_start": self.start_loss,
            "objective": quality[self.metric],
            PROGRESS_PCT: 100.0 * self.step / self.steps_planned,
            "weight_norm": self.model.weight_norm(self.estimator),
            **self._deployment_metrics(),
            **self._step_times(window_wall, window_cpu, len(window_losses)),
            **self._sample(),
            FOLD_FINISHED: fold_finished,
        }
        if early:
            # A first report (plan.first_reports): its short window carries a whole
            # evaluation, so a cost model reads its step time, not its total, as a step's cost.
            result["early_report"] = True
        if self.plan.log_every_step:
            result["train_loss_steps"] = list(window_losses)
        if fold_finished:
            self.fold_scores.append(quality[self.metric])
            result["fold_score"] = quality[self.metric]
        if fold_finished and len(self.fold_scores) == len(self.data.folds):
            # The last report of the trial carries its outcome, so the driver needs no other
            # channel to learn how it ended.
            result.update(self._outcome_fields(FINISHED))
        self.last = result
        started, started_cpu = time.perf_counter(), time.thread_time()
        self.report(result)
        self.report_seconds += time.perf_counter() - started
        self.report_cpu_seconds += time.thread_time() - started_cpu

    def _sample(self) -> dict[str, float]:
        return self.sampler.sample(self.report_seconds, self.report_cpu_seconds)

    def _step_times(self, window_wall: float, window_cpu: float, steps: int) -> dict[str, float]:
        """Average step time over the trial on both clocks, and the window's on the study's."""
        wall_ms, cpu_ms = (
            1e3 * self.step_seconds / self.step,
            1e3 * self.step_cpu_seconds / self.step,
        )
        slowdown = self._slowdown()
        clock = self.plan.clock
        window = {"cpu": window_cpu, "wall": window_wall, "normalized": window_cpu / slowdown}
        step_ms = {"cpu": cpu_ms, "wall": wall_ms, "normalized": cpu_ms / slowdown}
        return {
            "step_time_ms": step_ms[clock],
            "step_time_cpu_ms": cpu_ms,
            "step_time_wall_ms": wall_ms,
            "step_time_norm_ms": step_ms["normalized"],
            "window_step_time_ms": 1e3 * window[clock] / steps,
        }

    def _slowdown(self) -> float:
        probe = self.sampler.probe
        return probe.slowdown if probe is not None else 1.0

    def _deployment_metrics(self) -> dict[str, float]:
        """What shipping the model costs: predict time per sample and serialized size.

        Latency is the median of the last LATENCY_REPEATS timed calls on a block of rows (as
        timeit does), on both clocks: one call is at the mercy of whatever else ran then. The
        first report makes them all; a later report makes one (the rest are its
        predecessors') once LATENCY_EVERY_TRAIN_S of training has passed since the last.
        """
        walls, cpus = self.latency_walls, self.latency_cpus
        due = self.step_cpu_seconds - self.latency_timed_at >= LATENCY_EVERY_TRAIN_S
        for _ in range(LATENCY_REPEATS if not walls else int(due)):
            self.latency_timed_at = self.step_cpu_seconds
            started, started_cpu = time.perf_counter(), time.thread_time()
            self.model.predict(self.estimator, self.latency_rows)
            walls.append(time.perf_counter() - started)
            cpus.append(time.thread_time() - started_cpu)
            # Serialized on the same cadence: a model's size changes with its shape, not its
            # weights, and pickling cost ~45 µs a report.
            self.model_size_kb = self.model.size_bytes(self.estimator) / 1024
        rows = len(self.latency_rows)
        wall_ms = 1e3 * statistics.median(walls) / rows
        cpu_ms = 1e3 * statistics.median(cpus) / rows
        norm_ms = cpu_ms / self._slowdown()
        on_clock = {"cpu": cpu_ms, "wall": wall_ms, "normalized": norm_ms}
        return {
            "inference_latency_ms": on_clock[self.plan.clock],
            "inference_latency_cpu_ms": cpu_ms,
            "inference_latency_wall_ms": wall_ms,
            "inference_latency_norm_ms": norm_ms,
            "model_size_kb": self.model_size_kb,
        }

    def _in_fold_rows(self, validation_rows: int) -> int:
        """Validation rows scored at the reports inside a fold (each fold's last scores all).

        sklearn: `report_rows`; its window of `partial_fit` calls costs far more than scoring
        them. minibatch: a compiled window costs about what scoring its rows twice would, so a
        report scores a twentieth of the rows its window trained, and at least MIN_REPORT_ROWS
        (an accuracy near 0.9 to within about 2 points); a report then costs what its window
        does, not 10-60 times more.
        """
        rows = min(validation_rows, self.plan.report_rows or validation_rows)
        if self.plan.backend == "minibatch":
            window_rows = self.plan.report_every * self.batch_size
            rows = min(rows, max(MIN_REPORT_ROWS, window_rows // 20))
        return rows

    def _evaluate(self, fold: Fold, estimator: Any, rows: np.ndarray) -> dict[str, float]:
        """`estimator` None: the untrained model's scores (the divergence rule's yardstick)."""
        return self.model.score(
            estimator, self.data.X, self.data.y, rows, fold.mean, fold.scale, self.targets
        )

    def _outcome_fields(self, status: str, error: str | None = None) -> dict[str, Any]:
        fields: dict[str, Any] = {"trial_status": status, "cv_metric": self.metric}
        if self.fold_scores and len(self.fold_scores) == len(self.data.folds):
            fields[CV_SCORE_MEAN] = float(np.mean(self.fold_scores))
            fields[CV_SCORE_STD] = float(np.std(self.fold_scores))
            fields["objective"] = fields[CV_SCORE_MEAN]
        if error:
            fields["error"] = error
        return fields

    def stopped(self) -> TrialOutcome:
        """Ended by a stopping rule run in the worker; its last report already says why."""
        return TrialOutcome(
            status=STOPPED,
            estimator=self.estimator,
            fold_scores=list(self.fold_scores),
            last_report=self.last,
        )

    def finish(
        self, status: str, error: str | None = None, *, retryable: bool = False
    ) -> TrialOutcome:
        if status != FINISHED:
            # The trial ends early: send one closing report that says why.
            closing = {
                **self.last,
                "step": self.step,
                STEPS_PLANNED: self.steps_planned,
                **self._sample(),
                **self._outcome_fields(status, error),
            }
            closing.pop("train_loss_steps", None)
            self.last = closing
            self.report(closing)
        return TrialOutcome(
            status=status,
            estimator=self.estimator,
            fold_scores=list(self.fold_scores),
            last_report=self.last,
            error=error,
            retryable=retryable,
        )
