"""Run a whole study: prepare, search on Ray Tune, pick the best feasible config, refit, record."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import yaml
from rich.console import Console
from rich.markup import escape

from leantune.engine import (
    Fault,
    ResumePoint,
    SearchInterrupted,
    TrialRecord,
)
from leantune.errors import LeantuneError
from leantune.results import Ledger, RunDir
from leantune.spec import StudySpec, dump_spec, load_spec
from leantune.study._ledger import build_ledger
from leantune.study._lock import own_run_dir
from leantune.study._observer import StoreLost, StudyObserver, dataset_tags, flatten
from leantune.study._policies import build_decisions, constraint_limits
from leantune.study._prepare import PreparedStudy, prepare_study
from leantune.study._progress import ProgressDisplay
from leantune.study._recording import RecordingGuard, recording_into
from leantune.study._results import (
    FinalModel,
    pick_and_refit,
    reports_table,
    status_counts,
    trials_table,
)
from leantune.study._search import backend_for, search, search_request, training_plan
from leantune.study._state import StudyState, dataset_fingerprint
from leantune.study._summary import build_summary, summary_metrics
from leantune.tracking import (
    Tracker,
    open_tracker,
    preload_model_saving,
    save_model,
    store_uri,
)
from leantune.trials import CV_SCORE_MEAN

_log = logging.getLogger("leantune")


# Ray loads only when a study runs on it: the process pool and in-process backends, and every
# check before a study starts, never pay its import (~2 s).
def start_ray(address: str | None) -> bool:
    from leantune.engine import start_ray as start

    return start(address)


def stop_ray() -> None:
    from leantune.engine import stop_ray as stop

    stop()


def require_cpus(cpus_per_trial: int, address: str | None) -> None:
    from leantune.engine import require_cpus as require

    require(cpus_per_trial, address)


class StudyInterrupted(Exception):
    """The study was interrupted; the trials that ended are saved in `run_dir`."""

    def __init__(self, run_dir: Path, reason: str):
        self.run_dir = run_dir
        super().__init__(
            f"{reason}; the trials that ended are in {RunDir(run_dir).trials_csv}. "
            f"`leantune resume {run_dir}` finishes the study"
        )


@dataclass
class StudyResult:
    """A study's outcome: the chosen config and model, and every trial (`leantune.load`
    reads one back from its run directory)."""

    run_dir: Path
    summary: dict[str, Any]
    trials: pd.DataFrame
    """One row per trial (the columns of trials.csv)."""
    records: list[TrialRecord] = field(repr=False)
    """Each trial's reports; empty for a result loaded from its run directory."""
    final: FinalModel | None

    @property
    def best_config(self) -> dict[str, Any] | None:
        return self.final.config if self.final else None

    @property
    def best_score(self) -> float | None:
        """The chosen config's mean cross-validation score (`summary["best"]["cv_metric"]`)."""
        best = self.summary.get("best") or {}
        return best.get(CV_SCORE_MEAN)

    @property
    def best_estimator(self) -> Any:
        """The chosen config refit on the whole training part: a scikit-learn Pipeline that
        scales raw feature rows, then predicts. None when no config was feasible."""
        return self.final.estimator if self.final else None

    # Optuna's names, where a user of Optuna looks for them.
    @property
    def best_params(self) -> dict[str, Any] | None:
        """The chosen config (Optuna's `study.best_params`): `best_config`."""
        return self.best_config

    @property
    def best_value(self) -> float | None:
        """The chosen trial's value of the objective (Optuna's `study.best_value`): its mean
        CV score unless the spec set another `objective`."""
        best = self.summary.get("best") or {}
        value = best.get("objective_value")
        return value if value is not None else self.best_score

    def trials_dataframe(self) -> pd.DataFrame:
        """Every trial, one row each (Optuna's `study.trials_dataframe()`): a copy of `trials`."""
        return self.trials.copy()

    def __repr__(self) -> str:
        best = self.summary.get("best") or {}
        score = (
            f"{best.get('cv_metric')}={self.best_score:.4g}"
            if isinstance(self.best_score, int | float)
            else "no feasible config"
        )
        return (
            f"StudyResult({self.summary.get('study')!r}, {len(self.trials)} trials, "
            f"best {score}, config={self.best_config}, run_dir={str(self.run_dir)!r})"
        )


