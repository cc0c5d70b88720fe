"""The MLflow tracker: the driver is the only writer, and a trial's points go in when it ends.

This is the only module that imports MLflow.

Each reported step reaches MLflow exactly once, also across retries and resumed studies: a
trial's metric history is buffered (one point per metric and step) and written when the trial
ends, after the study has saved the trial in its run directory. An attempt that fails, or a
study interrupted mid-trial, never leaves half a history behind; while a trial runs, its run
shows a live `leantune.progress` tag instead. Runs found again on resume are only topped up
with the points they lack.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from leantune.results._layout import MODEL_DIR, SPEC_FILE, SUMMARY_FILE
from leantune.tracking._run_rows import RunEnd, RunStart, TrialRunRows
from leantune.tracking._store_template import seed_sqlite_store
from leantune.tracking._values import (
    BOOKKEEPING,
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    Replacements,
    in_readable_units,
    is_metric_name,
    metric_value,
    mlflow_metric_key,
    safe_metric_name,
    texts,
)
from leantune.trials._keys import CV_SCORE_MEAN, FOLD_FINISHED, STEPS_PLANNED
from leantune.trials._status import (
    DIVERGED,
    FAILED,
    FEASIBLE,
    FINISHED,
    INFEASIBLE,
    SKIPPED,
    STOPPED,
)

# MLflow's limits for one log_batch call.
_MAX_METRICS, _MAX_PARAMS, _MAX_TAGS = 1000, 100, 100
# Points per metric a trial's run gets at most (each fold's last report and the trial's last
# always among them). A report every 100 steps of a few microseconds makes thousands of
# reports a trial, and MLflow's sqlite store takes ~14,000 points a second of the driver's
# CPU (kddcup, 2 cores): the whole series is in reports.parquet, attached to the study's run.
MAX_TRIAL_POINTS = 200
# Refresh a running trial's progress tag at most this often, so `leantune ui` shows it live.
_PROGRESS_SECONDS = 10.0
# Queued writes the writer thread takes at once: the trial runs among them go into the store
# in one transaction.
_WRITE_BATCH = 500
# The writer gathers writes this long after its last transaction before it starts the next: a
# transaction costs the driver ~2 ms of CPU whatever it holds, and fast trials end a few at a
# time (600 trials of 10 ms took 225 transactions without it). Replaying a 1,000-trial study's
# writes, 0.5 s instead of 0.1 s took 1.64-1.74 -> 1.24-1.27 ms of CPU a trial (BENCHMARKS.md,
# P8); `leantune ui` shows a run half a second later, and closing does not wait for it.
_WRITE_GATHER_S = 0.5
# Queued writes at most: a driver faster than the store waits for it rather than holding
# every trial's points in memory until the writer catches up.
_WRITE_BACKLOG = 2 * _WRITE_BATCH
# A write that meets a locked database (a reader such as `mlflow ui` on the same sqlite file)
# is tried again, this many times, waiting longer each time.
_WRITE_TRIES = 6

# The tracker's own status for a trial still open when the study stopped (it runs again).
_INTERRUPTED = "interrupted"
# A trial's run status in MLflow says what happened, in MLflow's words: ended by a rule or
# never trained (KILLED), broke (FAILED), or ran to its end (FINISHED: feasible, and an
# infeasible trial, which finished but missed a limit; its leantune.status tag says so).
_RUN_STATUS = {
    STOPPED: "KILLED",
    SKIPPED: "KILLED",
    _INTERRUPTED: "KILLED",
    FAILED: "FAILED",
    DIVERGED: "FAILED",
}
# The words of a trial run's reason tag and description when no rule or error gives one.
_PLAIN_REASON = {
    FEASIBLE: "ran to the end within every limit",
    FINISHED: "ran to the end",
    INFEASIBLE: "ran to the end but broke a limit",
    _INTERRUPTED: "the study was interrupted; the trial runs again on resume",
}
# Tags a trial's run only holds once it ended; a resumed trial starts without them.
_END_TAGS = (
    "leantune.status",
    "leantune.reason",
    "mlflow.note.content",
    "leantune.error",
    "leantune.replaced",
    "leantune.attempts",
    "leantune.steps_done",
)
# Tells MLflow's UI (3.x) to open the experiment on its runs table, not the GenAI overview.
_EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")

_log = logging.getLogger("leantune")


def _quiet_mlflow() -> None:
    # Store creation logs alembic migrations at INFO; a user does not need to see them.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


@dataclass(frozen=True)
class TrialRun:
    """A trial's run as found in the store when a study resumes."""

    run_id: str
    status: str
    """MLflow's run status: RUNNING, FINISHED, FAILED or KILLED."""
    trial_status: str | None
    """leantune's status tag, set when the trial's run was closed."""
    params: Mapping[str, str] | None = None
    """The run's parameters (the trial's config, as text): what is left of a trial whose
    state file is gone."""


