"""The Ray Tune backend: the search core's trials as Tune trials, on one machine or a cluster.

This is the only module that imports Ray Tune (Ray's start and join are `_ray`'s, which the
pool of Ray actors uses without Tune). It decides nothing: every report goes to the search
core's trial book (leantune.search.TrialBook), which says whether the trial goes on; a worker
may stop itself at once on the book's own latest-reading rules, but the trial's status is the
book's, judged on its complete record.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import ray

# The trials' own library, loaded with this module, which a worker imports with the trainable:
# the built-in models load it on first use only (for `validate`), and a trial would else start
# by importing it.
import sklearn.linear_model  # noqa: F401
from ray import tune
from ray.tune.search.optuna import OptunaSearch

from leantune import search
from leantune.engine._faults import Fault
from leantune.engine._ray import RAY_ENVIRONMENT, start_ray
from leantune.engine._trial import START_PHASE, StopTraining, TrainingPlan, TrialData, train_trial
from leantune.metrics import Objective
from leantune.search import SearchBackend, SearchRequest, TrialBook, sampler_value
from leantune.search._sampling import frozen_trial, make_sampler
from leantune.search._worker import WorkerRules
from leantune.stoppers import SkipPredicted, StoppingPolicy, StopReason
from leantune.trials import FAILED, PROGRESS_PCT, LogUniform, TrialObserver, TrialRecord

_log = logging.getLogger("leantune")

# Each tune.report is a round trip through the driver's event loop: 15-40 ms of the worker's
# wall time measured on kddcup (a whole report window at small batch sizes costs under 1 ms).
# So the worker sends its reports in batches, at most SearchRequest.flush_seconds apart, and at
# most FLUSH_REPORTS at a time (a batch waiting is memory the trial's own reading counts).
FLUSH_REPORTS = 256
# The earlier reports of a batch ride in its last one, under this key.
_EARLIER_REPORTS = "leantune_earlier_reports"
# A stop decided in the worker, as StopReason fields.
_WORKER_STOP = "leantune_worker_stop"


# Keys Ray adds to every result; the trial's own metrics are everything else.
_RAY_KEYS = frozenset(
    {
        "done",
        "training_iteration",
        "trial_id",
        "date",
        "timestamp",
        "time_this_iter_s",
        "time_total_s",
        "pid",
        "hostname",
        "node_ip",
        "config",
        "time_since_restore",
        "iterations_since_restore",
        "checkpoint_dir_name",
        "experiment_tag",
        "should_checkpoint",
        "node_id",
        _EARLIER_REPORTS,
    }
)
# What Tune reads of a result after the driver took it: the searcher's and the scheduler's
# metric and time, when the trial ends. The rest leaves Tune's copy (_ObserverCallback).
_KEPT_FOR_TUNE = frozenset({"objective", PROGRESS_PCT})
# Marks a result the driver took and trimmed: Tune hands it back when the trial returns.
_TAKEN = "leantune_taken"


def run_search(
    request: SearchRequest,
    policy: StoppingPolicy,
    observer: TrialObserver,
    skip: SkipPredicted | None = None,
    worker_policy: StoppingPolicy | None = None,
    *,
    backend: SearchBackend | None = None,
    limits: StoppingPolicy | None = None,
) -> list[TrialRecord]:
    """`leantune.search.run_search` on Ray Tune unless another backend is given."""
    return search.run_search(
        request,
        policy,
        observer,
        skip,
        worker_policy,
        backend=backend or RayTuneBackend(),
        limits=limits,
    )


class TrialFailed(RuntimeError):
    """Raised in the worker after a failed attempt, so that Tune counts it and may retry it."""


class RayTuneBackend:
    """Runs the request's configs as Ray Tune trials. Starts a private Ray (or joins the one
    `leantune ray start` keeps, or `request.ray_address`) unless one runs, and stops what it
    started."""

    name = "ray-tune"

    def run(
        self, request: SearchRequest, book: TrialBook, worker_policy: StoppingPolicy | None = None
    ) -> None:
        driver = _TuneDriver(book)
        plan = _SearchPlan.build(request, driver)
        started_ray = start_ray(request.ray_address)
        try:
            trainable = tune.with_resources(
                tune.with_parameters(
                    _trainable,
                    data=request.data,
                    plan=request.plan,
                    cpus=request.cpus_per_trial,
                    memory_limit_mb=request.memory_limit_mb,
                    faults=request.faults,
                    worker_policy=worker_policy,
                    # ASHA compares trials at rungs: the book must see each report in time.
                    flush_seconds=0.0 if request.scheduler else request.flush_seconds,
                ),
                {"cpu": request.cpus_per_trial},
            )
            session = request.session
            tuner = tune.Tuner(
                trainable,
                param_space=plan.param_space,
                tune_config=tune.TuneConfig(
                    # One worker process serves trial after trial: ~0.13 s a trial, not ~1.5 s.
                    reuse_actors=True,
                    max_concurrent_trials=plan.max_concurrent,
                    search_alg=plan.search_alg,
                    num_samples=plan.num_samples,
                ),
                run_config=tune.RunConfig(
                    # Each session keeps its own Tune directory: leantune's run directory, not
                    # Tune's experiment state, is what a resume reads.
                    name=request.name if session == 0 else f"{request.name}-resume-{session}",
                    storage_path=str(request.storage_dir.resolve()),
                    verbose=0,
                    stop=_PolicyStopper(driver),
                    callbacks=[_ObserverCallback(driver)],
                    failure_config=tune.FailureConfig(max_failures=request.max_failures),
                ),
            )
            with _quiet_incomplete_trials():
                tuner.fit()
        finally:
            if started_ray:
                ray.shutdown()


@dataclass(frozen=True)
class _SearchPlan:
    """How Tune is asked for this session's trials: the space, the searcher, the count."""

    param_space: dict[str, Any]
    search_alg: Any
    num_samples: int
    max_concurrent: int | None

    @classmethod
    def build(cls, request: SearchRequest, driver: _TuneDriver) -> _SearchPlan:
        points = request.grid_points()
        if points is not None:
            return cls._points(request, points)
        if request.method == "grid":
            return cls(_param_space(request), None, 1, request.max_concurrent)
        return cls(
            _param_space(request),
            _searcher(request, driver),
            request.configs_to_run(),
            request.max_concurrent,
        )

    @classmethod
    def _points(cls, request: SearchRequest, configs: list[dict[str, Any]]) -> _SearchPlan:
        """Exactly these grid configs, in this order."""
        from ray.tune.search.basic_variant import BasicVariantGenerator

        return cls(
            # Points must name keys of the space; their values replace these placeholders.
            {axis: None for axis in request.param_space},
            BasicVariantGenerator(
                points_to_evaluate=configs, max_concurrent=request.max_concurrent or 0
            ),
            len(configs),
            None,  # Tune ignores max_concurrent_trials next to a BasicVariantGenerator
        )