def run_study(
    spec: StudySpec,
    *,
    console: Console | None = None,
    show_progress: bool = True,
    tracker: Tracker | None = None,
    faults: tuple[Fault, ...] = (),
    on_summary: Callable[[dict[str, Any]], None] | None = None,
    data: Any = None,
    trainable: Any = None,
    trial_order_seed: int | None = None,
) -> StudyResult:
    """Run `spec` end to end. Invalid input raises LeantuneError before anything is created.

    `faults` is for tests only: misbehaviour injected into chosen trials (leantune.engine.Fault).
    `on_summary` gets the summary of a completed study as soon as it is saved, before the
    report is drawn. `data`: a Dataset given in Python (dataset source memory); `trainable`:
    the training function of the spec's `trainable: true` model. `trial_order_seed` (grid):
    run the configs in that seed's shuffled order (the summary says so), a control for
    effects of run order.
    """
    console = console or Console(stderr=True)
    clock = _Clock()
    prepared = prepare_study(spec, data=data, trainable=trainable)
    prepared.run_dir.mkdir(parents=True, exist_ok=True)
    with own_run_dir(prepared.run_dir, fresh=True), recording_into(prepared.run_dir):
        return _start_study(
            prepared, console, show_progress, tracker, faults, clock, on_summary, trial_order_seed
        )


def _start_study(
    prepared: PreparedStudy,
    console: Console,
    show_progress: bool,
    tracker: Tracker | None,
    faults: tuple[Fault, ...],
    clock: _Clock,
    on_summary: Callable[[dict[str, Any]], None] | None,
    trial_order_seed: int | None = None,
) -> StudyResult:
    spec, run_dir = prepared.spec, prepared.run_dir
    spec_yaml = dump_spec(spec)
    RunDir(run_dir).write_spec(spec_yaml)
    console.print(
        f"[bold]{spec.name}[/]: {escape(prepared.dataset.describe())}; {prepared.n_trials} "
        f"configs × {len(prepared.splits.folds)} folds → {escape(str(run_dir))}",
        highlight=False,
    )
    tracking_uri = tracker.uri if tracker is not None else store_uri(spec.tracking_uri, run_dir)

    tracker, started_ray = _open_tracker_and_ray(
        spec, run_dir, tracker, _study_run_starter(prepared, spec_yaml)
    )
    # The study's run id joins the state when the tracker is first used (StudyObserver):
    # before any trial's file, so a resume always finds the run its trials belong to.
    state = StudyState.create(
        run_dir,
        study=spec.name,
        parent_run_id=None,
        tracking_uri=tracking_uri,
        cwd=str(Path.cwd()),
        dataset_fingerprint=dataset_fingerprint(prepared.dataset.X, prepared.dataset.y),
    )
    try:
        return _search_and_record(
            prepared,
            state,
            tracker,
            console,
            show_progress,
            clock,
            faults,
            on_summary=on_summary,
            trial_order_seed=trial_order_seed,
        )
    finally:
        if started_ray:
            stop_ray()


def _study_run_starter(prepared: PreparedStudy, spec_yaml: str) -> Callable[[Tracker], None]:
    """What starts the study's MLflow run on an opened tracker."""
    spec, run_dir = prepared.spec, prepared.run_dir

    def start(opened: Tracker) -> None:
        opened.start_study(
            run_name=run_dir.name,
            params=flatten(spec.model_dump(mode="json")),
            tags=dataset_tags(prepared),
            spec_yaml=spec_yaml,
        )

    return start


def resume_study(
    run_dir: Path,
    *,
    console: Console | None = None,
    show_progress: bool = True,
    tracker: Tracker | None = None,
    faults: tuple[Fault, ...] = (),
    on_summary: Callable[[dict[str, Any]], None] | None = None,
    rebuild_store: bool = False,
) -> StudyResult:
    """Finish a study that was interrupted or killed: trials that ended stay as they are, the
    ones that were running run again under their ids, the rest of the search follows.

    `rebuild_store`: the study's sqlite MLflow store is gone: make a new one, with a new study
    run, and write every ended trial's run into it again from the state files (which hold every
    report). Raises LeantuneError (and changes nothing) if `run_dir` holds no study that can
    resume.
    """
    console = console or Console(stderr=True)
    clock = _Clock()
    StudyState.open(run_dir)  # refuses a directory with no study before a lock file is made
    with own_run_dir(run_dir), recording_into(run_dir):
        return _resume_study(
            run_dir, console, show_progress, tracker, faults, clock, on_summary, rebuild_store
        )