class MlflowTracker:
    """Writes one parent run for the study and one nested child run per trial."""

    def __init__(self, uri: str, experiment: str, artifact_dir: Path | None = None):
        _quiet_mlflow()
        self.uri = uri
        seed_sqlite_store(uri)  # a new sqlite store starts migrated
        # Creating the client and experiment here creates the store, once, before any worker.
        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is not None:
            self.experiment_id = found.experiment_id
            if _EXPERIMENT_KIND[0] not in found.tags:
                self.client.set_experiment_tag(self.experiment_id, *_EXPERIMENT_KIND)
        else:
            location = artifact_dir.resolve().as_uri() if artifact_dir else None
            self.experiment_id = self.client.create_experiment(
                experiment, artifact_location=location, tags=dict([_EXPERIMENT_KIND])
            )
        _write_ahead_log(uri)
        self.parent_run_id: str | None = None
        self._trial_runs: dict[str, str] = {}
        self._adopted: set[str] = set()
        # One point per (metric, step): a closing report that repeats the last step's values
        # replaces them instead of adding a second point at the same step.
        self._buffers: dict[str, dict[tuple[str, int], Metric]] = {}
        self._replaced: dict[str, Replacements] = {}
        self._progress_at: dict[str, float] = {}
        # The step of the last report each trial's run was given points for (_keeps).
        self._kept_step: dict[str, int] = {}
        # (steps done, steps planned) of each open trial, for its closing tags.
        self._steps: dict[str, tuple[int, Any]] = {}
        # A reported name's point name (`_point_name`), worked out once a study.
        self._names: dict[str, tuple[str | None, str | None]] = {}
        # Writes to the store happen on one background thread, in order, so the Tune loop on
        # the driver never waits for the database. Still one writer process: the driver.
        self._writes: queue.Queue[_Queued | None] = queue.Queue(_WRITE_BACKLOG)
        # New trial runs go straight into a SQL store's tables, many a transaction.
        self._rows = TrialRunRows.for_client(self.client, self.experiment_id)
        self._closing = threading.Event()
        self._writer = threading.Thread(
            target=self._write_loop, name="leantune-mlflow", daemon=True
        )
        self._writer.start()
        self.write_failures = 0

    # -- the writer thread ------------------------------------------------------------------

    def _write_loop(self) -> None:
        closing = False
        written_at = time.monotonic()
        while not closing:
            batch = [self._writes.get()]
            if batch[-1] is not None:
                self._closing.wait(max(0.0, written_at + _WRITE_GATHER_S - time.monotonic()))
            while batch[-1] is not None and len(batch) < _WRITE_BATCH:
                try:
                    batch.append(self._writes.get_nowait())
                except queue.Empty:
                    break
            closing = batch[-1] is None
            rows: list[RunStart | RunEnd] = []
            for item in batch:
                if isinstance(item, RunStart | RunEnd):
                    rows.append(item)
                    continue
                if rows:  # in order: a client call may read what the rows write
                    self._write(self._write_rows, rows)
                    rows = []
                if item is not None:
                    self._write(item[0], *item[1])
            if rows:
                self._write(self._write_rows, rows)
            written_at = time.monotonic()

    def _write(self, write: Callable[..., Any], *args: Any) -> None:
        try:
            _with_retries(write, *args)
        except Exception as error:
            self.write_failures += 1
            if self.write_failures == 1:
                # One line a user can act on (a full disk, a lost server); the traceback only
                # for those who asked for debug logging.
                cause = str(error).strip().splitlines()
                _log.warning(
                    "leantune: an MLflow write failed (%s: %s); results files are unaffected",
                    type(error).__name__,
                    cause[0] if cause else "no message",
                )
                _log.debug("The failed MLflow write", exc_info=True)

    def _write_rows(self, rows: list[RunStart | RunEnd]) -> None:
        assert self._rows is not None  # rows are only queued for a SQL store
        self._rows.write(rows)

    def _submit(self, write: Callable[..., Any], *args: Any) -> None:
        self._enqueue((write, args))

    def _enqueue(self, item: _Queued) -> None:
        while True:  # a full backlog waits for the writer, unless it is gone
            try:
                self._writes.put(item, timeout=1.0)
                return
            except queue.Full:
                if not self._writer.is_alive():
                    return

    def close(self) -> None:
        """Wait until every queued write is in the store."""
        if self._writer.is_alive():
            self._closing.set()  # what is queued is written now, not after a gather
            self._writes.put(None)
            self._writer.join()

    # -- the study ----------------------------------------------------------------------------

    def start_study(
        self, run_name: str, params: Mapping[str, Any], tags: Mapping[str, str], spec_yaml: str
    ) -> None:
        # Named after the study (the spec's `name`), as a user looks for it among the runs;
        # `run_name` (the run directory's name) stays a tag.
        study = params.get("name")
        run = self.client.create_run(
            self.experiment_id,
            run_name=str(study) if study else run_name,
            tags={"leantune.kind": "study", "leantune.run_name": run_name, **tags},
        )
        self.parent_run_id = run.info.run_id
        replaced = Replacements()
        self._log_params(self.parent_run_id, params, replaced)
        if replaced:
            self._log_tags(self.parent_run_id, {"leantune.replaced": replaced.describe()})
        self.client.log_text(self.parent_run_id, spec_yaml, SPEC_FILE)

    def reopen_study(self, parent_run_id: str) -> dict[str, TrialRun]:
        """Carry on with an earlier session's study run; return its trials' runs by trial id.

        A trial that runs again, or whose run was left open, is written to the run it had.
        """
        self.parent_run_id = parent_run_id
        self.client.update_run(parent_run_id, status="RUNNING")
        found: dict[str, TrialRun] = {}
        token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id],
                filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
                max_results=1000,
                page_token=token,
            )
            for run in page:
                trial_id = run.data.tags.get("leantune.trial_id")
                if trial_id:
                    found[trial_id] = TrialRun(
                        run.info.run_id,
                        run.info.status,
                        run.data.tags.get("leantune.status"),
                        dict(run.data.params),
                    )
            token = page.token
            if not token:
                break
        for trial_id, trial_run in found.items():
            self._trial_runs[trial_id] = trial_run.run_id
            self._adopted.add(trial_id)
        return found

    def end_study(
        self,
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        artifacts: list[Path],
        failed: bool = False,
        interrupted: bool = False,
    ) -> None:
        """Close the study's run. `interrupted`: trials still open are closed KILLED without
        their points (they run again on resume), and the study's run is KILLED too."""
        if self.parent_run_id is None:
            self.close()
            return
        for trial_id in list(self._buffers):
            # Trials still open when the study ends are closed, not left RUNNING.
            self._buffers[trial_id].clear()
            self.end_trial(trial_id, _INTERRUPTED, {})
        self.close()
        for path in artifacts:
            attach(self.client, self.parent_run_id, path)
        chosen = _chosen(artifacts)
        if chosen and not interrupted:
            self._mark_chosen(self.parent_run_id, chosen)
        model_dir = next((p for p in artifacts if p.name == MODEL_DIR and p.is_dir()), None)
        model_id = None
        if model_dir is not None and not interrupted:
            try:
                model_id = self._log_model(self.parent_run_id, model_dir, chosen)
            except MlflowException as error:  # the model is saved and attached all the same
                _log.warning("leantune: the model was not logged as an MLflow model: %s", error)
        stamp = int(time.time() * 1000)
        replaced = Replacements()
        batch = self._metrics(in_readable_units(dict(metrics)).items(), stamp, 0, replaced)
        if model_id is not None:
            # The chosen model's own figures (best_*) are its metrics too, on the Models tab.
            batch = [
                Metric(m.key, m.value, m.timestamp, m.step, model_id=model_id)
                if m.key.startswith("best_")
                else m
                for m in batch
            ]
        for start in range(0, len(batch), _MAX_METRICS):
            self.client.log_batch(self.parent_run_id, metrics=batch[start : start + _MAX_METRICS])
        all_tags = dict(tags)
        if replaced:
            all_tags["leantune.replaced_metrics"] = replaced.describe()
        self._log_tags(self.parent_run_id, all_tags)
        status = "KILLED" if interrupted else "FAILED" if failed else "FINISHED"
        self.client.set_terminated(self.parent_run_id, status)

    def _mark_chosen(self, parent_run_id: str, best: Mapping[str, Any]) -> None:
        """The chosen trial's run tagged, and the study's run holding its config and a link."""
        trial_id = str(best.get("trial_id") or "")
        run_id = self._trial_runs.get(trial_id)
        tags = {"leantune.chosen_trial_id": trial_id} if trial_id else {}
        if run_id is not None:
            self.client.set_tag(run_id, "leantune.chosen", "true")
            tags["leantune.chosen_run_id"] = run_id
        config = best.get("config") or {}
        tags["mlflow.note.content"] = _study_note(best, run_id, self.experiment_id)
        self._log_tags(parent_run_id, tags)
        try:
            self._log_params(
                parent_run_id, {f"chosen.{k}": v for k, v in config.items()}, Replacements()
            )
        except MlflowException:
            # A param is written once: a study completed again after a resume keeps the first.
            _log.debug("leantune: the chosen config is already on the study's run")

    def _log_model(
        self, parent_run_id: str, model_dir: Path, best: Mapping[str, Any] | None
    ) -> str | None:
        """The saved model as an MLflow 3 logged model of the study's run (the Models tab);
        the same files stay under the run's `model/` artifacts for MLflow 2 and for serving."""
        create = getattr(self.client, "create_logged_model", None)
        if create is None or not (model_dir / "MLmodel").is_file():
            return None  # MLflow 2 has no logged models
        from mlflow.entities import LoggedModelOutput, LoggedModelStatus

        config = (best or {}).get("config") or {}
        model = create(
            self.experiment_id,
            # Named after the study, as its run is: the Models tab lists every study's model.
            name=self.client.get_run(parent_run_id).info.run_name or MODEL_DIR,
            source_run_id=parent_run_id,
            tags={
                "leantune.kind": "chosen_model",
                # The model page's description: the pick and its scores, as on the study's run.
                "mlflow.note.content": _study_note(best or {}, None, self.experiment_id),
            },
            params={str(k): str(v) for k, v in config.items()},
        )
        self.client.log_model_artifacts(model.model_id, str(model_dir))
        self.client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
        self.client.log_outputs(parent_run_id, [LoggedModelOutput(model.model_id, 0)])
        self.client.set_tag(parent_run_id, "leantune.model_id", model.model_id)
        return str(model.model_id)

    # -- trials -------------------------------------------------------------------------------

    def start_trial(self, trial_id: str, run_name: str, params: Mapping[str, Any]) -> None:
        self._buffers[trial_id] = {}
        self._replaced[trial_id] = Replacements()
        self._progress_at[trial_id] = time.monotonic()
        if trial_id in self._adopted:
            self._submit(self._reopen_trial_run, trial_id)
            return
        tags = {"leantune.kind": "trial", "leantune.trial_id": trial_id}
        if self.parent_run_id:
            tags["mlflow.parentRunId"] = self.parent_run_id
        if self._rows is None:
            self._submit(self._create_trial_run, trial_id, run_name, tags, dict(params))
            return
        run_id = uuid.uuid4().hex  # as MLflow makes one
        self._trial_runs[trial_id] = run_id
        replaced = Replacements()
        param_texts = list(texts(dict(params), MAX_PARAM_VALUE, replaced, "param"))
        if replaced:
            tags["leantune.replaced_params"] = replaced.describe()
        tags["mlflow.runName"] = run_name
        self._enqueue(
            RunStart(run_id, run_name, int(time.time() * 1000), _tag_items(tags), param_texts)
        )

    def _create_trial_run(
        self, trial_id: str, run_name: str, tags: dict[str, str], params: dict[str, Any]
    ) -> None:
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags)
        self._trial_runs[trial_id] = run.info.run_id
        replaced = Replacements()
        self._log_params(run.info.run_id, params, replaced)
        if replaced:
            self._log_tags(run.info.run_id, {"leantune.replaced_params": replaced.describe()})

    def _reopen_trial_run(self, trial_id: str) -> None:
        run_id = self._trial_runs[trial_id]
        run = self.client.get_run(run_id)
        for key in _END_TAGS:
            if key in run.data.tags:
                self.client.delete_tag(run_id, key)
        self.client.update_run(run_id, status="RUNNING")

    def log_report(self, trial_id: str, report: Mapping[str, Any]) -> None:
        buffer = self._buffers.get(trial_id)
        if buffer is None:
            return
        stamp = int(time.time() * 1000)
        step = int(report.get("step", 0))
        if time.monotonic() - self._progress_at[trial_id] > _PROGRESS_SECONDS:
            self._progress_at[trial_id] = time.monotonic()
            self._submit(self._set_progress, trial_id, _progress(report))
        self._steps[trial_id] = (step, report.get(STEPS_PLANNED))
        if not self._keeps(trial_id, report, step):
            return
        replaced = self._replaced[trial_id]
        for key, value in report.items():
            named = self._names.get(key)
            if named is None:
                named = self._names[key] = _point_name(key)
            name, renamed_from = named
            if name is None:
                continue  # bookkeeping, not a measurement
            if type(value) is float and value - value == 0 and renamed_from is None:
                buffer[(name, step)] = Metric(name, value, stamp, step)  # most values
                continue
            stored, how = metric_value(value)
            if stored is None:
                continue  # text (status, error) goes into tags, not metrics
            if renamed_from is not None:
                replaced.note(renamed_from, f"name renamed to {name!r}")
            if how:
                replaced.note(name, how)
            buffer[(name, step)] = Metric(name, stored, stamp, step)
        per_step = report.get("train_loss_steps")
        if isinstance(per_step, list):
            first = step - len(per_step) + 1
            values = ((i, v) for i, v in enumerate(per_step))
            for i, value in values:
                stored, how = metric_value(value)
                if stored is None:
                    continue
                if how:
                    replaced.note("train_loss_step", how)
                buffer[("train_loss_step", first + i)] = Metric(
                    "train_loss_step", stored, stamp, first + i
                )

    def _keeps(self, trial_id: str, report: Mapping[str, Any], step: int) -> bool:
        """Whether the report's points go to the trial's run: at most about MAX_TRIAL_POINTS
        a metric, evenly spaced in steps, and always each fold's last, the trial's last and
        its few first reports (training.first_reports: the evidence of a cheap stop)."""
        planned = report.get(STEPS_PLANNED)
        last_kept = self._kept_step.get(trial_id)
        stride = planned / MAX_TRIAL_POINTS if isinstance(planned, int | float) else 0.0
        if (
            last_kept is None
            or step - last_kept >= stride
            or report.get(FOLD_FINISHED)
            or report.get("early_report")
            or "trial_status" in report
        ):
            self._kept_step[trial_id] = step
            return True
        return False

    def restart_trial(self, trial_id: str) -> None:
        """A failed attempt is retried: forget its points, it starts over."""
        if trial_id in self._buffers:
            self._buffers[trial_id].clear()
            self._replaced[trial_id].clear()
            self._kept_step.pop(trial_id, None)

    def end_trial(self, trial_id: str, status: str, tags: Mapping[str, str]) -> None:
        if trial_id not in self._buffers:
            return
        metrics = list(self._buffers.pop(trial_id).values())
        replaced = self._replaced.pop(trial_id)
        self._kept_step.pop(trial_id, None)
        self._progress_at.pop(trial_id, None)
        reason = (
            tags.get("leantune.stop_reason")
            or tags.get("leantune.error")
            or _PLAIN_REASON.get(status, status)
        )
        all_tags = {
            "leantune.status": status,
            "leantune.reason": reason,
            "leantune.progress": f"ended: {status}",
            # The run page's description: what happened, in a sentence, above its charts.
            "mlflow.note.content": f"{status.capitalize()}: {reason}",
            **tags,
        }
        done, planned = self._steps.pop(trial_id, (None, None))
        if done is not None:
            all_tags["leantune.steps_done"] = str(done)
        if planned is not None:
            all_tags["leantune.steps_planned"] = str(planned)
        if replaced:
            all_tags["leantune.replaced"] = replaced.describe()
        run_id = self._trial_runs.get(trial_id)
        if self._rows is None or run_id is None or trial_id in self._adopted:
            self._submit(self._close_trial_run, trial_id, status, all_tags, metrics)
            return
        self._enqueue(
            RunEnd(
                run_id,
                _RUN_STATUS.get(status, "FINISHED"),
                int(time.time() * 1000),
                _tag_items(all_tags),
                metrics,
            )
        )

    def _close_trial_run(
        self, trial_id: str, status: str, tags: dict[str, str], metrics: list[Metric]
    ) -> None:
        run_id = self._trial_runs[trial_id]
        if trial_id in self._adopted:
            metrics = self._missing(run_id, metrics)
        # The points and the closing tags go in one call: each call costs the driver ~3 ms of
        # CPU whatever it holds (its own session, run lookup and commits), a point ~0.1 ms.
        tag_items = _tag_items(tags)
        first_tags, tag_items = tag_items[:_MAX_TAGS], tag_items[_MAX_TAGS:]
        room = _MAX_METRICS - len(first_tags)  # MLflow's limit is on a call's entries in all
        self.client.log_batch(run_id, metrics=metrics[:room], tags=first_tags)
        for start in range(room, len(metrics), _MAX_METRICS):
            self.client.log_batch(run_id, metrics=metrics[start : start + _MAX_METRICS])
        self._log_tag_items(run_id, tag_items)
        self.client.set_terminated(run_id, _RUN_STATUS.get(status, "FINISHED"))

    def _missing(self, run_id: str, metrics: list[Metric]) -> list[Metric]:
        """The points a run found again does not hold yet (by metric and step)."""
        stored: set[tuple[str, int]] = set()
        for key in {metric.key for metric in metrics}:
            stored.update((key, m.step) for m in self.client.get_metric_history(run_id, key))
        return [metric for metric in metrics if (metric.key, metric.step) not in stored]

    def _set_progress(self, trial_id: str, text: str) -> None:
        run_id = self._trial_runs.get(trial_id)
        if run_id is not None:
            self.client.set_tag(run_id, "leantune.progress", text)

    # -- values MLflow can store --------------------------------------------------------------

    @staticmethod
    def _metrics(items: Any, stamp: int, step: int, replaced: Replacements) -> list[Metric]:
        metrics = []
        for key, value in items:
            stored, how = metric_value(value)
            if stored is None:
                continue  # text (status, error) goes into tags, not metrics
            name = key
            if not is_metric_name(key):
                name = safe_metric_name(key)
                replaced.note(key, f"name renamed to {name!r}")
            if how:
                replaced.note(name, how)
            metrics.append(Metric(name, stored, stamp, step))
        return metrics

    def _log_params(self, run_id: str, params: Mapping[str, Any], replaced: Replacements) -> None:
        items = [Param(k, v) for k, v in texts(dict(params), MAX_PARAM_VALUE, replaced, "param")]
        for start in range(0, len(items), _MAX_PARAMS):
            self.client.log_batch(run_id, params=items[start : start + _MAX_PARAMS])

    def _log_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self._log_tag_items(run_id, _tag_items(tags))

    def _log_tag_items(self, run_id: str, items: list[RunTag]) -> None:
        for start in range(0, len(items), _MAX_TAGS):
            self.client.log_batch(run_id, tags=items[start : start + _MAX_TAGS])


