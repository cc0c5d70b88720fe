"""The process-pool backend: one long-lived worker process per CPU, each pulling configs.

Trial packing on one machine, without Ray: a worker is started once and trains config after
config, each still with its own measurements, history, decisions and MLflow run. A trial's
reports reach the driver in batches (at most `flush_seconds` apart, at once when it ends or a
worker rule stops it); the driver's trial book judges them and raises a stop flag the worker
reads at its next report. A trial costs one queue message a batch, not Ray Tune's round trip
per trial (BENCHMARKS.md, P8).

The dataset and the folds go into one shared-memory block once; every worker maps it, so no
worker holds a copy (as Ray's object store gives zero-copy reads).

The driver and the worker loop know their pool only as a `WorkerPool`: how workers start, how
the data reaches them and how their messages come back is the pool's. Here: processes, shared
memory and a multiprocessing queue; `leantune.engine.RayPoolBackend`: Ray actors across a
cluster, the object store and an inbox actor.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import os
import queue
import statistics
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from multiprocessing import shared_memory
from typing import Any, Protocol

import cloudpickle
import numpy as np

from leantune.datasets import Fold
from leantune.engine._trial import (
    START_PHASE,
    StopTraining,
    TrialData,
    load_trial_libraries,
    train_trial,
)
from leantune.search._book import TrialBook
from leantune.search._in_process import _Configs, _quiet_optuna, _sigterm_as_ctrl_c
from leantune.search._request import SearchRequest
from leantune.search._worker import WorkerRules
from leantune.stoppers import StoppingPolicy
from leantune.trials import FAILED, SKIPPED, SearchInterrupted

# A batch waiting in a worker is memory its own trial's reading counts: at most this many.
FLUSH_REPORTS = 256
# Configs a worker holds at most: the one it trains and the next, so it never waits for the
# driver between trials. More would only draw samples further ahead of what ended.
PREFETCH = 2
# A worker costs ~1-2 CPU-s to start (Python, scikit-learn, the data's view): the pool starts
# one, and another only once the work left for each would take longer than this (or a trial
# has run this long). A study of a few hundredths of a second a trial then pays for one.
GROW_AFTER_S = 2.0
# What a trial costs at the least, before any has ended (P8's tiny trials: ~5 ms): a study of
# a thousand configs starts its workers at once, one of sixteen waits for its first trial.
SHORTEST_TRIAL_S = 0.005
# How often the driver looks for a dead worker while it waits for messages (s).
_POLL_S = 0.5


class ProcessPoolBackend:
    """Runs the request's configs on `workers` worker processes (default: the CPUs this process
    may use, divided by cpus_per_trial, at most max_concurrent)."""

    name = "processes"

    def __init__(self, workers: int | None = None):
        self.workers = workers

    def run(
        self, request: SearchRequest, book: TrialBook, worker_policy: StoppingPolicy | None = None
    ) -> None:
        count = worker_count(request, self.workers or _usable_cpus() // request.cpus_per_trial)
        with (
            _SharedData(request.data) as shared,
            _Pool(count, request, shared, worker_policy) as pool,
        ):
            drive(request, book, pool)


class MessageQueue(Protocol):
    def get(self, timeout: float) -> tuple:
        """The next worker message; raises queue.Empty after `timeout` seconds without one."""
        ...


class WorkerPool(Protocol):
    """What the driver needs of a pool of workers, each running `serve`: worker i takes
    tasks in the order `send` gave them, and reads its stop flag and answered flag at each
    report."""

    count: int
    results: MessageQueue
    nodes: list[str | None]
    """Per worker, the Ray node it runs on (None: this machine); a trial's record names it."""
    started: int
    """Workers started: the driver hands configs to workers 0 .. started - 1 only."""

    def grow(self) -> bool:
        """Start one more worker, if any is left to start; whether one was."""
        ...

    def node_of(self, worker: int, wait: bool = False) -> str | None:
        """`nodes[worker]`, learnt first if the worker has started but its node is not yet
        known (`wait`: waiting for that, for a worker known to be up)."""
        ...

    def send(self, worker: int, task: tuple) -> None: ...

    def stop(self, worker: int, number: int) -> None: ...

    def answer(self, worker: int, number: int, stop: bool) -> None: ...

    def dead(self, worker: int) -> int | None:
        """The pid of `worker` if it died, else None."""
        ...

    def restart(self, worker: int) -> None: ...


