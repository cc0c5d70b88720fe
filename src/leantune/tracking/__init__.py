"""Experiment tracking: MLflow on the driver (the only package that imports MLflow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leantune.tracking._base import NullTracker, Tracker


def open_tracker(uri: str | None, experiment: str, run_dir: Path) -> Tracker:
    """An MLflow tracker on `uri` (default: a sqlite file in the run directory)."""
    from leantune.tracking._mlflow import MlflowTracker, default_uri

    if uri:
        # A user's store (a server, a shared database) decides where artifacts go.
        return MlflowTracker(uri, experiment)
    return MlflowTracker(default_uri(run_dir), experiment, run_dir / "mlartifacts")


def default_uri(run_dir: Path) -> str:
    from leantune.tracking._mlflow import default_uri as uri_for

    return uri_for(run_dir)


def attach_artifacts(uri: str, run_id: str, paths: list[Path], folder: str | None = None) -> None:
    """Attach files or folders to an existing MLflow run (a rebuilt report, a comparison)."""
    from leantune.tracking._mlflow import attach_artifacts as attach

    attach(uri, run_id, paths, folder)


def save_model(pipeline: Any, path: Path, input_example: Any) -> Path:
    """Save the chosen model as an MLflow model directory (mlflow.sklearn layout)."""
    from leantune.tracking._model import save_model as save

    return save(pipeline, path, input_example)


def load_model(location: str | Path, tracking_uri: str | None = None) -> Any:
    """A saved model: a model directory, or a `runs:/<run id>/model` URI on `tracking_uri`."""
    from leantune.tracking._model import load_model as load

    return load(location, tracking_uri)


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
    "save_model",
    "serve_ui",
]
