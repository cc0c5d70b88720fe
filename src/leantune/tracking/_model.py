"""The chosen model as an MLflow model: the `mlflow.sklearn` layout (MLmodel, signature, input
example), so `mlflow models serve`, the model registry and `mlflow.pyfunc` take it as it is."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from leantune.errors import LeantuneError


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


def load_model(
    location: str | Path, tracking_uri: str | None = None, *, trust: bool = False
) -> Any:
    """The scikit-learn Pipeline saved at `location`: a model directory, or a model URI such as
    `runs:/<parent run id>/model` read from the store at `tracking_uri`.

    Only what leantune writes is read: the skops format, with scikit-learn's and leantune's
    own types. A model directory is data anyone may have edited (run directories are copied
    between people), and pickle runs whatever code it holds, so another format, or a type
    beyond those, raises LeantuneError. `trust=True` is the explicit opt-in for a directory
    you trust: it loads whatever the MLmodel file says, as `mlflow.sklearn.load_model` does.
    """
    import mlflow.sklearn
    from mlflow.tracking import MlflowClient

    from leantune.tracking._mlflow import _quiet_mlflow

    _quiet_mlflow()
    uri = str(location)
    if tracking_uri and uri.startswith("runs:/"):
        # The run's artifacts are fetched through a client on that store, without changing
        # MLflow's process-wide tracking URI.
        run_id, _, artifact = uri.removeprefix("runs:/").partition("/")
        uri = MlflowClient(tracking_uri).download_artifacts(run_id, artifact)
    if trust:
        return mlflow.sklearn.load_model(uri)
    return _load_skops(Path(uri))


# An MLmodel file is a few hundred bytes; a larger one is not leantune's.
_MLMODEL_MAX_BYTES = 1 << 20


def _load_skops(model_dir: Path) -> Any:
    """The model in `model_dir`, read with skops and only the types leantune trusts."""
    import skops.io
    import yaml

    where = model_dir / "MLmodel"
    if not where.is_file() or where.stat().st_size > _MLMODEL_MAX_BYTES:
        raise LeantuneError(
            f"{where}: a model directory must hold an MLmodel file (at most 1 MiB); got "
            + ("one too large" if where.is_file() else "none")
        )
    try:
        flavor = (yaml.safe_load(where.read_text()) or {})["flavors"]["sklearn"]
        form, name = flavor.get("serialization_format"), str(flavor["pickled_model"])
    except (yaml.YAMLError, OSError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        raise LeantuneError(
            f"{where}: must be an MLmodel file with an sklearn flavor (as leantune writes it)"
        ) from None
    if form != _SKOPS:
        raise LeantuneError(
            f"{where}: serialization_format must be {_SKOPS!r}, the only format leantune writes "
            f"(another would run code from the file); got {form!r}. Load a directory you trust "
            "with leantune.load(run_dir, trust=True)"
        )
    file = model_dir / name
    if Path(name).name != name or not file.is_file():
        raise LeantuneError(
            f"{where}: pickled_model must name a file in the model directory; got {name!r}"
        )
    try:
        untrusted = skops.io.get_untrusted_types(file=file)
    except Exception as error:  # a damaged or crafted archive: skops raises many kinds
        raise LeantuneError(f"{file}: not a readable skops file ({error})") from None
    own = [kind for kind in untrusted if _is_trusted_class(kind)]
    others = sorted(set(untrusted) - set(own))
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise LeantuneError(
            f"{file}: holds types beyond scikit-learn's and leantune's own ({shown}); loading "
            "them could run their code. Load a directory you trust with "
            "leantune.load(run_dir, trust=True)"
        )
    return skops.io.load(file, trusted=own)


_SKOPS = "skops"


def _is_trusted_class(qualified: str) -> bool:
    """Whether `qualified` names a class of scikit-learn (an estimator's internals, such as an
    MLP's optimizer) or one of leantune's estimators. A function, or a class of any other
    package, could be made to do something on load."""
    import importlib

    from sklearn.base import BaseEstimator

    module, _, name = qualified.rpartition(".")
    package = module.partition(".")[0]
    if package not in ("sklearn", "leantune") or not name:
        return False
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return False
    if not isinstance(found, type):
        return False
    return package == "sklearn" or issubclass(found, BaseEstimator)