def _resume_study(
    run_dir: Path,
    console: Console,
    show_progress: bool,
    tracker: Tracker | None,
    faults: tuple[Fault, ...],
    clock: _Clock,
    on_summary: Callable[[dict[str, Any]], None] | None,
    rebuild_store: bool = False,
) -> StudyResult:
    state = StudyState.open(run_dir)
    spec = _resumable_spec(run_dir, state.meta.get("cwd"))
    prepared = prepare_study(spec, resume=True)
    if dataset_fingerprint(prepared.dataset.X, prepared.dataset.y) != state.meta.get(
        "dataset_fingerprint"
    ):
        raise LeantuneError(
            f"dataset: {prepared.dataset.name!r} differs from the data the study in "
            f"{str(run_dir)!r} began with; resuming would mix results of two datasets"
        )
    ended, unfinished = state.load_trials()
    lost_store = state.missing_store() if tracker is None else None
    if lost_store is not None and not rebuild_store:
        raise LeantuneError(
            f"RUN_DIR: {lost_store} is gone, but the study logs to it (MLflow run "
            f"{state.meta.get('parent_run_id')}); resuming would start an empty store without "
            "the runs of the trials that ended. Restore the file, or resume with "
            "--rebuild-store to write every ended trial's run again from state/ (which holds "
            "every report); the results in state/ and trials.csv are intact"
        )
    if lost_store is not None:
        console.print(
            f"[yellow]{escape(str(lost_store))} is gone: a new store is made, and the "
            f"{len(ended)} trials that ended are written into it again from state/[/]",
            highlight=False,
        )
        state.meta["parent_run_id"] = None  # the new store's study run replaces it
        state.save_meta()
    for line in state.repaired:
        console.print(f"[yellow]{escape(line)}[/]", highlight=False)
    console.print(
        f"[bold]{spec.name}[/]: resuming {escape(str(run_dir))}: {len(ended)} of "
        f"{prepared.n_trials} trials "
        f"ended before, {len(unfinished)} run again",
        highlight=False,
    )
    rebuilt = lost_store is not None
    starter = _study_run_starter(prepared, RunDir(run_dir).read_spec_text()) if rebuilt else None
    tracker, started_ray = _open_tracker_and_ray(spec, run_dir, tracker, starter)
    parent_run_id = state.meta.get("parent_run_id")
    if parent_run_id:
        runs = tracker.reopen_study(parent_run_id)
        _complete_trial_runs(tracker, ended, runs)
    elif rebuilt:
        _complete_trial_runs(tracker, ended, {})  # every ended trial's run, from state/
    resume = (ended, [(r.trial_id, r.config) for r in unfinished])
    if parent_run_id:
        known = {record.trial_id for record in [*ended, *unfinished]}
        for trial_id in sorted(set(runs) - known):
            config = _config_from_params(getattr(runs[trial_id], "params", None), prepared)
            if config is not None:
                resume[1].append((trial_id, config))  # runs again into the run it had
            how = (
                "its config, read from MLflow, runs again under its id"
                if config is not None
                else "its config runs again as a new trial, and the old run stays in MLflow"
            )
            console.print(
                f"[yellow]trial {escape(trial_id)}: MLflow holds its run, but state/trials "
                f"holds no record of it; {how}[/]",
                highlight=False,
            )
    try:
        return _search_and_record(
            prepared, state, tracker, console, show_progress, clock, faults, resume, on_summary
        )
    finally:
        if started_ray:
            stop_ray()


def _open_tracker_and_ray(
    spec: StudySpec,
    run_dir: Path,
    tracker: Tracker | None,
    start: Callable[[Tracker], None] | None = None,
) -> tuple[Tracker, bool]:
    """Open the tracker and start Ray side by side. Returns the tracker and whether Ray was
    started here.

    Ray's start is seconds of waiting for its daemons, MLflow's a second of imports and the
    store. With `start` (a new study), the tracker goes on opening while Tune starts the first
    trial's worker, more seconds of waiting (a joined Ray starts in a fraction of one): its
    first use waits for it, then runs `start` on it. Without, it is open on return.
    """
    in_process = not spec.resources.uses_ray  # no Ray to start
    if tracker is not None:
        started_ray = (
            False if in_process else _checked_cpus(spec, start_ray(spec.resources.ray_address))
        )
        if start is not None:
            start(tracker)
        return tracker, started_ray
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leantune-tracker")
    experiment = spec.tracking.experiment or spec.name
    opening = pool.submit(open_tracker, spec.tracking_uri, experiment, run_dir)
    if spec.resources.backend != "in-process":
        # Next on the same thread, while trials run elsewhere: the model saving's imports, off
        # the study's end. Not beside trials on this process's main thread, which import
        # scikit-learn's modules too.
        pool.submit(preload_model_saving)
    pool.shutdown(wait=False)
    try:
        started_ray = False if in_process else start_ray(spec.resources.ray_address)
        if not in_process:
            _checked_cpus(spec, started_ray)
    except BaseException:
        # Nothing is left half made: the store is whole, and no study run was started.
        with contextlib.suppress(Exception):
            opening.result()
        raise
    if start is None:
        return opening.result(), started_ray
    return _OpeningTracker(opening, start), started_ray  # type: ignore[return-value]


