"""Ray Tune wiring: run the trial loop as Tune trials, decide stops on the driver, tell an observer.

This is the only module that imports Ray. Stopping policies stay Ray-free: a thin Stopper adapter
hands each trial's history to them. The observer (tracking, progress) only ever runs on the driver.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from leantune.engine._trial import DIVERGED, FAILED, TrainingPlan, TrialData, train_trial
from leantune.stoppers import StoppingPolicy, StopReason, TrialHistory

# Set before Ray reads them: keep Tune's own console table and per-trial log files out of the
# way. leantune shows its own progress and records everything in MLflow.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

import ray
from ray import tune
from ray.tune.search.optuna import OptunaSearch

FEASIBLE, STOPPED = "feasible", "stopped"
# A trial that finished while breaking a limit: only when stopping is off (observe-only mode).
INFEASIBLE = "infeasible"

_log = logging.getLogger("leantune")

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
    }
)


@dataclass
class TrialRecord:
    """One ended trial as the driver saw it: config, every report, and how it ended."""

    trial_id: str
    config: dict[str, Any]
    status: str = "running"
    stop_reason: StopReason | None = None
    error: str | None = None
    reports: list[dict[str, Any]] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None

    @property
    def last(self) -> dict[str, Any]:
        return self.reports[-1] if self.reports else {}


class TrialObserver(Protocol):
    """Driver-side listener: the study wires tracking and progress display to these calls."""

    def trial_started(self, record: TrialRecord) -> None: ...

    def trial_reported(self, record: TrialRecord, report: dict[str, Any]) -> None: ...

    def trial_ended(self, record: TrialRecord) -> None: ...


class SearchInterrupted(Exception):
    """The search ended before every trial did (Ctrl-C, SIGTERM). `records` holds the ended ones."""

    def __init__(self, records: list[TrialRecord], planned: int, unfinished: int):
        self.records = records
        self.planned = planned
        self.unfinished = unfinished
        super().__init__(
            f"interrupted: {len(records)} of {planned} trials ended ({unfinished} were running)"
        )


@dataclass(frozen=True)
class LogUniform:
    """A continuous axis sampled log-uniformly in [low, high] (random search and TPE)."""

    low: float
    high: float

    def __str__(self) -> str:
        return f"log-uniform [{self.low:g}, {self.high:g}]"


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
    seed: int = 0
    scheduler: Mapping[str, Any] | None = None
    """{"name": "asha", "grace_period": %, "reduction_factor": n}, or None."""
    enforce: bool = True
    """False: policies only observe. Trials run to the end; a broken limit makes them infeasible."""

    @property
    def planned_trials(self) -> int:
        if self.method == "grid":
            return math.prod(len(v) for v in self.param_space.values())  # type: ignore[arg-type]
        return self.num_samples


def run_search(
    request: SearchRequest, policy: StoppingPolicy, observer: TrialObserver
) -> list[TrialRecord]:
    """Run every config of the grid as a Tune trial; return one record per trial."""
    started_ray = start_ray(request.ray_address)
    try:
        scheduler_name = request.scheduler["name"] if request.scheduler else None
        driver = _Driver(policy, observer, enforce=request.enforce, scheduler=scheduler_name)
        trainable = tune.with_resources(
            tune.with_parameters(
                _trainable, data=request.data, plan=request.plan, cpus=request.cpus_per_trial
            ),
            {"cpu": request.cpus_per_trial},
        )
        tuner = tune.Tuner(
            trainable,
            param_space=_param_space(request),
            tune_config=tune.TuneConfig(
                # One worker process serves trial after trial: ~0.13 s a trial instead of ~1.5 s.
                reuse_actors=True,
                max_concurrent_trials=request.max_concurrent,
                search_alg=_searcher(request, driver),
                scheduler=_scheduler(request),
                num_samples=1 if request.method == "grid" else request.num_samples,
            ),
            run_config=tune.RunConfig(
                name=request.name,
                storage_path=str(request.storage_dir.resolve()),
                verbose=0,
                stop=_PolicyStopper(driver),
                callbacks=[_ObserverCallback(driver)],
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
        tuner.fit()
        records = driver.ended_records()
        # Tune turns Ctrl-C into a graceful stop and returns normally; a short count tells.
        planned = request.planned_trials
        if len(records) < planned:
            raise SearchInterrupted(records, planned, driver.unfinished())
        return records
    finally:
        if started_ray:
            ray.shutdown()


def stop_ray() -> None:
    ray.shutdown()


def start_ray(address: str | None) -> bool:
    """Start a local Ray (or join `address`) unless one is running. True if we started it."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = dict(
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        configure_logging=True,
    )
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(num_cpus=os.cpu_count() or 1, **options)
    if threading.current_thread() is threading.main_thread():
        # Ray's core installs a SIGTERM handler that aborts the process. Give SIGTERM the same
        # graceful stop Tune gives Ctrl-C instead, so what ended is saved.
        signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
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


