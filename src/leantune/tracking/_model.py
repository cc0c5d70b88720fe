"""The chosen model as an MLflow model: the `mlflow.sklearn` layout (MLmodel, signature, input
example), so `mlflow models serve`, the model registry and `mlflow.pyfunc` take it as it is."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


def save_model(pipeline: Any, path: Path, input_example: np.ndarray) -> Path:
    """Write `pipeline` to `path` (replacing what is there) and return `path`."""
    import mlflow.sklearn
    import sklearn
    from mlflow.models import infer_signature

    from leantune.tracking._mlflow import _quiet_mlflow

    _quiet_mlflow()
    example = np.asarray(input_example, dtype=float)
    signature = infer_signature(example, pipeline.predict(example))
    if path.exists():
        shutil.rmtree(path)
    # leantune's own estimators (the minibatch backend) are not scikit-learn's: skops must be
    # told to trust them, and whoever loads the model needs leantune installed.
    own = sorted(_own_types(pipeline))
    requirements = [f"scikit-learn=={sklearn.__version__}"]
    if own:
        from leantune._version import __version__

        requirements.append(f"leantune=={__version__}")
    with _requirements_of_this_environment():
        mlflow.sklearn.save_model(
            pipeline,
            str(path),
            signature=signature,
            input_example=example,
            # Named outright: inferring them would load the model again in a subprocess.
            pip_requirements=requirements,
            skops_trusted_types=sorted({*own, *_untrusted_types(pipeline)}) or None,
        )
    return path


@contextlib.contextmanager
def _requirements_of_this_environment() -> Iterator[None]:
    """Skip MLflow's check that the requirements match the running environment.

    The requirements are this environment's own versions, so the check cannot find a
    mismatch; it still maps every installed package's files to its modules first (~0.3 s of
    CPU, once a process, on the critical path of every study). If MLflow moves the check, it
    simply runs.
    """
    from mlflow.utils import environment

    check = getattr(environment, "warn_dependency_requirement_mismatches", None)
    if check is None:
        yield
        return
    environment.warn_dependency_requirement_mismatches = lambda requirements: None
    try:
        yield
    finally:
        environment.warn_dependency_requirement_mismatches = check


def _untrusted_types(pipeline: Any) -> list[str]:
    """Types skops would refuse to load by default: the internals of an estimator the study
    named by import path (an MLP's optimizer). The user chose that estimator, so they are
    trusted for the model it trained."""
    import skops.io

    return list(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))


def _own_types(pipeline: Any) -> set[str]:
    """Qualified names of leantune's classes among the pipeline's steps."""
    steps = [step for _, step in getattr(pipeline, "steps", [])] or [pipeline]
    return {
        f"{type(step).__module__}.{type(step).__qualname__}"
        for step in steps
        if type(step).__module__.startswith("leantune.")
    }


def load_model(location: str | Path, tracking_uri: str | None = None) -> Any:
    """The scikit-learn Pipeline saved at `location`: a model directory, or a model URI such as
    `runs:/<parent run id>/model` read from the store at `tracking_uri`."""
    import mlflow.sklearn
    from mlflow.tracking import MlflowClient

    from leantune.tracking._mlflow import _quiet_mlflow

    _quiet_mlflow()
    uri = str(location)
    if tracking_uri and uri.startswith("runs:/"):
        # The run's artifacts are fetched through a client on that store, without changing
        # MLflow's process-wide tracking URI.
        run_id, _, artifact = uri.removeprefix("runs:/").partition("/")
        local = MlflowClient(tracking_uri).download_artifacts(run_id, artifact)
        return mlflow.sklearn.load_model(local)
    return mlflow.sklearn.load_model(uri)
