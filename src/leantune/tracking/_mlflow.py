"""The MLflow tracker: the driver is the only writer, and metric histories go in batches.

This is the only module that imports MLflow.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

# MLflow's limits for one log_batch call.
_MAX_METRICS, _MAX_PARAMS, _MAX_TAGS = 1000, 100, 100
# Flush a trial's buffered points at least this often, so `leantune ui` shows live progress.
_FLUSH_SECONDS = 10.0

_STATUS = {"failed": "FAILED"}

_log = logging.getLogger("leantune")


def _quiet_mlflow() -> None:
    # Store creation logs alembic migrations at INFO; a user does not need to see them.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def default_uri(run_dir: Path) -> str:
    return f"sqlite:///{(run_dir / 'mlflow.db').resolve()}"


class MlflowTracker:
    """Writes one parent run for the study and one nested child run per trial."""

    def __init__(self, uri: str, experiment: str, artifact_dir: Path | None = None):
        _quiet_mlflow()
        self.uri = uri
        # Creating the client and experiment here creates the store, once, before any worker.
        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is not None:
            self.experiment_id = found.experiment_id
        else:
            location = artifact_dir.resolve().as_uri() if artifact_dir else None
            self.experiment_id = self.client.create_experiment(
                experiment, artifact_location=location
            )
        self.parent_run_id: str | None = None
        self._trial_runs: dict[str, str] = {}
        self._buffers: dict[str, list[Metric]] = {}
        self._last_flush: dict[str, float] = {}
        # Writes to the store happen on one background thread, in order, so the Tune loop on
        # the driver never waits for the database. Still one writer process: the driver.
        self._writes: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue()
        self._writer = threading.Thread(
            target=self._write_loop, name="leantune-mlflow", daemon=True
        )
        self._writer.start()
        self.write_failures = 0

    def _write_loop(self) -> None:
        while (item := self._writes.get()) is not None:
            write, args = item
            try:
                write(*args)
            except Exception:
                self.write_failures += 1
                if self.write_failures == 1:
                    _log.exception("leantune: an MLflow write failed; results files are unaffected")

    def _submit(self, write: Callable[..., Any], *args: Any) -> None:
        self._writes.put((write, args))

    def close(self) -> None:
        """Wait until every queued write is in the store."""
        if self._writer.is_alive():
            self._writes.put(None)
            self._writer.join()

    def start_study(
        self, run_name: str, params: Mapping[str, Any], tags: Mapping[str, str], spec_yaml: str
    ) -> None:
        run = self.client.create_run(
            self.experiment_id, run_name=run_name, tags={"leantune.kind": "study", **tags}
        )
        self.parent_run_id = run.info.run_id
        self._log_params(self.parent_run_id, params)
        self.client.log_text(self.parent_run_id, spec_yaml, "spec.yaml")

    def start_trial(self, trial_id: str, run_name: str, params: Mapping[str, Any]) -> None:
        tags = {"leantune.kind": "trial", "leantune.trial_id": trial_id}
        if self.parent_run_id:
            tags["mlflow.parentRunId"] = self.parent_run_id
        self._buffers[trial_id] = []
        self._last_flush[trial_id] = time.monotonic()
        self._submit(self._create_trial_run, trial_id, run_name, tags, dict(params))

    def _create_trial_run(
        self, trial_id: str, run_name: str, tags: dict[str, str], params: dict[str, Any]
    ) -> None:
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags)
        self._trial_runs[trial_id] = run.info.run_id
        self._log_params(run.info.run_id, params)

    def log_report(self, trial_id: str, report: Mapping[str, Any]) -> None:
        buffer = self._buffers.get(trial_id)
        if buffer is None:
            return
        stamp = int(time.time() * 1000)
        step = int(report.get("step", 0))
        for key, value in report.items():
            if _is_number(value):
                buffer.append(Metric(key, float(value), stamp, step))
        per_step = report.get("train_loss_steps")
        if isinstance(per_step, list):
            first = step - len(per_step) + 1
            buffer.extend(
                Metric("train_loss_step", float(v), stamp, first + i)
                for i, v in enumerate(per_step)
            )
        if len(buffer) >= _MAX_METRICS or (
            time.monotonic() - self._last_flush[trial_id] > _FLUSH_SECONDS
        ):
            self._flush(trial_id)

    def end_trial(self, trial_id: str, status: str, tags: Mapping[str, str]) -> None:
        if trial_id not in self._buffers:
            return
        # The last points and the tags go in one batch: fewer database round trips a trial.
        remaining = self._buffers.pop(trial_id)
        self._submit(self._close_trial_run, trial_id, status, dict(tags), remaining)

    def _close_trial_run(
        self, trial_id: str, status: str, tags: dict[str, str], metrics: list[Metric]
    ) -> None:
        run_id = self._trial_runs[trial_id]
        all_tags = [RunTag(k, str(v)) for k, v in {"leantune.status": status, **tags}.items()]
        chunks = [metrics[i : i + _MAX_METRICS] for i in range(0, len(metrics), _MAX_METRICS)]
        chunks = chunks or [[]]
        for chunk in chunks[:-1]:
            self.client.log_batch(run_id, metrics=chunk)
        self.client.log_batch(run_id, metrics=chunks[-1], tags=all_tags[:_MAX_TAGS])
        self.client.set_terminated(run_id, _STATUS.get(status, "FINISHED"))

    def end_study(
        self,
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        artifacts: list[Path],
        failed: bool = False,
    ) -> None:
        if self.parent_run_id is None:
            self.close()
            return
        for trial_id in list(self._buffers):
            # Trials still open when the study ends (interrupted) are closed, not left RUNNING.
            self.end_trial(trial_id, "failed", {"leantune.error": "study ended first"})
        self.close()
        stamp = int(time.time() * 1000)
        batch = [Metric(k, float(v), stamp, 0) for k, v in metrics.items() if _is_number(v)]
        for start in range(0, len(batch), _MAX_METRICS):
            self.client.log_batch(self.parent_run_id, metrics=batch[start : start + _MAX_METRICS])
        self._log_tags(self.parent_run_id, tags)
        for path in artifacts:
            attach(self.client, self.parent_run_id, path)
        self.client.set_terminated(self.parent_run_id, "FAILED" if failed else "FINISHED")

    def _flush(self, trial_id: str) -> None:
        buffer = self._buffers.get(trial_id)
        self._last_flush[trial_id] = time.monotonic()
        if buffer:
            self._submit(self._write_metrics, trial_id, list(buffer))
            buffer.clear()

    def _write_metrics(self, trial_id: str, metrics: list[Metric]) -> None:
        run_id = self._trial_runs[trial_id]
        for start in range(0, len(metrics), _MAX_METRICS):
            self.client.log_batch(run_id, metrics=metrics[start : start + _MAX_METRICS])

    def _log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        items = [Param(k, str(v)) for k, v in params.items()]
        for start in range(0, len(items), _MAX_PARAMS):
            self.client.log_batch(run_id, params=items[start : start + _MAX_PARAMS])

    def _log_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        items = [RunTag(k, str(v)) for k, v in tags.items()]
        for start in range(0, len(items), _MAX_TAGS):
            self.client.log_batch(run_id, tags=items[start : start + _MAX_TAGS])


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


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not (isinstance(value, float) and math.isinf(value))
    )


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
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0