# What the writer thread takes: a client call with its arguments, or a trial run's rows.
_Queued = tuple[Callable[..., Any], tuple[Any, ...]] | RunStart | RunEnd


def _point_name(key: str) -> tuple[str | None, str | None]:
    """(the name of a reported value's points in MLflow, the name it had if it was renamed to
    follow the rule); (None, None) for bookkeeping, which has no points."""
    if key in BOOKKEEPING:
        return None, None
    name = mlflow_metric_key(key)
    if is_metric_name(name):
        return name, None
    return safe_metric_name(name), name


def _tag_items(tags: Mapping[str, str]) -> list[RunTag]:
    """Tags as MLflow stores them: a value over its limit in parts, and a note that says so."""
    replaced = Replacements()
    items = [RunTag(k, v) for k, v in texts(dict(tags), MAX_TAG_VALUE, replaced, "tag")]
    if replaced:
        note = {"leantune.replaced_tags": replaced.describe()}
        items += [RunTag(k, v) for k, v in texts(note, MAX_TAG_VALUE, Replacements(), "tag")]
    return items


def _chosen(artifacts: list[Path]) -> dict[str, Any] | None:
    """The chosen trial (the summary's `best`), read from the summary among the artifacts."""
    import json

    for path in artifacts:
        if path.name == SUMMARY_FILE and path.is_file():
            try:
                best = json.loads(path.read_text()).get("best")
            except (OSError, ValueError, AttributeError):
                return None
            return best if isinstance(best, dict) else None
    return None