def _checked_cpus(spec: StudySpec, started_ray: bool) -> bool:
    try:
        require_cpus(spec.resources.cpus_per_trial, spec.resources.ray_address)
    except BaseException:
        if started_ray:
            stop_ray()
        raise
    return started_ray


class _OpeningTracker:
    """A tracker still opening on its own thread: the first use waits until it is open and
    starts the study's run on it (`start`), then every use goes to it. Only the driver's main
    thread uses it."""

    def __init__(self, opening: Future[Tracker], start: Callable[[Tracker], None]):
        self._opening = opening
        self._start = start
        self._tracker: Tracker | None = None

    def __getattr__(self, name: str) -> Any:
        if self._tracker is None:
            tracker = self._opening.result()
            self._start(tracker)
            self._tracker = tracker
        return getattr(self._tracker, name)


def _search_and_record(
    prepared: PreparedStudy,
    state: StudyState,
    tracker: Tracker,
    console: Console,
    show_progress: bool,
    clock: _Clock,
    faults: tuple[Fault, ...],
    resume: tuple[list[TrialRecord], list[tuple[str, dict[str, Any]]]] | None = None,
    on_summary: Callable[[dict[str, Any]], None] | None = None,
    trial_order_seed: int | None = None,
) -> StudyResult:
    spec, run_dir = prepared.spec, prepared.run_dir
    session = state.begin_session()
    earlier = resume[0] if resume else []
    for metric, (given, enforced) in constraint_limits(spec, prepared.memory)[1].items():
        console.print(
            f"[yellow]constraints.{metric}: {given:g} MB is above this machine's memory limit "
            f"({prepared.memory.describe()}); trials are stopped at {enforced:.0f} MB[/]",
            highlight=False,
        )
    decisions = build_decisions(spec, prepared.memory, earlier)
    plan = training_plan(prepared, decisions)
    request = search_request(
        prepared,
        plan,
        resume=ResumePoint(resume[0], resume[1], session) if resume else None,
        faults=faults,
        trial_order_seed=trial_order_seed,
    )
    progress = ProgressDisplay(
        prepared.n_trials, console, enabled=show_progress, done=status_counts(earlier)
    )
    observer = RecordingGuard(StudyObserver(tracker, progress, state))
    interrupted: SearchInterrupted | None = None
    try:
        with progress:
            # The state files hold every report: the driver keeps what the pick reads.
            records = search(
                request, decisions, observer, backend_for(prepared), keep_reports=False
            )
    except SearchInterrupted as error:
        interrupted, records = error, error.records
    except BaseException:
        observer.flush()
        tracker.end_study({}, {"leantune.outcome": "crashed"}, [], failed=True)
        state.set_parent_run(getattr(tracker, "parent_run_id", None))
        state.end_session("crashed", clock.wall(), clock.cpu())
        raise
    observer.flush()
    if observer.failure is None:
        state.set_parent_run(getattr(tracker, "parent_run_id", None))
    elif not isinstance(observer.failure, StoreLost):  # a write would make an empty store
        with contextlib.suppress(Exception):  # the store may be as unwritable as the directory
            tracker.end_study({}, {"leantune.outcome": "unrecordable"}, [], interrupted=True)
    observer.raise_failure(run_dir)
    records = [*earlier, *records]

    # An interrupted study keeps what ended, but picks nothing: the grid was not covered.
    pick, final, rejected = (
        (None, None, []) if interrupted else pick_and_refit(prepared, records, plan)
    )
    files = RunDir(run_dir)
    if final is not None and final.savable:
        example = prepared.dataset.X[prepared.splits.refit.val_idx[:5]]
        save_model(final.estimator, files.model_dir, example)
    table = trials_table(records)
    files.write_trials(table)
    files.write_reports(reports_table(records, state.reports_of))
    # Held out, live: each forecast against the final of a trial that ran every step.
    forecasts = decisions.cost_model.coverage()
    ledger = Ledger.model_validate(build_ledger(records, forecasts["step_cost_band"]))
    files.write_ledger(ledger)
    summary = build_summary(
        prepared,
        records,
        pick,
        final,
        tracker,
        wall_seconds=state.earlier_sessions("wall_time_s") + clock.wall(),
        driver_cpu_seconds=state.earlier_sessions("driver_cpu_s") + clock.cpu(),
    )
    summary.ledger = ledger.totals()
    summary.forecasts = forecasts
    # Chosen configs whose shipped model broke a limit their trial met, each refit in vain.
    summary.shipped_rejected = rejected
    summary.outcome = "interrupted" if interrupted else "completed"
    summary.unfinished_trials = interrupted.unfinished if interrupted else 0
    summary.sessions = session + 1
    summary.trial_order = (
        "grid" if trial_order_seed is None else f"shuffled (seed {trial_order_seed})"
    )
    summary = files.write_summary(summary).as_dict()
    if on_summary is not None and not interrupted:
        on_summary(summary)  # the results are read while the report is drawn
    outcome = summary["outcome"] if interrupted or final else "no feasible config"
    tracker.end_study(
        # Summary metrics go in once, when the study completes: a resumed study would
        # otherwise log a second value at the same step.
        metrics={} if interrupted else summary_metrics(summary),
        tags={"leantune.outcome": outcome, "leantune.sessions": str(session + 1)},
        artifacts=[
            files.trials_csv,
            files.trials_parquet,
            files.reports_file,  # every report; the trials' runs hold a thinned series
            files.summary_file,
            files.ledger_file,
            *([files.model_dir] if final is not None and final.savable else []),
            *(_write_report(run_dir, console) if spec.output.report else []),
        ],
        interrupted=interrupted is not None,
    )
    state.end_session(summary["outcome"], clock.wall(), clock.cpu())
    if interrupted:
        raise StudyInterrupted(run_dir, str(interrupted))
    return StudyResult(run_dir, summary, table, records, final)