def worker_count(request: SearchRequest, slots: int) -> int:
    """Workers for `slots` places (CPUs / cpus_per_trial): no more than max_concurrent and
    the configs to run, at least one."""
    count = slots
    if request.max_concurrent:
        count = min(count, request.max_concurrent)
    return max(1, min(count, request.configs_to_run()))


def worker_settings(request: SearchRequest, worker_policy: StoppingPolicy | None) -> dict[str, Any]:
    """What every worker's `serve` needs besides its data, the same for every pool."""
    return {
        "plan": request.plan,
        "cpus": request.cpus_per_trial,
        "memory_limit_mb": request.memory_limit_mb,
        "faults": request.faults,
        "worker_policy": worker_policy,
        # ASHA compares trials at rungs: the book must see each report in time.
        "flush_seconds": 0.0 if request.scheduler else request.flush_seconds,
    }


def drive(request: SearchRequest, book: TrialBook, pool: WorkerPool) -> None:
    """Run the request's configs on `pool`'s workers until every one has ended."""
    # Made first: optuna sets its logger's level when it is first imported, and the level is
    # quieted once for the whole search after that.
    driver = _Driver(request, book, pool)
    try:
        with _sigterm_as_ctrl_c(), _quiet_optuna():
            driver.run()
    except KeyboardInterrupt:
        raise SearchInterrupted(
            book.ended_records(), request.configs_to_run(), book.unfinished()
        ) from None


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):  # the CPUs this process may run on (a cgroup's set)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass
class _Running:
    key: str
    config: dict[str, Any]
    worker: int
    number: int
    """The attempt's number in this search: what the worker's stop flag and messages name."""
    token: Any = None