def _searcher(request: SearchRequest, driver: _Driver) -> Any:
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
        sampler = optuna.samplers.RandomSampler(seed=request.seed)
    return _ConstraintAwareOptuna(driver, metric="objective", mode=request.mode, sampler=sampler)


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


def _trainable(config: dict[str, Any], data: TrialData, plan: TrainingPlan, cpus: int) -> None:
    train_trial(config, data, plan, tune.report, cpus=cpus)


class _Driver:
    """Bookkeeping on the driver: histories, stop decisions, and the observer calls."""

    def __init__(
        self,
        policy: StoppingPolicy,
        observer: TrialObserver,
        *,
        enforce: bool = True,
        scheduler: str | None = None,
    ):
        self.policy = policy
        self.observer = observer
        self.enforce = enforce
        self.scheduler = scheduler
        self.records: dict[str, TrialRecord] = {}
        self.order: list[str] = []
        self.observer_failures = 0

    def _notify(self, event: str, *args: Any) -> None:
        # An observer bug (tracking, display) must not turn into a Tune error that kills the
        # trial and its worker: log it once with its traceback and carry on.
        try:
            getattr(self.observer, event)(*args)
        except Exception:
            self.observer_failures += 1
            if self.observer_failures == 1:
                _log.exception("leantune: %s failed; the study goes on", event)

    def started(self, trial_id: str, config: Mapping[str, Any]) -> None:
        record = TrialRecord(trial_id=trial_id, config=dict(config))
        self.records[trial_id] = record
        self.order.append(trial_id)
        self._notify("trial_started", record)

    def reported(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        """Record a report and return True if the trial must stop now."""
        record = self.records.get(trial_id)
        if record is None:  # a result before on_trial_start: Ray does not do this, but be safe
            self.started(trial_id, result.get("config", {}))
            record = self.records[trial_id]
        report = {k: v for k, v in result.items() if k not in _RAY_KEYS}
        if record.reports and report == record.reports[-1]:
            # When a function trainable returns, Tune repeats its last result with done=True.
            return self._must_stop(record)
        record.reports.append(report)
        self._notify("trial_reported", record, report)
        if record.stop_reason is not None or report.get("trial_status") in (DIVERGED, FAILED):
            return self._must_stop(record)
        decision = self.policy.decide(TrialHistory(record.reports, record.config))
        if decision.stop:
            # Observe-only mode keeps the first reason (it makes the trial infeasible) but lets
            # the trial run on.
            record.stop_reason = decision.reason
        return self._must_stop(record)

    def _must_stop(self, record: TrialRecord) -> bool:
        return self.enforce and record.stop_reason is not None

    def ended(self, trial_id: str, error: str | None = None) -> None:
        record = self.records.get(trial_id)
        if record is None or record.ended_at is not None:
            return
        record.ended_at = time.time()
        trial_status = record.last.get("trial_status")
        if error is not None:
            record.status, record.error = FAILED, error
        elif trial_status in (DIVERGED, FAILED):
            record.status, record.error = trial_status, record.last.get("error")
        elif record.stop_reason is not None:
            if record.stop_reason.rule == "divergence":
                record.status = DIVERGED
            else:
                record.status = STOPPED if self.enforce else INFEASIBLE
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

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.driver.started(trial.trial_id, trial.config)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.driver.ended(trial.trial_id)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.driver.ended(trial.trial_id, error=_error_text(trial))


class _ConstraintAwareOptuna(OptunaSearch):
    """OptunaSearch that tells the sampler which trials broke a limit, and by how much.

    Ray hands a stopped trial to the searcher as complete with its last result, as if it were
    a fine config. Here a trial stopped for a constraint (measured or predicted) reaches Optuna
    with its relative violation as a constraint value, so TPE learns to avoid that region.
    """

    def __init__(self, driver: _Driver, **options: Any):
        super().__init__(**options)
        self._driver = driver

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
            objective = record.last.get("cv_score_mean", record.last.get("objective"))
            if objective is not None:
                result = {**(result or {}), self.metric: objective}
        super().on_trial_complete(trial_id, result=result, error=error)

    def __reduce__(self) -> Any:
        return (_detached_driver, ())


def _error_text(trial: Any) -> str:
    """The last line of the trial's error file: the exception type and message."""
    path = getattr(trial, "error_file", None) or getattr(trial, "pickled_error_file", None)
    try:
        lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip()] if path else []
    except OSError:
        lines = []
    return lines[-1].strip() if lines else "the trial's worker failed"