def _study_note(best: Mapping[str, Any], run_id: str | None, experiment_id: str) -> str:
    """A description (Markdown on its page in the UI): the pick, its scores, a link to its run."""
    config = ", ".join(f"{k}={v}" for k, v in (best.get("config") or {}).items())
    lines = [f"**Chosen config**: {config}"]
    metric, score = best.get("cv_metric"), best.get(CV_SCORE_MEAN)
    if isinstance(score, int | float):
        lines.append(f"CV {metric}: {score:.4g}")
    for key, value in (best.get("test") or {}).items():
        if isinstance(value, int | float) and not key.endswith(("_rows", "_start")):
            lines.append(f"{key}: {value:.4g}")
    if run_id:
        page = f"#/experiments/{experiment_id}/runs/{run_id}{_TRAINING_VIEW}"
        lines.append(f"Its trial: [{best.get('trial_id')}]({page}) (tag `leantune.chosen`)")
    return "\n\n".join(lines)


def _progress(report: Mapping[str, Any]) -> str:
    step, planned = report.get("step"), report.get(STEPS_PLANNED)
    text = f"step {step}"
    if isinstance(planned, int) and planned:
        text += f" of {planned} ({100 * int(step or 0) / planned:.0f}%)"
    objective = report.get("objective")
    if isinstance(objective, float):
        text += f", objective {objective:.4g}"
    return text