class _Driver:
    """Hands configs to workers, feeds their reports to the book, raises stop flags.

    Each worker holds up to PREFETCH configs (the one it trains, the next ones queued), so
    it starts its next trial at once instead of waiting for the driver to ask the sampler."""

    def __init__(self, request: SearchRequest, book: TrialBook, pool: WorkerPool):
        self.request, self.book, self.pool = request, book, pool
        self.configs = _Configs(request)
        self.source = iter(self.configs.one_by_one())
        self.running: dict[str, _Running] = {}
        # Per worker, the keys it was handed, in the order it trains them.
        self.assigned: list[collections.deque[str]] = [
            collections.deque() for _ in range(pool.count)
        ]
        self.numbers = iter(range(1, 2**62))
        self.exhausted = False
        # A resumed or shuffled grid is worked out anew each time it is asked: asked once.
        self.to_run = request.configs_to_run()
        self.first_began: float | None = None  # when a worker began the search's first trial
        # Wall seconds of the latest trials ended: what `_grow` takes the median of.
        self.trial_seconds: collections.deque[float] = collections.deque(maxlen=100)

    def run(self) -> None:
        checked = time.monotonic()
        while True:
            self._fill()
            if not self.running:
                return
            with contextlib.suppress(queue.Empty):
                self._handle(self.pool.results.get(timeout=_POLL_S))
            if time.monotonic() - checked >= _POLL_S:
                self._bury_dead_workers()
                checked = time.monotonic()

    def _fill(self) -> None:
        self._grow()
        while not self.exhausted:
            worker = min(range(self.pool.started), key=lambda w: len(self.assigned[w]))
            if len(self.assigned[worker]) >= PREFETCH:
                return
            try:
                config, token = next(self.source)
            except StopIteration:
                self.exhausted = True
                return
            key = f"trial_{self.request.session}_{len(self.book.order):05d}"
            self.book.started(key, config)
            self._start(_Running(key, config, worker, next(self.numbers), token))

    def _grow(self) -> None:
        """Start another worker when the work left needs one: the configs left to run, at the
        trials' median time so far (SHORTEST_TRIAL_S before any ended), over GROW_AFTER_S a
        worker; or a first trial still running after GROW_AFTER_S."""
        if self.pool.started >= self.pool.count:
            return
        if self.trial_seconds:
            seconds = statistics.median(self.trial_seconds)
        elif self.first_began is not None and time.time() - self.first_began > GROW_AFTER_S:
            self.pool.grow()
            return
        else:
            seconds = SHORTEST_TRIAL_S
        left = self.to_run - len(self.book.order) + len(self.running)
        if left * seconds / self.pool.started > GROW_AFTER_S:
            self.pool.grow()

    def _start(self, trial: _Running) -> None:
        self.running[trial.key] = trial
        self.assigned[trial.worker].append(trial.key)
        if (node := self.pool.node_of(trial.worker)) is not None:
            self.book.records[trial.key].node_id = node
        self.pool.send(trial.worker, (trial.number, trial.key, trial.config))

    def _handle(self, message: tuple) -> None:
        kind, key, number, began, reports = message[:5]
        trial = self.running.get(key)
        if trial is None or trial.number != number:
            return  # from an attempt already given up on (its worker died)
        record = self.book.records[key]
        if record.node_id is None:  # handed to a worker still starting: it runs, so it is placed
            record.node_id = self.pool.node_of(trial.worker, wait=True)
        if began is not None and record.attempts == 1:
            record.started_at = began  # when its worker began it, not when it was queued
        if began is not None and self.first_began is None:
            self.first_began = began
        stop = False
        for report, worker_stop in reports:
            stop = self.book.reported(key, report, worker_stop)
        if kind == "reports":
            if reports and reports[-1][0].get("trial_phase") == START_PHASE:
                self.pool.answer(trial.worker, trial.number, stop)
            elif stop:
                self.pool.stop(trial.worker, trial.number)
            return
        status, retryable, error = message[5:]
        self._release(trial)
        if status == FAILED and retryable and record.attempts <= self.request.max_failures:
            self.book.recovering(key, error or "failed")
            self._start(replace(trial, number=next(self.numbers)))
            return
        self._finish(trial)

    def _release(self, trial: _Running) -> None:
        """The trial's attempt is over: its worker no longer holds it."""
        del self.running[trial.key]
        self.assigned[trial.worker].remove(trial.key)  # the first, or a queue of PREFETCH

    def _finish(self, trial: _Running, error: str | None = None) -> None:
        record = self.book.ended(trial.key, error)
        if record is not None:
            # The trial's own wall clock, as its worker measured it: the driver's (its end as
            # the driver saw it) also holds the driver's own delays, a second at its start.
            seconds = record.last.get("wall_time_s")
            if isinstance(seconds, float) and seconds >= 0:
                self.trial_seconds.append(seconds)
            self.configs.ended(record, trial.token)

    def _bury_dead_workers(self) -> None:
        for worker in range(self.pool.started):
            pid = self.pool.dead(worker)
            if pid is None:
                continue
            self.pool.restart(worker)
            held = [self.running[key] for key in self.assigned[worker]]
            for trial in held:
                self._release(trial)
            if not held:
                continue
            # The first was training; those queued behind it never began: handed out again.
            dying, *queued = held
            for trial in queued:
                self._start(trial)
            error = (
                f"WorkerDied: the trial's worker process (pid {pid}) died while training: killed "
                "by a signal such as SIGKILL or the out-of-memory killer, or crashed"
            )
            record = self.book.records[dying.key]
            if record.attempts <= self.request.max_failures:
                self.book.recovering(dying.key, error)
                self._start(replace(dying, number=next(self.numbers)))
            else:
                self._finish(dying, error)