def _write_report(run_dir: Path, console: Console) -> list[Path]:
    """The study report, from the files just written. A report that cannot be drawn must not
    cost the study its results: say so, and point at `leantune report` to try again."""
    from leantune.report import write_run_report

    try:
        return write_run_report(run_dir).paths
    except Exception as error:
        # The traceback is for a developer (logging at debug); the user gets one line.
        _log.debug("leantune: the report could not be written", exc_info=True)
        console.print(
            f"[yellow]The report could not be written ({type(error).__name__}: "
            f"{escape(str(error))}); the results are saved. Try again with: leantune report "
            f"{escape(str(run_dir))}[/]",
            highlight=False,
        )
        return []


class _Clock:
    """Wall and driver CPU time of one session."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), _process_cpu_seconds()

    def wall(self) -> float:
        return time.perf_counter() - self._wall

    def cpu(self) -> float:
        return _process_cpu_seconds() - self._cpu


def _resumable_spec(run_dir: Path, cwd: str | None) -> StudySpec:
    """The study as it ran (spec.yaml), pointed at `run_dir`, with relative dataset paths read
    from the directory the study was started in."""
    path = RunDir(run_dir).spec_file
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise LeantuneError(f"RUN_DIR: {path} cannot be read ({error})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("output", {}), dict):
        raise LeantuneError(
            f"RUN_DIR: {path} must be the study as it ran, a mapping of keys (name, dataset, "
            f"...); got {type(raw).__name__}. Restore it, e.g. from the MLflow run's spec.yaml"
        )
    raw.setdefault("output", {})["dir"] = str(run_dir)
    dataset = raw.get("dataset") if isinstance(raw.get("dataset"), dict) else {}
    for key in ("path", "cache_dir"):
        value = dataset.get(key)
        if value and cwd and not Path(value).expanduser().is_absolute():
            dataset[key] = str(Path(cwd) / value)
    return load_spec(raw)


def _config_from_params(
    params: Mapping[str, str] | None, prepared: PreparedStudy
) -> dict[str, Any] | None:
    """A trial's config from its MLflow run's parameters (text), typed as the search space
    types it; None if any axis is missing or does not parse."""
    if not params:
        return None
    config: dict[str, Any] = {}
    for axis in prepared.param_space:
        text = params.get(axis)
        if text is None:
            return None
        try:
            config[axis] = (
                text if axis == "model" else int(text) if axis == "batch_size" else float(text)
            )
        except ValueError:
            return None
    return config


def _complete_trial_runs(
    tracker: Tracker, ended: list[TrialRecord], runs: Mapping[str, Any]
) -> None:
    """A driver killed right after a trial ended may not have written its MLflow run: write
    it now from the saved record (the tracker adds only the points the run lacks)."""
    for record in ended:
        found = runs.get(record.trial_id)
        if found is not None and found.status != "RUNNING" and found.trial_status == record.status:
            continue
        observer = StudyObserver(tracker, None, None)
        observer.trial_started(record)
        for report in record.reports:
            observer.trial_reported(record, report)
        observer.trial_ended(record)


def _process_cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system