def _with_retries(write: Callable[..., Any], *args: Any) -> None:
    delay = 0.2
    for attempt in range(1, _WRITE_TRIES + 1):
        try:
            write(*args)
            return
        except MlflowException as error:
            # sqlite answers "database is locked" while another process writes; MLflow has
            # already waited its busy timeout, so this is rare and worth one more wait.
            if "locked" not in str(error).lower() or attempt == _WRITE_TRIES:
                raise
            time.sleep(delay)
            delay *= 2


def _write_ahead_log(uri: str) -> None:
    """Readers (`mlflow ui`, a notebook) and the driver's writes then never block each other.

    The journal mode is a property of the database file: set once, it holds for every
    connection, MLflow's included.
    """
    if not uri.startswith("sqlite:///"):
        return
    path = uri.removeprefix("sqlite:///")
    try:
        with sqlite3.connect(path, timeout=30) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error:
        _log.warning("leantune: could not switch %s to write-ahead logging", path)


# Where a sqlite store keeps artifact locations (an MLflow 3 store also has logged models).
_ARTIFACT_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
)


def relocate_artifacts(uri: str, artifact_dir: Path) -> None:
    """Point a run directory's sqlite store at its artifacts where the directory is now.

    MLflow stores absolute artifact locations; after a move or copy they name the old place.
    Only locations ending in the run directory's artifact folder's name are rewritten.
    """
    path = uri.removeprefix("sqlite:///")
    new = artifact_dir.resolve().as_uri()
    with sqlite3.connect(path, timeout=30) as connection:
        rows = connection.execute("SELECT artifact_location FROM experiments").fetchall()
        old = [loc for (loc,) in rows if loc and loc.endswith(f"/{artifact_dir.name}")]
        if not old or old == [new] * len(old):
            return
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
        for before in set(old) - {new}:
            for table, column in _ARTIFACT_COLUMNS:
                if table in tables:
                    connection.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                        f"WHERE substr({column}, 1, ?) = ?",
                        (new, len(before) + 1, len(before), before),
                    )
    # MLflow caches each run's artifact location for the process (a private cache, hence the
    # care): a process that wrote the runs before the move must not write to the old place.
    from mlflow.tracking._tracking_service import utils

    cache = getattr(utils, "_artifact_repos_cache", None)
    if hasattr(cache, "clear"):
        cache.clear()