class _Pool:
    """The worker processes, their task queues, and the flags the driver answers them with."""

    def __init__(
        self,
        count: int,
        request: SearchRequest,
        shared: _SharedData,
        worker_policy: StoppingPolicy | None,
    ):
        # spawn, not fork: the driver runs threads (the tracker's), and a forked child may
        # inherit a lock one of them held.
        self.context = multiprocessing.get_context("spawn")
        self.count = count
        self.results: Any = self.context.Queue()
        # Per worker: the trial number it must stop, and the last start report answered.
        self.stop_flags = [self.context.Value("q", 0, lock=False) for _ in range(count)]
        self.answered = [self.context.Value("q", 0, lock=False) for _ in range(count)]
        self.tasks: list[Any] = [None] * count
        self.processes: list[Any] = [None] * count
        self.nodes: list[str | None] = [None] * count
        self.started = 0
        # cloudpickle, as Ray does: a training function or estimator defined in a script
        # (`__main__`), which a spawned worker cannot import, still reaches it.
        self.settings = cloudpickle.dumps(
            {"shared": shared.descriptor, **worker_settings(request, worker_policy)}
        )

    def __enter__(self) -> _Pool:
        self.grow()  # the rest as the driver finds work for them (GROW_AFTER_S)
        return self

    def grow(self) -> bool:
        if self.started >= self.count:
            return False
        self._spawn(self.started)
        self.started += 1
        return True

    def node_of(self, worker: int, wait: bool = False) -> str | None:
        return None  # this machine

    def __exit__(self, *exc: Any) -> None:
        processes = self.processes[: self.started]
        if exc[0] is not None:  # interrupted: the trials queued behind the running ones too
            for process in processes:
                process.terminate()
        for index in range(self.started):
            with contextlib.suppress(Exception):
                self.tasks[index].put(None)
        deadline = time.monotonic() + 5
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)

    def _spawn(self, index: int) -> None:
        self.tasks[index] = self.context.Queue()
        process = self.context.Process(
            target=_worker_main,
            args=(
                self.settings,
                self.tasks[index],
                self.results,
                self.stop_flags[index],
                self.answered[index],
            ),
            name=f"leantune-worker-{index}",
            daemon=True,
        )
        process.start()
        self.processes[index] = process

    def send(self, worker: int, task: tuple) -> None:
        self.tasks[worker].put(task)

    def stop(self, worker: int, number: int) -> None:
        self.stop_flags[worker].value = number

    def answer(self, worker: int, number: int, stop: bool) -> None:
        if stop:
            self.stop_flags[worker].value = number
        self.answered[worker].value = number

    def dead(self, worker: int) -> int | None:
        """The pid of `worker` if it died, else None."""
        process = self.processes[worker]
        return None if process.is_alive() else process.pid

    def restart(self, worker: int) -> None:
        self.processes[worker].join(timeout=1)
        self._spawn(worker)


# -- the worker's side ------------------------------------------------------------------------


def _worker_main(pickled: bytes, tasks: Any, results: Any, stop_flag: Any, answered: Any) -> None:
    import signal

    # Ctrl-C goes to the whole process group: the driver stops the search, and ends us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = cloudpickle.loads(pickled)
    memory = shared_memory.SharedMemory(name=settings["shared"]["name"])
    data: TrialData | None = None
    try:
        data = _attach(memory, settings["shared"])
        serve(settings, data, tasks, results, stop_flag, answered)
    finally:
        del data
        with contextlib.suppress(BufferError):  # a view may outlive us here: the OS frees it
            memory.close()


def serve(
    settings: Mapping[str, Any],
    data: TrialData,
    tasks: Any,
    results: Any,
    stop_flag: Any,
    answered: Any,
) -> None:
    """The worker loop of every pool: train each (number, key, config) `tasks.get()` gives,
    until None; `results.put` each message. `stop_flag.value` / `answered.value`: the trial
    number the driver stopped / the last start report it answered."""
    load_trial_libraries(settings["plan"])
    while True:
        task = tasks.get()
        if task is None:
            return
        number, key, config = task
        batches = _Batches(results, (key, number), stop_flag, answered, settings, config)
        try:
            outcome = train_trial(
                config,
                data,
                settings["plan"],
                batches.report,
                cpus=settings["cpus"],
                memory_limit_mb=settings["memory_limit_mb"],
                faults=settings["faults"],
            )
            ended = (outcome.status, outcome.retryable, outcome.error)
        except StopTraining:  # skipped at its start report: it trained no step
            ended = (SKIPPED, False, None)
        # Its last reports and its end in one message: one a trial, for a short one.
        results.put(("ended", *batches.take(), *ended))