class _IncompleteTrialsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Failed trials are leantune's to report (status, error, MLflow), not Tune's.
        return not str(record.msg).startswith("Trials did not complete")


class _OneLineErrors(logging.Filter):
    """Tune's own failures to save its experiment state (a full disk, a directory made
    unwritable) come with a traceback; the same fault ends the study with leantune's one line
    naming the run directory, so Tune's says only what failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            record.msg, record.args = f"{record.getMessage()}{type(error).__name__}: {error}", None
            record.exc_info = record.exc_text = None
        return True


# Where Tune logs its experiment state's failed saves, with exc_info.
_EXPERIMENT_STATE_LOGGER = "ray.tune.execution.experiment_state"


@contextlib.contextmanager
def _quiet_incomplete_trials() -> Iterator[None]:
    filters = (
        (logging.getLogger("ray.tune.tune"), _IncompleteTrialsFilter()),
        (logging.getLogger(_EXPERIMENT_STATE_LOGGER), _OneLineErrors()),
    )
    for logger, quiet in filters:
        logger.addFilter(quiet)
    added = [key for key in RAY_ENVIRONMENT if key not in os.environ]
    os.environ.update({key: RAY_ENVIRONMENT[key] for key in added})
    try:
        yield
    finally:
        for logger, quiet in filters:
            logger.removeFilter(quiet)
        for key in added:
            os.environ.pop(key, None)


def _param_space(request: SearchRequest) -> dict[str, Any]:
    space: dict[str, Any] = {}
    for axis, values in request.param_space.items():
        if request.method == "grid":
            if isinstance(values, LogUniform):
                raise ValueError(f"grid search needs discrete values for {axis}, not a range")
            space[axis] = tune.grid_search(list(values))
        elif isinstance(values, LogUniform):
            space[axis] = tune.loguniform(values.low, values.high)
        else:
            space[axis] = tune.choice(list(values))
    return space


def _searcher(request: SearchRequest, driver: _TuneDriver) -> Any:
    resume = request.resume
    return _ConstraintAwareOptuna(
        driver,
        history=resume.ended if resume else (),
        objective=request.objective,
        metric="objective",
        mode=request.mode,
        sampler=make_sampler(request),
        points_to_evaluate=request.pending_samples() or None,
    )


def _trainable(
    config: dict[str, Any],
    data: TrialData,
    plan: TrainingPlan,
    cpus: int,
    memory_limit_mb: float | None,
    faults: tuple[Fault, ...],
    worker_policy: StoppingPolicy | None,
    flush_seconds: float,
) -> None:
    transport = _ReportBatches(
        ray.get_runtime_context().get_node_id(), worker_policy, config, flush_seconds
    )
    outcome = train_trial(
        config,
        data,
        plan,
        transport.report,
        cpus=cpus,
        memory_limit_mb=memory_limit_mb,
        faults=faults,
    )
    if outcome.status == FAILED and outcome.retryable:
        # The closing report already carries the error; raising lets Tune count the failure
        # and retry it (resources.max_failures), exactly as when a worker dies.
        raise TrialFailed(outcome.error)


class _ReportBatches:
    """The worker's side of the transport: collects reports, runs the worker's stopping rules
    on each, and sends them to the driver in batches.

    A batch goes at once when the driver must answer before the trial goes on (the start
    report, which the skip rule judges), when the trial ends or a worker rule stops it, and
    otherwise every `flush_seconds` (0: every report, as ASHA's rungs need).
    """

    def __init__(
        self,
        node_id: str,
        policy: StoppingPolicy | None,
        config: Mapping[str, Any],
        flush_seconds: float,
    ):
        self.node_id = node_id
        self.rules = WorkerRules(policy, config)
        self.flush_seconds = flush_seconds
        self.pending: list[dict[str, Any]] = []
        self.sent_at = time.perf_counter()

    def report(self, result: dict[str, Any]) -> None:
        ends = "trial_status" in result
        reason = self.rules.judge(result)
        if reason is not None:
            result = {**result, _WORKER_STOP: asdict(reason)}
        self.pending.append(result)
        if (
            ends
            or reason is not None
            or result.get("trial_phase") == START_PHASE
            # A first report is the cheap stop's evidence: the book judges it at once.
            or result.get("early_report", False)
            or len(self.pending) >= FLUSH_REPORTS
            or time.perf_counter() - self.sent_at >= self.flush_seconds
        ):
            self.flush()
        if reason is not None:
            raise StopTraining(reason.describe())

    def flush(self) -> None:
        if not self.pending:
            return
        *earlier, last = self.pending
        self.pending = []
        # Two nodes on one machine share an IP and a hostname; the node id tells them apart.
        payload = {**last, "node_id": self.node_id}
        if earlier:
            payload[_EARLIER_REPORTS] = earlier
        tune.report(payload)
        self.sent_at = time.perf_counter()


class _TuneDriver:
    """Tune's trial events, translated for the trial book: Ray's own keys dropped, a batch of
    reports unpacked in order, a repeated closing result ignored."""

    def __init__(self, book: TrialBook):
        self.book = book

    @property
    def records(self) -> dict[str, TrialRecord]:
        return self.book.records

    def started(self, tune_id: str, config: Mapping[str, Any]) -> None:
        self.book.started(tune_id, config)

    def reported(self, tune_id: str, result: Mapping[str, Any]) -> bool:
        """Record a batch of reports (oldest first) and return True if the trial must stop."""
        if tune_id not in self.book.records:  # a result before on_trial_start: be safe
            self.book.started(tune_id, result.get("config", {}))
        record = self.book.records[tune_id]
        if result.get(_TAKEN):
            # When a function trainable returns, Tune repeats its last result with done=True.
            return self.book.must_stop(tune_id)
        record.node_id = result.get("node_id", record.node_id)
        record.worker_pid = result.get("pid", record.worker_pid)
        last = {k: v for k, v in result.items() if k not in _RAY_KEYS}
        plain = {k: v for k, v in last.items() if k != _WORKER_STOP}
        if (
            last.get("trial_phase") != START_PHASE
            and record.reports
            and plain == record.reports[-1]
        ):
            return self.book.must_stop(tune_id)  # Tune's repeat of the closing result
        stop = False
        for report in [*(result.get(_EARLIER_REPORTS) or ()), last]:
            report = dict(report)
            worker_stop = report.pop(_WORKER_STOP, None)
            reason = StopReason(**worker_stop) if worker_stop else None
            stop = self.book.reported(tune_id, report, reason)
        return stop

    def recovering(self, tune_id: str, error: str) -> None:
        self.book.recovering(tune_id, error)

    def ended(self, tune_id: str, error: str | None = None) -> None:
        self.book.ended(tune_id, error)

    def __reduce__(self) -> Any:
        # Tune pickles its run config (with our stopper and callback) into the experiment
        # directory; the live book does not belong there.
        return (_detached_driver, ())


def _detached_driver() -> None:
    return None


class _PolicyStopper(tune.Stopper):
    def __init__(self, driver: _TuneDriver):
        self.driver = driver

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return self.driver.reported(trial_id, result)

    def stop_all(self) -> bool:
        return False


class _ObserverCallback(tune.Callback):
    def __init__(self, driver: _TuneDriver):
        self.driver = driver

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        # The driver holds every report already (the stopper took this one). Tune keeps the
        # result it is handed as the trial's latest: per numeric key it updates running
        # statistics, encodes it into its experiment state and its progress lines. So it keeps
        # only what it reads again; a batch's earlier reports alone are often a long list.
        for key in [k for k in result if k == _EARLIER_REPORTS or k not in _RAY_KEYS]:
            if key not in _KEPT_FOR_TUNE:
                del result[key]
        result[_TAKEN] = True

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.driver.started(trial.trial_id, trial.config)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.driver.ended(trial.trial_id)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.driver.ended(trial.trial_id, error=_error_text(trial))

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.driver.recovering(trial.trial_id, _error_text(trial))


class _ConstraintAwareOptuna(OptunaSearch):
    """OptunaSearch that tells the sampler which trials broke a limit, and by how much.

    Ray hands a stopped trial to the searcher as complete with its last result, as if it were
    a fine config. Here a trial stopped for a constraint (measured or predicted) reaches Optuna
    with its relative violation as a constraint value, so TPE learns to avoid that region.
    """

    def __init__(
        self,
        driver: _TuneDriver,
        history: Sequence[TrialRecord] = (),
        objective: Objective | None = None,
        **options: Any,
    ):
        self._driver = driver
        self._history = list(history)
        self._objective = objective
        super().__init__(**options)

    def _setup_study(self, mode: Any) -> None:
        super()._setup_study(mode)
        # A resumed study: the sampler learns from every trial that ended earlier, with the
        # same value and constraint violation it would have been told then.
        for record in self._history:
            self._ot_study.add_trial(frozen_trial(record, self._space, self._objective))

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        # Closing reports of failed trials and start reports carry no objective.
        if self.metric in result and result.get("trial_phase") != START_PHASE:
            super().on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        record = self._driver.records.get(trial_id)
        ot_trial = self._ot_trials.get(trial_id)
        if record is not None and ot_trial is not None:
            reason = record.stop_reason
            violation = reason.violation if reason is not None else 0.0
            ot_trial.set_user_attr("constraint_violation", violation)
            if hasattr(ot_trial, "set_constraint"):
                ot_trial.set_constraint("violation", violation)
            if reason is not None:
                ot_trial.set_user_attr("stop_reason", reason.describe())
            objective = sampler_value(record, self._objective)
            if objective is not None:
                result = {**(result or {}), self.metric: objective}
            elif self._objective is not None and result:
                # The reports' `objective` is the CV score, not the study's objective.
                result = {k: v for k, v in result.items() if k != self.metric}
        super().on_trial_complete(trial_id, result=result, error=error)

    def __reduce__(self) -> Any:
        return (_detached_driver, ())


_DEAD_WORKER = re.compile(r"worker process has died|actor died unexpectedly", re.IGNORECASE)
_CAUSE = re.compile(r"The actor is dead because ([^.]+)\.")
_EXIT_TYPE = re.compile(r"Worker exit type: (\w+)")
_PID = re.compile(r"\bpid: (\d+)")


def _error_text(trial: Any) -> str:
    """What ended the trial's attempt: the exception's type and message, or the worker's death.

    Ray describes a dead worker over many lines; the record keeps one sentence with the cause.
    """
    path = getattr(trial, "error_file", None) or getattr(trial, "pickled_error_file", None)
    try:
        text = Path(path).read_text() if path else ""
    except OSError:
        text = ""
    # Tune appends each failure of a retried trial to the same file: the last one is this one.
    text = text.rsplit("Failure # ", 1)[-1]
    if _DEAD_WORKER.search(text):
        pid, cause, exit_type = _PID.search(text), _CAUSE.search(text), _EXIT_TYPE.search(text)
        said = [cause.group(1) if cause else "", exit_type.group(1) if exit_type else ""]
        return (
            f"WorkerDied: the trial's worker process{f' (pid {pid.group(1)})' if pid else ''} "
            f"died while training ({', '.join(p for p in said if p) or 'unexpected exit'}): "
            "killed by a signal such as SIGKILL or the out-of-memory killer, crashed, or its "
            "node was lost"
        )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "the trial's worker failed"
