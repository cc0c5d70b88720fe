"""The in-process backend: trials one after another in the driver's own process.

No Ray: for tests, for debugging a study with pdb (a breakpoint in a trial stops right there),
and for a single machine where a trial's orchestration must cost nothing. Every decision is the
trial book's, taken at the report it judges, so a stop is never late here.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from typing import Any

from leantune.engine._trial import StopTraining, train_trial
from leantune.search._book import TrialBook
from leantune.search._request import SearchRequest, grid_configs
from leantune.search._sampling import distributions, frozen_trial, make_sampler, tell
from leantune.stoppers import StoppingPolicy
from leantune.trials import FAILED, SearchInterrupted


class InProcessBackend:
    """Runs each config with the trial loop in this process; retries as `max_failures` says."""

    name = "in-process"

    def run(
        self, request: SearchRequest, book: TrialBook, worker_policy: StoppingPolicy | None = None
    ) -> None:
        # The book judges every report as it is made: the worker's rules would say the same.
        del worker_policy
        configs = _Configs(request)
        try:
            with _sigterm_as_ctrl_c(), _quiet_optuna():
                for number, (config, token) in enumerate(configs.one_by_one()):
                    key = f"trial_{request.session}_{number:05d}"
                    self._run_trial(request, book, key, config)
                    configs.ended(book.records[key], token)
        except KeyboardInterrupt:
            # The trial that was running is left unended: a resume runs it again.
            records = book.ended_records()
            raise SearchInterrupted(records, request.configs_to_run(), book.unfinished()) from None

    @staticmethod
    def _run_trial(request: SearchRequest, book: TrialBook, key: str, config: dict) -> None:
        book.started(key, config)

        def report(result: dict[str, Any]) -> None:
            if book.reported(key, result):
                raise StopTraining(str(book.records[key].stop_reason))

        while True:
            try:
                outcome = train_trial(
                    config,
                    request.data,
                    request.plan,
                    report,
                    cpus=request.cpus_per_trial,
                    memory_limit_mb=request.memory_limit_mb,
                    faults=request.faults,
                )
            except StopTraining:  # skipped at its start report: it trained no step
                break
            record = book.records[key]
            if (
                outcome.status == FAILED
                and outcome.retryable
                and record.attempts <= request.max_failures
            ):
                book.recovering(key, outcome.error or "failed")
                continue
            break
        book.ended(key)


class _Configs:
    """The configs of this session, in order: the grid's, or the sampler's one at a time (it
    learns from each trial that ended before it draws the next). Each comes with a token that
    `ended` takes back with the trial's record."""

    def __init__(self, request: SearchRequest):
        self.request = request
        self.study: Any = None
        self.sampler: Any = None
        self.space: dict[str, Any] = {}
        if request.method != "grid":
            self._start_sampler()

    def _start_sampler(self) -> None:
        import optuna

        request = self.request
        self.space = distributions(request.param_space)
        if request.method == "random":
            # It learns nothing from what ended: drawn from directly, as a study's `ask` would
            # (the same values in the same order), without a study that keeps every trial
            # (~1.5 ms and a few KB a trial on the driver).
            self.sampler = make_sampler(request)
            return
        with _quiet_optuna():
            self.study = optuna.create_study(
                direction="maximize" if request.mode == "max" else "minimize",
                sampler=make_sampler(request),
            )
            for record in request.resume.ended if request.resume else ():
                self.study.add_trial(frozen_trial(record, self.space, request.objective))
            for config in request.pending_samples():
                self.study.enqueue_trial({axis: config[axis] for axis in self.space})

    def one_by_one(self) -> Iterator[tuple[dict[str, Any], Any]]:
        if self.sampler is not None:
            pending = self.request.pending_samples()
            for config in pending:  # first, as a study runs the trials enqueued in it
                yield {axis: config[axis] for axis in self.space}, None
            for _ in range(self.request.configs_to_run() - len(pending)):
                yield self._draw(), None
            return
        if self.study is None:
            points = self.request.grid_points()
            for config in grid_configs(self.request.param_space) if points is None else points:
                yield config, None
            return
        for _ in range(self.request.configs_to_run()):
            with _quiet_optuna():
                asked = self.study.ask(self.space)
            yield dict(asked.params), asked

    def _draw(self) -> dict[str, Any]:
        """One random config, as Optuna's `Trial._suggest` draws it: an axis of one value is
        not sampled; a value goes through its distribution's stored form and back."""
        config = {}
        for axis, distribution in self.space.items():
            if distribution.single():
                value = getattr(distribution, "choices", (getattr(distribution, "low", None),))[0]
            else:
                value = self.sampler.sample_independent(None, None, axis, distribution)
            config[axis] = distribution.to_external_repr(distribution.to_internal_repr(value))
        return config

    def ended(self, record: Any, token: Any) -> None:
        if self.study is not None and token is not None:
            with _quiet_optuna():
                tell(self.study, token, record, self.request.objective)


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """While the search runs here, SIGINT and SIGTERM stop it as Ctrl-C does (what ended is
    saved), whatever handler an earlier search in this process left (Ray Tune's only sets a
    flag that nothing here reads)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in before:
        signal.signal(sig, _interrupt)
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna logs a line per trial at INFO: leantune shows its own progress."""
    logger = logging.getLogger("optuna")
    level = logger.level
    if level >= logging.WARNING:
        # Already quiet. setLevel empties every logger's cache (~1 ms with MLflow's loaded),
        # twice a trial otherwise.
        yield
        return
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
