"""Trial packing on Ray: the process pool's workers as Ray actors, so the pool spans a cluster.

Up to one long-lived actor per CPU of the cluster (divided by cpus_per_trial), started as the
work needs them (the process pool's rule: one, then more while the configs left would keep
each busy), runs the process pool's worker loop (`leantune.search._processes.serve`), config
after config, each trial still with its own reports, history, decisions and MLflow run. The
dataset is put in the object store once (each node maps it zero-copy; another node fetches it
once). Workers send their messages to one inbox actor on the driver's node, which the driver
empties a batch at a time; the driver's tasks and stop flags reach a worker as calls its
second thread serves while the first trains.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import queue
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from leantune.engine._ray import start_ray
from leantune.search._book import TrialBook
from leantune.search._processes import drive, serve, worker_count, worker_settings
from leantune.search._request import SearchRequest
from leantune.stoppers import StoppingPolicy

# How long the driver waits for the workers to finish their loop at the end of a search (s).
_CLOSING_S = 5.0


class RayPoolBackend:
    """Runs the request's configs on long-lived Ray actors: one per `cpus_per_trial` CPUs of
    the cluster (`request.ray_address`, the persistent local Ray, or a private one), at most
    max_concurrent. Starts Ray unless one runs, and stops what it started."""

    name = "ray-pool"

    def run(
        self, request: SearchRequest, book: TrialBook, worker_policy: StoppingPolicy | None = None
    ) -> None:
        started_ray = start_ray(request.ray_address)
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            count = worker_count(request, cpus // request.cpus_per_trial)
            with _ActorPool(count, request, worker_policy) as pool:
                drive(request, book, pool)
        finally:
            if started_ray:
                ray.shutdown()


class _Flag:
    """An int the actor's second thread sets and its training thread reads at each report."""

    def __init__(self) -> None:
        self.value = 0


class _Worker:
    """One worker of the pool: `run` trains on one thread, the other calls arrive on the
    second (max_concurrency=2)."""

    def __init__(self, settings: dict[str, Any], inbox: Any):
        self.settings, self.inbox = settings, inbox
        self.tasks: queue.Queue = queue.Queue()
        self.stop_flag, self.answered = _Flag(), _Flag()

    def where(self) -> tuple[str, int]:
        """(node id, pid): where this worker runs."""
        return ray.get_runtime_context().get_node_id(), os.getpid()

    def run(self, data: Any) -> None:
        serve(self.settings, data, self.tasks, _Outbox(self.inbox), self.stop_flag, self.answered)

    def give(self, task: tuple | None) -> None:
        self.tasks.put(task)

    def stop(self, number: int) -> None:
        self.stop_flag.value = number

    def answer(self, number: int, stop: bool) -> None:
        if stop:
            self.stop_flag.value = number
        self.answered.value = number


class _Outbox:
    """A worker's messages to the inbox: sent without waiting, but one at a time, so they
    arrive in order (a threaded or async actor does not promise the order of its calls)."""

    def __init__(self, inbox: Any):
        self.inbox = inbox
        self.sending: Any = None

    def put(self, message: tuple) -> None:
        if self.sending is not None:
            ray.get(self.sending)
        self.sending = self.inbox.put.remote(message)


class _Inbox:
    """Every worker's messages, handed to the driver a batch at a time."""

    def __init__(self) -> None:
        self.messages: list[tuple] = []
        self.arrived = asyncio.Event()

    async def put(self, message: tuple) -> None:
        self.messages.append(message)
        self.arrived.set()

    async def take(self, timeout: float) -> list[tuple]:
        if not self.messages:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), timeout)
        taken, self.messages = self.messages, []
        self.arrived.clear()
        return taken


class _Received:
    """The driver's side of the inbox: one call brings every message waiting."""

    def __init__(self, inbox: Any):
        self.inbox = inbox
        self.waiting: collections.deque[tuple] = collections.deque()

    def get(self, timeout: float) -> tuple:
        if not self.waiting:
            self.waiting.extend(ray.get(self.inbox.take.remote(timeout)))
        if not self.waiting:
            raise queue.Empty
        return self.waiting.popleft()


class _ActorPool:
    """The worker actors, their inbox and the data they share (a `WorkerPool`)."""

    def __init__(self, count: int, request: SearchRequest, worker_policy: StoppingPolicy | None):
        self.count = count
        self.started = 0
        here = ray.get_runtime_context().get_node_id()
        # On the driver's node: its messages never cross the network to come back here.
        self.inbox = (
            ray.remote(_Inbox)
            .options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, True))
            .remote()
        )
        self.results = _Received(self.inbox)
        self.data = ray.put(request.data)
        self.settings = worker_settings(request, worker_policy)
        self.worker_class = ray.remote(_Worker).options(
            num_cpus=request.cpus_per_trial, max_concurrency=2
        )
        self.actors: list[Any] = [None] * count
        self.loops: list[Any] = [None] * count
        self.nodes: list[str | None] = [None] * count
        self.pids: list[int] = [0] * count
        self.placing: dict[int, Any] = {}

    def grow(self) -> bool:
        if self.started >= self.count:
            return False
        self._spawn(self.started)
        # Not waited for: the driver goes on with the workers it has while this one starts
        # (two actors starting at once on two cores each took longer than one alone).
        self.placing[self.started] = self.actors[self.started].where.remote()
        self.started += 1
        return True

    def __enter__(self) -> _ActorPool:
        self.grow()
        self.node_of(0, wait=True)  # the first actor is up (or Ray says why not)
        return self

    def node_of(self, worker: int, wait: bool = False) -> str | None:
        if worker in self.placing:  # a new or restarted actor: where it runs, once it does
            placed, _ = ray.wait([self.placing[worker]], timeout=None if wait else 0)
            if placed:
                with contextlib.suppress(ray.exceptions.RayError):
                    self.nodes[worker], self.pids[worker] = ray.get(self.placing.pop(worker))
        return self.nodes[worker]

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            for actor in self.actors[: self.started]:
                actor.give.remote(None)
            loops = self.loops[: self.started]
            ray.wait(loops, num_returns=len(loops), timeout=_CLOSING_S)
        for actor in [*self.actors[: self.started], self.inbox]:
            with contextlib.suppress(Exception):
                ray.kill(actor)

    def _spawn(self, index: int) -> None:
        actor = self.worker_class.remote(self.settings, self.inbox)
        self.actors[index] = actor
        self.loops[index] = actor.run.remote(self.data)

    def send(self, worker: int, task: tuple) -> None:
        self.actors[worker].give.remote(task)

    def stop(self, worker: int, number: int) -> None:
        self.actors[worker].stop.remote(number)

    def answer(self, worker: int, number: int, stop: bool) -> None:
        self.actors[worker].answer.remote(number, stop)

    def dead(self, worker: int) -> int | None:
        """The pid of `worker` if its actor died (or its loop ended), else None."""
        self.node_of(worker)
        ended, _ = ray.wait([self.loops[worker]], timeout=0)
        return self.pids[worker] if ended else None

    def restart(self, worker: int) -> None:
        with contextlib.suppress(Exception):
            ray.kill(self.actors[worker])
        self._spawn(worker)
        # Not waited for: with its node lost, the new actor waits for a free CPU elsewhere,
        # and the driver goes on with the other workers meanwhile.
        self.nodes[worker], self.pids[worker] = None, 0
        self.placing[worker] = self.actors[worker].where.remote()