def attach(client: MlflowClient, run_id: str, path: Path, folder: str | None = None) -> None:
    """A file goes to `folder` (default: the artifact root), a directory (a report's tables and
    figures) to a subfolder of the same name."""
    if path.is_dir():
        client.log_artifacts(
            run_id, str(path), artifact_path=f"{folder}/{path.name}" if folder else path.name
        )
    elif path.exists():
        client.log_artifact(run_id, str(path), artifact_path=folder)


def attach_artifacts(uri: str, run_id: str, paths: list[Path], folder: str | None = None) -> None:
    """Add files to a run that has ended (a report rebuilt later, or a comparison of two runs)."""
    _quiet_mlflow()
    client = MlflowClient(tracking_uri=uri)
    for path in paths:
        attach(client, run_id, Path(path), folder)


def register_model(uri: str, run_id: str, name: str) -> int:
    """Register a study run's chosen model under `name` in the store's model registry (the
    logged model on MLflow 3, else the run's `model/` folder); returns the new version."""
    _quiet_mlflow()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.get_run(run_id)
    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    model_id = run.data.tags.get("leantune.model_id")
    if model_id:
        source = client.get_logged_model(model_id).artifact_location
        version = client.create_model_version(name, source, run_id=run_id, model_id=model_id)
    else:
        source = f"{run.info.artifact_uri}/{MODEL_DIR}"
        version = client.create_model_version(name, source, run_id=run_id)
    return int(version.version)


