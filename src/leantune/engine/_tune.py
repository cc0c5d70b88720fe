"""Ray Tune wiring: run the trial loop as Tune trials, decide stops on the driver, tell an observer.

This is the only module that imports Ray. Stopping policies stay Ray-free: a thin Stopper adapter
hands each trial's history to them. The observer (tracking, progress) only ever runs on the driver.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import random
import re
import signal
import threading
import time
from collections import Counter
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

from leantune._signals import stop_on_sigterm
from leantune.engine import _persistent
from leantune.engine._faults import Fault
from leantune.engine._trial import (
    START_PHASE,
    StopTraining,
    TrainingPlan,
    TrialData,
    train_trial,
)
from leantune.metrics import Objective
from leantune.stoppers import SkipPredicted, StoppingPolicy, StopReason, TrialHistory
from leantune.trials import (
    DIVERGED,
    FAILED,
    FEASIBLE,
    INFEASIBLE,
    SKIPPED,
    STOPPED,
    LogUniform,
    ResumePoint,
    SearchInterrupted,
    TrialObserver,
    TrialRecord,
    config_key,
)

_log = logging.getLogger("leantune")

# Each tune.report is a round trip through the driver's event loop: 15-40 ms of the worker's
# wall time measured on kddcup (a whole report window at small batch sizes costs under 1 ms).
# So the worker sends its reports in batches, at most FLUSH_SECONDS apart by default, and at
# most FLUSH_REPORTS at a time (a batch waiting is memory the trial's own reading counts).
FLUSH_SECONDS = 1.0
FLUSH_REPORTS = 256
# The earlier reports of a batch ride in its last one, under this key.
_EARLIER_REPORTS = "leantune_earlier_reports"
# A stop decided in the worker, as StopReason fields.
_WORKER_STOP = "leantune_worker_stop"
# Reports the worker's rules may look back over (ConstraintPolicy's `sustained` readings).
_WORKER_HISTORY = 64


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
_KEPT_FOR_TUNE = frozenset({"objective", "progress_pct"})
# Marks a result the driver took and trimmed: Tune hands it back when the trial returns.
_TAKEN = "leantune_taken"


class TrialFailed(RuntimeError):
    """Raised in the worker after a failed attempt, so that Tune counts it and may retry it."""


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
    """grid, random or tpe (Optuna's samplers, through Ray Tune's OptunaSearch)."""
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
            return math.prod(len(v) for v in self.param_space.values())  # type: ignore[arg-type]
        return self.num_samples


def run_search(
    request: SearchRequest,
    policy: StoppingPolicy,
    observer: TrialObserver,
    skip: SkipPredicted | None = None,
    worker_policy: StoppingPolicy | None = None,
) -> list[TrialRecord]:
    """Run every config of the search as a Tune trial; return one record per trial ended here.

    With `request.resume`, only what earlier sessions left is run: the configs that did not
    end, under their old trial ids, and (random, TPE) the samples still to draw. `skip`
    decides on each trial's start report (request.plan.announce_start) whether it trains.
    `worker_policy`: the rules each trial's worker runs on its own reports, stopping at the
    report that breaks them; `policy` (every rule) judges the same reports on the driver as
    their batches arrive.
    """
    session = request.resume.session if request.resume else 0
    driver = _Driver(
        policy,
        observer,
        enforce=request.enforce,
        scheduler=request.scheduler["name"] if request.scheduler else None,
        unfinished=request.resume.unfinished if request.resume else (),
        taken=[r.trial_id for r in request.resume.ended] if request.resume else (),
        session=session,
        skip=skip if request.enforce else None,
    )
    plan = _SearchPlan.build(request, driver)
    if plan.trials == 0:  # an earlier session ended every trial; only the results remain
        return []
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
                worker_policy=worker_policy if request.enforce else None,
                # ASHA compares trials at rungs counted in reports: it must see every one.
                flush_seconds=0.0 if request.scheduler else request.flush_seconds,
            ),
            {"cpu": request.cpus_per_trial},
        )
        tuner = tune.Tuner(
            trainable,
            param_space=plan.param_space,
            tune_config=tune.TuneConfig(
                # One worker process serves trial after trial: ~0.13 s a trial instead of ~1.5 s.
                reuse_actors=True,
                max_concurrent_trials=plan.max_concurrent,
                search_alg=plan.search_alg,
                scheduler=_scheduler(request),
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
        records = driver.ended_records()
        # Tune turns Ctrl-C into a graceful stop and returns normally; a short count tells.
        if len(records) < plan.trials:
            raise SearchInterrupted(records, plan.trials, driver.unfinished())
        return records
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
    trials: int

    @classmethod
    def build(cls, request: SearchRequest, driver: _Driver) -> _SearchPlan:
        resume = request.resume
        if resume is None and request.method == "grid" and request.trial_order_seed is not None:
            configs = _grid_configs(request.param_space)
            random.Random(request.trial_order_seed).shuffle(configs)
            return cls._points(request, configs)
        if resume is None:
            return cls(
                _param_space(request),
                _searcher(request, driver),
                1 if request.method == "grid" else request.num_samples,
                request.max_concurrent,
                request.planned_trials,
            )
        if request.method == "grid":
            # The configs that did not end, as explicit points: a grid cannot leave any out.
            ended = [record.config for record in resume.ended]
            return cls._points(request, _without(_grid_configs(request.param_space), ended))
        remaining = max(0, request.num_samples - len(resume.ended))
        pending = [dict(config) for _, config in resume.unfinished][:remaining]
        return cls(
            _param_space(request),
            _searcher(request, driver, pending=pending, history=resume.ended),
            remaining,
            request.max_concurrent,
            remaining,
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
            len(configs),
        )


def _grid_configs(param_space: Mapping[str, Any]) -> list[dict[str, Any]]:
    axes, values = list(param_space), list(param_space.values())
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*values)]


def _without(
    configs: list[dict[str, Any]], taken: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    left = Counter(config_key(config) for config in taken)
    kept = []
    for config in configs:
        key = config_key(config)
        if left[key]:
            left[key] -= 1
        else:
            kept.append(config)
    return kept


class _IncompleteTrialsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Failed trials are leantune's to report (status, error, MLflow), not Tune's.
        return not str(record.msg).startswith("Trials did not complete")


# Keep Tune's own console table and per-trial log files out of the way: leantune shows its
# own progress and records everything in MLflow. A failed trial is recorded with its error by
# the driver, so Tune need not print each one's traceback too. Tune reads these while it runs;
# they are set only for that time (a user's own values win), so importing leantune sets none.
RAY_ENVIRONMENT = {
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "TUNE_PRINT_ALL_TRIAL_ERRORS": "0",
    # leantune resumes from its own run directory, never from Tune's experiment state: Tune
    # need not rewrite that state every few seconds (each write encodes every trial, ~10 ms a
    # trial of driver CPU); it still writes it when the search starts and when it ends.
    "TUNE_GLOBAL_CHECKPOINT_S": "86400",
}


@contextlib.contextmanager
def _quiet_incomplete_trials() -> Iterator[None]:
    logger, quiet = logging.getLogger("ray.tune.tune"), _IncompleteTrialsFilter()
    logger.addFilter(quiet)
    added = [key for key in RAY_ENVIRONMENT if key not in os.environ]
    os.environ.update({key: RAY_ENVIRONMENT[key] for key in added})
    try:
        yield
    finally:
        logger.removeFilter(quiet)
        for key in added:
            os.environ.pop(key, None)


# The SIGTERM handler start_ray replaced, put back by stop_ray.
_sigterm_before: list[Any] = []


# The environment settings start_ray added, taken away by stop_ray.
_added_environment: list[str] = []


def stop_ray() -> None:
    ray.shutdown()
    while _added_environment:
        os.environ.pop(_added_environment.pop(), None)
    if _sigterm_before and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _sigterm_before.pop())


def start_ray(address: str | None) -> bool:
    """Start a local Ray (or join `address`) unless one is running. True if we started it."""
    if ray.is_initialized():
        return False
    main = threading.current_thread() is threading.main_thread()
    # None: a handler not installed from Python, which signal.signal cannot put back.
    before = (signal.getsignal(signal.SIGTERM) or signal.SIG_DFL) if main else None
    options: dict[str, Any] = dict(
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        configure_logging=True,
    )
    # Ray's own processes inherit the driver's environment when they start: the settings are
    # there while leantune's Ray runs, and go again with it (stop_ray).
    _added_environment[:] = [key for key in RAY_ENVIRONMENT if key not in os.environ]
    os.environ.update({key: RAY_ENVIRONMENT[key] for key in _added_environment})
    if address:
        ray.init(address=address, **options)
    elif (persistent := _persistent.running()) is not None:
        # `leantune ray start` left a local Ray running: join it, skipping Ray's start and stop.
        with _persistent.loopback_only():  # it listens on 127.0.0.1 only
            ray.init(address=persistent["address"], **options)
    else:
        # "local" starts a private Ray: address=None would join any cluster that RAY_ADDRESS
        # or /tmp/ray/ray_current_cluster points at, then refuse num_cpus.
        with _persistent.loopback_only():  # serves this driver alone: not the network's
            ray.init(address="local", num_cpus=os.cpu_count() or 1, **options)
    if main:
        # Ray's core installs a SIGTERM handler that aborts the process. Give SIGTERM the same
        # graceful stop Tune gives Ctrl-C instead, so what ended is saved. stop_ray puts back
        # the handler that was there before Ray started.
        _sigterm_before[:] = [before]
        stop_on_sigterm()
    return True


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


def _searcher(
    request: SearchRequest,
    driver: _Driver,
    *,
    pending: list[dict[str, Any]] | None = None,
    history: Sequence[TrialRecord] = (),
) -> Any:
    if request.method == "grid":
        return None
    import optuna

    if request.method == "tpe":
        # Few startup trials: studies here are small, and feasibility is learned fast.
        startup = min(10, max(3, request.num_samples // 5))
        if hasattr(optuna.trial.Trial, "set_constraint"):  # Optuna >= 5 reads trial constraints
            sampler = optuna.samplers.TPESampler(seed=request.seed, n_startup_trials=startup)
        else:
            sampler = optuna.samplers.TPESampler(
                seed=request.seed, n_startup_trials=startup, constraints_func=_violations
            )
    else:
        # A resumed random search draws from a fresh stream, so it does not repeat the
        # configs of the first session.
        session = request.resume.session if request.resume else 0
        sampler = optuna.samplers.RandomSampler(seed=request.seed + 7919 * session)
    return _ConstraintAwareOptuna(
        driver,
        history=history,
        objective=request.objective,
        metric="objective",
        mode=request.mode,
        sampler=sampler,
        points_to_evaluate=pending or None,
    )


def _violations(trial: Any) -> tuple[float]:
    # Optuna reads values > 0 as infeasible, and ranks infeasible trials by how far over they are.
    return (trial.user_attrs.get("constraint_violation", 0.0),)


def _scheduler(request: SearchRequest) -> Any:
    if not request.scheduler:
        return None
    options = request.scheduler
    # Progress in percent of the trial's planned steps: configs with different batch sizes
    # make different numbers of steps, but reach the same rungs after the same share of data.
    return tune.schedulers.ASHAScheduler(
        time_attr="progress_pct",
        metric="objective",
        mode=request.mode,
        max_t=100,
        grace_period=options.get("grace_period", 10),
        reduction_factor=options.get("reduction_factor", 3),
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
        self.policy = policy
        self.config = config
        self.flush_seconds = flush_seconds
        self.pending: list[dict[str, Any]] = []
        self.recent: list[dict[str, Any]] = []
        self.sent_at = time.perf_counter()

    def report(self, result: dict[str, Any]) -> None:
        ends = "trial_status" in result
        reason = None
        if self.policy is not None and not ends and result.get("trial_phase") != START_PHASE:
            self.recent.append(result)
            if len(self.recent) > 2 * _WORKER_HISTORY:  # trimmed now and then, not every time
                del self.recent[:-_WORKER_HISTORY]
            decision = self.policy.decide(TrialHistory(self.recent, self.config))
            if decision.stop and decision.reason is not None:
                reason = decision.reason
                result = {**result, _WORKER_STOP: asdict(reason)}
        self.pending.append(result)
        if (
            ends
            or reason is not None
            or result.get("trial_phase") == START_PHASE
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


class _Driver:
    """Bookkeeping on the driver: histories, stop decisions, and the observer calls.

    Records are keyed by Tune's trial id. A record's own `trial_id` is the same, except for a
    trial resumed from an earlier session, which keeps the id it had there.
    """

    def __init__(
        self,
        policy: StoppingPolicy,
        observer: TrialObserver,
        *,
        enforce: bool = True,
        scheduler: str | None = None,
        unfinished: Sequence[tuple[str, Mapping[str, Any]]] = (),
        taken: Sequence[str] = (),
        session: int = 0,
        skip: SkipPredicted | None = None,
    ):
        """`unfinished`: (id, config) of trials an earlier session left running, adopted by the
        trial that runs the same config; `taken`: ids earlier sessions used."""
        self.policy = policy
        self.skip = skip
        self.observer = observer
        self.enforce = enforce
        self.scheduler = scheduler
        self.session = session
        self.records: dict[str, TrialRecord] = {}
        self.order: list[str] = []
        self.observer_failures = 0
        self._adoptable: dict[str, list[str]] = {}
        for trial_id, config in unfinished:
            self._adoptable.setdefault(config_key(config), []).append(trial_id)
        self._taken = {trial_id for trial_id, _ in unfinished} | set(taken)

    def _notify(self, event: str, *args: Any) -> None:
        # An observer bug (tracking, display) must not turn into a Tune error that kills the
        # trial and its worker: log it once with its traceback and carry on.
        handler = getattr(self.observer, event, None)
        if handler is None:
            return
        try:
            handler(*args)
        except Exception:
            self.observer_failures += 1
            if self.observer_failures == 1:
                _log.exception("leantune: %s failed; the study goes on", event)

    def started(self, tune_id: str, config: Mapping[str, Any]) -> None:
        if tune_id in self.records:
            return  # Tune starts a failed trial again: `recovering` has reset its record
        ids = self._adoptable.get(config_key(config))
        if ids:
            trial_id = ids.pop(0)
        elif tune_id in self._taken:
            # Tune's ids carry 5 random hex digits a session: never reuse an earlier trial's.
            trial_id = f"{tune_id}-s{self.session}"
        else:
            trial_id = tune_id
        record = TrialRecord(trial_id=trial_id, config=dict(config), session=self.session)
        self.records[tune_id] = record
        self.order.append(tune_id)
        self._notify("trial_started", record)

    def reported(self, tune_id: str, result: Mapping[str, Any]) -> bool:
        """Record a batch of reports (oldest first) and return True if the trial must stop."""
        record = self.records.get(tune_id)
        if record is None:  # a result before on_trial_start: Ray does not do this, but be safe
            self.started(tune_id, result.get("config", {}))
            record = self.records[tune_id]
        if result.get(_TAKEN):
            # When a function trainable returns, Tune repeats its last result with done=True.
            return self._must_stop(record)
        record.node_id = result.get("node_id", record.node_id)
        record.worker_pid = result.get("pid", record.worker_pid)
        last = {k: v for k, v in result.items() if k not in _RAY_KEYS}
        worker_stop = last.pop(_WORKER_STOP, None)
        if last.get("trial_phase") == START_PHASE:
            return self._started_training(record, last)
        if record.reports and last == record.reports[-1]:
            # When a function trainable returns, Tune repeats its last result with done=True.
            return self._must_stop(record)
        for report in result.get(_EARLIER_REPORTS) or ():
            self._take(record, dict(report), report.get(_WORKER_STOP))
        self._take(record, last, worker_stop)
        return self._must_stop(record)

    def _take(
        self, record: TrialRecord, report: dict[str, Any], worker_stop: Mapping[str, Any] | None
    ) -> None:
        """One report: keep it, tell the observer, and judge it unless the trial is judged."""
        report.pop(_WORKER_STOP, None)
        record.reports.append(report)
        self._notify("trial_reported", record, report)
        if record.stop_reason is not None or report.get("trial_status") in (DIVERGED, FAILED):
            return
        history = TrialHistory(record.reports, record.config)
        if self.skip is not None:
            self.skip.cost_model.observe(history)
        if worker_stop is not None:
            # The worker's rules stopped it at this report; the driver's would say the same.
            record.stop_reason = StopReason(**worker_stop)
            return
        decision = self.policy.decide(history)
        if decision.stop:
            # Observe-only mode keeps the first reason (it makes the trial infeasible) but lets
            # the trial run on.
            record.stop_reason = decision.reason

    def _started_training(self, record: TrialRecord, start: dict[str, Any]) -> bool:
        """The trial's report before its first step: skip it if the cost model says so. A
        trial that trains keeps no trace of it; a skipped one keeps it as its only report."""
        if self.skip is None or record.reports:
            return False
        decision = self.skip.decide(record.config, start)
        if not decision.stop:
            return False
        record.stop_reason = decision.reason
        closing = {**start, "trial_status": SKIPPED}
        # What it would have cost: the ledger's estimate of what skipping saved.
        for prediction in self.skip.cost_model.predict(record.config, start["steps_planned"]):
            closing[f"predicted_{prediction.metric}"] = prediction.value
        closing.pop("trial_phase", None)
        record.reports.append(closing)
        self._notify("trial_reported", record, closing)
        return True

    def _must_stop(self, record: TrialRecord) -> bool:
        return self.enforce and record.stop_reason is not None

    def recovering(self, tune_id: str, error: str) -> None:
        """An attempt failed and Tune will run the trial again: keep its error, void its reports."""
        record = self.records.get(tune_id)
        if record is None or record.ended_at is not None:
            return
        record.attempt_errors.append(self._attempt_error(record, error))
        record.attempts += 1
        record.reports, record.stop_reason = [], None
        self._notify("trial_restarted", record)

    @staticmethod
    def _attempt_error(record: TrialRecord, tune_error: str) -> str:
        # A trial that failed in its own code said why in its closing report; Tune's error file
        # then only holds the TrialFailed re-raise. A dead worker leaves no closing report.
        if record.last.get("trial_status") == FAILED and record.last.get("error"):
            return str(record.last["error"])
        return tune_error

    def ended(self, tune_id: str, error: str | None = None) -> None:
        record = self.records.get(tune_id)
        if record is None or record.ended_at is not None:
            return
        record.ended_at = time.time()
        trial_status = record.last.get("trial_status")
        if error is not None:
            record.status, record.error = FAILED, self._attempt_error(record, error)
            record.attempt_errors.append(record.error)
        elif trial_status in (DIVERGED, FAILED):
            record.status, record.error = trial_status, record.last.get("error")
            if trial_status == FAILED and record.error:
                record.attempt_errors.append(record.error)
        elif record.stop_reason is not None:
            if record.stop_reason.rule == "skip":
                record.status = SKIPPED
            elif record.stop_reason.rule == "divergence":
                record.status = DIVERGED
            else:
                # A limit judged on the finished trial (quality) did not cut it short.
                cut_short = self.enforce and not record.stop_reason.final
                record.status = STOPPED if cut_short else INFEASIBLE
        elif trial_status is not None:
            record.status = FEASIBLE
        elif self.scheduler and record.reports:
            # Ended cleanly, early, with no policy decision: the scheduler (ASHA) stopped it.
            last = record.last
            record.status = STOPPED
            record.stop_reason = StopReason(
                rule=self.scheduler,
                metric="objective",
                value=float(last.get("objective", float("nan"))),
                threshold=float("nan"),
                step=int(last.get("step", 0)),
                detail=f"stopped by the {self.scheduler.upper()} scheduler at a rung",
            )
        else:
            record.status, record.error = FAILED, "ended without a final report"
        self._notify("trial_ended", record)

    def ended_records(self) -> list[TrialRecord]:
        return [self.records[t] for t in self.order if self.records[t].ended_at is not None]

    def unfinished(self) -> int:
        return sum(1 for record in self.records.values() if record.ended_at is None)

    def __reduce__(self) -> Any:
        # Tune pickles its run config (with our stopper and callback) into the experiment
        # directory; the live observer does not belong there.
        return (_detached_driver, ())


def _detached_driver() -> None:
    return None


class _PolicyStopper(tune.Stopper):
    def __init__(self, driver: _Driver):
        self.driver = driver

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return self.driver.reported(trial_id, result)

    def stop_all(self) -> bool:
        return False


class _ObserverCallback(tune.Callback):
    def __init__(self, driver: _Driver):
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
        driver: _Driver,
        history: Sequence[TrialRecord] = (),
        objective: Objective | None = None,
        **options: Any,
    ):
        self._driver = driver
        self._history = list(history)
        self._objective = objective
        super().__init__(**options)

    def _value(self, record: TrialRecord) -> Any:
        """The trial's value for the sampler: the study's objective, else its CV score."""
        if self._objective is not None:
            value = self._objective.value(record.reports)
            return value if math.isfinite(value) else None
        return record.last.get("cv_score_mean", record.last.get("objective"))

    def _setup_study(self, mode: Any) -> None:
        super()._setup_study(mode)
        # A resumed study: the sampler learns from every trial that ended earlier, with the
        # same value and constraint violation it would have been told then.
        import optuna

        for record in self._history:
            params = {name: record.config[name] for name in self._space}
            value = self._value(record)
            violation = record.stop_reason.violation if record.stop_reason else 0.0
            complete = isinstance(value, int | float) and math.isfinite(value)
            self._ot_study.add_trial(
                optuna.trial.create_trial(
                    params=params,
                    distributions=self._space,
                    value=float(value) if complete else None,
                    state=optuna.trial.TrialState.COMPLETE
                    if complete
                    else optuna.trial.TrialState.FAIL,
                    user_attrs={"constraint_violation": violation},
                    system_attrs={"constraints": (violation,)},
                )
            )

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if self.metric in result:  # closing reports of failed trials carry no objective
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
            objective = self._value(record)
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