class _Batches:
    """Collects a trial's reports, runs the worker's rules on each, sends them in batches, and
    stops the trial when the driver's flag names it."""

    def __init__(
        self,
        results: Any,
        trial: tuple[str, int],
        stop_flag: Any,
        answered: Any,
        settings: Mapping[str, Any],
        config: Mapping[str, Any],
    ):
        self.results, self.trial = results, trial
        self.number = trial[1]
        self.stop_flag, self.answered = stop_flag, answered
        self.rules = WorkerRules(settings["worker_policy"], config)
        self.flush_seconds: float = settings["flush_seconds"]
        self.pending: list[tuple[dict[str, Any], Any]] = []
        self.began: float | None = time.time()  # sent with the trial's first message
        self.sent_at = time.perf_counter()

    def report(self, result: dict[str, Any]) -> None:
        if self.stop_flag.value == self.number:
            raise StopTraining("stopped by the driver")
        start = result.get("trial_phase") == START_PHASE
        reason = self.rules.judge(result)
        self.pending.append((result, reason))
        # The closing report waits for the trial's end message, which follows at once.
        if "trial_status" not in result and (
            start
            or result.get("early_report", False)  # the cheap stop's evidence: judged at once
            or reason is not None
            or len(self.pending) >= FLUSH_REPORTS
            or time.perf_counter() - self.sent_at >= self.flush_seconds
        ):
            self.results.put(("reports", *self.take()))
        if start:
            # The driver judges it (skip) before a single step is trained.
            while self.answered.value != self.number:
                time.sleep(0.0005)
        if reason is not None or self.stop_flag.value == self.number:
            raise StopTraining(reason.describe() if reason else "stopped by the driver")

    def take(self) -> tuple[str, int, float | None, list[tuple[dict[str, Any], Any]]]:
        """(key, number, began, reports) of a message: the reports not yet sent."""
        taken = (*self.trial, self.began, self.pending)
        self.pending, self.began = [], None
        self.sent_at = time.perf_counter()
        return taken


# -- one shared-memory block for the data every trial reads -----------------------------------


class _SharedData:
    """X, y and every fold's arrays in one shared-memory block; `descriptor` lets a worker map
    them as numpy views."""

    def __init__(self, data: TrialData):
        arrays: list[np.ndarray] = [np.ascontiguousarray(data.X), np.ascontiguousarray(data.y)]
        for fold in data.folds:
            arrays += [np.ascontiguousarray(a) for a in (fold.train_idx, fold.val_idx)]
            arrays += [np.ascontiguousarray(a) for a in (fold.mean, fold.scale)]
        layout, offset = [], 0
        for array in arrays:
            offset = -(-offset // 64) * 64  # aligned, as numpy likes it
            layout.append((offset, array.shape, array.dtype.str))
            offset += array.nbytes
        self.memory = shared_memory.SharedMemory(create=True, size=max(1, offset))
        for array, (start, _, _) in zip(arrays, layout, strict=True):
            view = np.ndarray(array.shape, array.dtype, buffer=self.memory.buf, offset=start)
            view[...] = array
            del view
        self.descriptor = {
            "name": self.memory.name,
            "layout": layout,
            "task": data.task,
            "n_classes": data.n_classes,
            "folds": len(data.folds),
        }

    def __enter__(self) -> _SharedData:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.memory.close()
        with contextlib.suppress(FileNotFoundError):
            self.memory.unlink()


def _attach(memory: shared_memory.SharedMemory, descriptor: Mapping[str, Any]) -> TrialData:
    views: Iterator[np.ndarray] = (
        _read_only(np.ndarray(shape, np.dtype(dtype), buffer=memory.buf, offset=offset))
        for offset, shape, dtype in descriptor["layout"]
    )
    X, y = next(views), next(views)
    folds = [
        Fold(train_idx=next(views), val_idx=next(views), mean=next(views), scale=next(views))
        for _ in range(descriptor["folds"])
    ]
    return TrialData(X, y, descriptor["task"], descriptor["n_classes"], folds)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # as Ray's object store hands them: no trial may change them
    return array