# MLflow 3's UI shows an experiment in the view its `workflowType` names (GenAI by default,
# remembered per browser), whatever the experiment's kind tag: the model-training view is
# asked for in the address.
_TRAINING_VIEW = "?workflowType=machine_learning"


def ui_page(uri: str, run_id: str | None) -> str:
    """The UI's address (after the host) of a study's run, in the model-training view; the
    experiments list when the run is not known (yet)."""
    if run_id:
        _quiet_mlflow()
        try:
            experiment = MlflowClient(tracking_uri=uri).get_run(run_id).info.experiment_id
        except MlflowException:
            experiment = None
        if experiment is not None:
            return f"#/experiments/{experiment}/runs/{run_id}{_TRAINING_VIEW}"
    return f"#/experiments{_TRAINING_VIEW}"


def serve_ui(uri: str, host: str = "127.0.0.1", port: int = 5000) -> int:
    """Run `mlflow ui` on a store until interrupted; returns its exit code."""
    import subprocess
    import sys

    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
    ]
    # The server (mlflow, uvicorn, its workers) gets a process group of its own, ended whole:
    # a SIGTERM to `leantune ui` must not leave it serving.
    server = subprocess.Popen(command, start_new_session=True)
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        _end_group(server)


def _end_group(process: Any, grace_s: float = 10.0) -> None:
    import contextlib
    import os
    import signal
    import subprocess

    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return  # the whole group has gone
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            # The leader is gone; its workers may not be yet. One more SIGKILL settles them.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            return
