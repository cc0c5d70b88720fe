"""Experiment tracking: MLflow on the driver (the only package that imports MLflow)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from leantune.results import RunDir
from leantune.tracking._base import NullTracker, Tracker


def open_tracker(uri: str | None, experiment: str, run_dir: Path) -> Tracker:
    """An MLflow tracker on `uri`, else on $MLFLOW_TRACKING_URI as MLflow itself would, else
    on a sqlite file in the run directory."""
    from leantune.tracking._mlflow import MlflowTracker

    # On a server store MLflow prints "View run ... at: URL" to stdout at each run's end: a
    # line a trial, amid the progress, with the URI's password in it. leantune names the store.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    # A store that cannot be written (a full disk) makes MLflow log each failed commit with its
    # traceback before raising; the study turns the error into one line of its own.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    opened = store_uri(uri, run_dir)
    _forget_deleted_store(opened)
    if _given_uri(uri):
        # A user's store (a server, a shared database) decides where artifacts go.
        tracker = MlflowTracker(opened, experiment)
    else:
        tracker = MlflowTracker(opened, experiment, RunDir(run_dir).mlflow_artifacts)
    _opened_files[opened] = store_file_identity(opened)  # the file the store made or found
    return tracker


# The sqlite files this process opened stores on, by URI: (device, inode) when opened.
_opened_files: dict[str, tuple[int, int] | None] = {}


def _forget_deleted_store(uri: str) -> None:
    """MLflow keeps one store a URI for the process's life: one whose sqlite file was deleted
    or replaced since (a study's, rebuilt by `resume --rebuild-store` in the same process)
    would read and write the unlinked file through its pooled connections. Its cache is then
    dropped, so the store opens the file that is there now."""
    if uri not in _opened_files or _opened_files[uri] == store_file_identity(uri):
        return
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.tracking._tracking_service.utils import _tracking_store_registry

    _tracking_store_registry._get_store_with_resolved_uri.cache_clear()
    # The stores share one SQLAlchemy engine a URI: its pooled connections hold the old file.
    engines = getattr(SqlAlchemyStore, "_engine_map", {})
    engine = engines.pop(uri, None)
    if engine is not None:
        engine.dispose()


def store_file_identity(uri: str) -> tuple[int, int] | None:
    """(device, inode) of a sqlite store's file: another file (or none) after a deletion.
    None for a store that is not a sqlite file, or whose file is gone."""
    if not uri.startswith("sqlite:///"):
        return None
    try:
        stat = Path(uri.removeprefix("sqlite:///")).stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def store_uri(uri: str | None, run_dir: Path) -> str:
    """The store `open_tracker(uri, ..., run_dir)` opens, known without opening it."""
    return _given_uri(uri) or default_uri(run_dir)


def _given_uri(uri: str | None) -> str | None:
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or None


def default_uri(run_dir: Path) -> str:
    """A study's own store: mlflow.db in its run directory."""
    return f"sqlite:///{RunDir(run_dir).mlflow_db.resolve()}"


def run_store_uri(run_dir: Path, recorded: str | None) -> str | None:
    """The store a run directory's study wrote to, `recorded` in its summary.

    A study's default store (mlflow.db in its run directory) is opened where the directory is
    now, and its artifact paths follow it, so a moved or copied run opens in `leantune ui` and
    takes a rebuilt report. Any other store is where it was.
    """
    files = RunDir(run_dir)
    if files.mlflow_db.is_file() and (
        not recorded
        or (recorded.startswith("sqlite:///") and recorded.endswith(f"/{files.mlflow_db.name}"))
    ):
        from leantune.tracking._mlflow import relocate_artifacts

        uri = default_uri(run_dir)
        relocate_artifacts(uri, files.mlflow_artifacts)
        return uri
    return recorded


def attach_artifacts(uri: str, run_id: str, paths: list[Path], folder: str | None = None) -> None:
    """Attach files or folders to an existing MLflow run (a rebuilt report, a comparison)."""
    from leantune.tracking._mlflow import attach_artifacts as attach

    attach(uri, run_id, paths, folder)


def save_model(pipeline: Any, path: Path, input_example: Any) -> Path:
    """Save the chosen model as an MLflow model directory (mlflow.sklearn layout)."""
    from leantune.tracking._model import save_model as save

    return save(pipeline, path, input_example)


def preload_model_saving() -> None:
    """Import what saving the chosen model needs (mlflow.sklearn, skops: ~0.5 s) ahead of
    its use: a study calls it on the tracker's thread while its trials run, so the study's
    end does not wait for the imports."""
    import mlflow.models
    import mlflow.sklearn  # noqa: F401
    import skops.io  # noqa: F401


def load_model(
    location: str | Path, tracking_uri: str | None = None, *, trust: bool = False
) -> Any:
    """A saved model: a model directory, or a `runs:/<run id>/model` URI on `tracking_uri`.
    Only leantune's own format unless `trust=True` (see tracking._model.load_model)."""
    from leantune.tracking._model import load_model as load

    return load(location, tracking_uri, trust=trust)


def register_model(uri: str, run_id: str, name: str) -> int:
    """Register a study run's chosen model under `name`; returns its version number."""
    from leantune.tracking._mlflow import register_model as register

    return register(uri, run_id, name)


def ui_page(uri: str, run_id: str | None) -> str:
    """Where a study's run is in the MLflow UI (the address after the host)."""
    from leantune.tracking._mlflow import ui_page as page

    return page(uri, run_id)


def serve_ui(uri: str, host: str = "127.0.0.1", port: int = 5000) -> int:
    from leantune.tracking._mlflow import serve_ui as serve

    return serve(uri, host, port)


__all__ = [
    "NullTracker",
    "Tracker",
    "attach_artifacts",
    "default_uri",
    "load_model",
    "open_tracker",
    "preload_model_saving",
    "register_model",
    "run_store_uri",
    "save_model",
    "serve_ui",
    "store_file_identity",
    "store_uri",
    "ui_page",
]
