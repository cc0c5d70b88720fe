"""summary.json as a typed model: the study writes it through `Summary`, readers read it back
through `read_summary`. Keys a newer leantune adds are kept (extra="allow"); a summary that
lacks a key this version requires is refused with the key named."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from leantune._redact import redact
from leantune.errors import LeantuneError
from leantune.results._layout import SUMMARY_FILE

SCHEMA_VERSION = 1
"""summary.json's layout; goes up only when a key changes meaning or goes away."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")


class DatasetSummary(_Part):
    name: str
    task: Literal["classification", "regression"]
    rows: int
    features: int
    classes: int | None = None
    """Plus the loader's provenance: source, location, synthetic, subsample, ..."""


class SearchSummary(_Part):
    method: str = "grid"
    scheduler: str | None = None
    stopping_enabled: bool = True
    backend: str | None = None
    """What ran the trials (resources.backend); None in runs from before it was recorded."""


class Baseline(_Part):
    metric: str
    """test_accuracy or test_rmse."""
    value: float | None
    how: str


class ObjectiveSummary(_Part):
    """What the pick optimized among the feasible trials."""

    metric: str
    mode: Literal["min", "max"]


class BestSummary(_Part):
    """The chosen config: its CV score, its refit's test scores and what it costs to ship."""

    trial_id: str
    config: dict[str, Any]
    cv_metric: str
    cv_mode: Literal["min", "max"]
    cv_score_mean: float | None
    cv_score_std: float | None = None
    objective_value: float | None = None
    """Its value of the study's objective (`Summary.objective`); older runs: cv_score_mean."""
    test: dict[str, float | None] = Field(default_factory=dict)
    model_size_bytes: int | None = None
    inference_ms_per_sample: float | None = None
    inference_ms_per_1000: float | None = None
    baseline: Baseline | None = None
    model: str | None = None
    """The MLflow model directory, relative to the run directory (`model`)."""
    inference_measured: str | None = None
    """How the shipped model's latency was measured, in words."""
    chosen_on: str | None = None
    """Its complete record, or what it had reached when a quality rule ended it."""
    tie: dict[str, Any] | None = None
    """The trials tied with it in score and how the tie was broken; None: no tie."""
    shipped: dict[str, Any] | None = None
    """The shipped (refit) model against every deployment limit: {metric: {value, limit, met}}."""


class NearLimit(_Part):
    """A trial judged on its complete record within NEAR_LIMIT_SHARE of a limit, either side
    (leantune.metrics): a verdict a rerun, or other work on the machine, may turn."""

    trial_id: str
    config: dict[str, Any]
    status: str
    metric: str
    value: float
    limit: float
    margin_pct: float
    """(value / limit - 1) x 100: negative under the limit, positive over it."""


class Summary(_Part):
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    schema_version: int = SCHEMA_VERSION
    study: str
    run_dir: str
    dataset: DatasetSummary
    models: list[str]
    search_space: dict[str, Any]
    folds: int
    constraints: dict[str, float]
    objective: ObjectiveSummary | None = None
    """None in runs older than objectives: the CV score (best.cv_metric, best.cv_mode)."""
    quality_constraints: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Limits on quality metrics, judged on the final CV value: {"val_accuracy": {"min": 0.8}}."""
    trials: int
    status_counts: dict[str, int]
    search: SearchSummary = Field(default_factory=SearchSummary)
    stopped_by: dict[str, int] = Field(default_factory=dict)
    best: BestSummary | None
    wall_time_s: float
    trial_cpu_s: float
    trial_wall_s: float | None = None
    """The trials' own wall-clock time, summed, as their workers measured it (a trial's start
    and end by its backend left out); None in runs from before it was recorded."""
    driver_cpu_s: float
    tracking_uri: Annotated[str, AfterValidator(redact)]
    """The store's URI, its password (if any) written as `***`: never stored."""
    mlflow_parent_run_id: str | None = None
    mlflow_experiment: str | None = None
    leantune_version: str
    python: str
    outcome: Literal["completed", "interrupted"] = "completed"
    ledger: dict[str, Any] = Field(default_factory=dict)
    forecasts: dict[str, Any] = Field(default_factory=dict)
    """Coverage of the cost model's forecast intervals, held out: {"level", "untried": {metric:
    {"forecasts", "held", "coverage", ...}}, "running": {"train_time_s": {...}}}."""
    sessions: int = 1
    unfinished_trials: int = 0
    trial_order: str = "grid"
    """The order trials started in: "grid", or "shuffled (seed N)" (a run-order control)."""
    clock: str = "wall"
    """The clock time limits were judged on; runs from before the choice used the wall."""
    environment: dict[str, Any] = Field(default_factory=dict)
    """The machine and the library versions; empty in runs from before it was recorded."""
    memory_limit: dict[str, Any] | None = None
    estimators: dict[str, Any] = Field(default_factory=dict)
    stopped_trials: list[dict[str, Any]] = Field(default_factory=list)
    failed_trials: list[dict[str, Any]] = Field(default_factory=list)
    diverged_trials: list[dict[str, Any]] = Field(default_factory=list)
    late_stops: list[dict[str, Any]] = Field(default_factory=list)
    near_limits: list[NearLimit] = Field(default_factory=list)
    """Nearest first; empty in runs from before it was recorded."""
    shipped_rejected: list[dict[str, Any]] = Field(default_factory=list)
    """Chosen configs whose shipped model broke a limit their trial met, each refit in vain."""

    def as_dict(self) -> dict[str, Any]:
        """The JSON form, every key (also keys this version does not know) included."""
        return self.model_dump(mode="json", exclude_none=False)


def write_summary(run_dir: Path, summary: Summary) -> Summary:
    """Write `summary` (NaN and infinity as null), checked again against the model: a field
    set after it was built is validated too."""
    typed = Summary.model_validate(_finite_or_null(summary.as_dict()))
    write_json(run_dir / SUMMARY_FILE, typed.as_dict())
    return typed


def write_json(path: Path, value: Any) -> None:
    """JSON every reader can parse: NaN and infinity written as null, numpy values as numbers."""
    path.write_text(
        json.dumps(_finite_or_null(value), indent=2, default=_jsonable, allow_nan=False)
    )


def read_summary(run_dir: Path | str) -> Summary:
    """A run directory's summary. Raises LeantuneError naming the file and the problem."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise LeantuneError(
            f"RUN_DIR: {str(run_dir)!r} holds no {SUMMARY_FILE}; is it a finished leantune run?"
        )
    try:
        return Summary.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError) as error:
        problems = (
            [f"{path}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
            if isinstance(error, ValidationError)
            else [f"{path} cannot be read: {error}"]
        )
        raise LeantuneError(problems) from None


def _finite_or_null(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null so every reader can parse the file."""
    if hasattr(value, "item") and not isinstance(value, dict | list | tuple):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
