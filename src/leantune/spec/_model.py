"""The study spec: one pydantic model that validates a whole study before anything starts."""

from __future__ import annotations

import contextlib
import difflib
import io
import re
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializationInfo,
    Tag,
    field_serializer,
    field_validator,
    model_validator,
)

from leantune._redact import redact
from leantune.metrics._catalog import CATALOGUE, METRICS, PREDICTABLE, QUALITY_METRICS, Clock
from leantune.metrics._ml import score_metric
from leantune.metrics._objective import Objective, QualityBound
from leantune.models._adapter import (
    STEP_SIZE_ARGUMENTS,
    EstimatorModel,
    constructor_arguments,
    load_estimator,
    task_of,
)
from leantune.spec._axis import Axis, parse_axis

# strict=True keeps YAML's `true` from passing as 1 and "3" from passing as 3.
PositiveInt = Annotated[int, Field(strict=True, gt=0)]
NonNegativeInt = Annotated[int, Field(strict=True, ge=0)]
# A limit of .inf is no limit (and breaks the arithmetic on it): leave the key out instead.
PositiveFloat = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]
# numpy and scikit-learn take seeds in [0, 2**32 - 1].
Seed = Annotated[int, Field(strict=True, ge=0, le=2**32 - 1)]

ModelName = Literal["linear", "logistic", "svm"]
TaskName = Literal["classification", "regression"]
BackendName = Literal["sklearn", "minibatch"]
"""How models train (leantune.models.BACKENDS): scikit-learn's partial_fit, which updates per
sample, or true mini-batch SGD, which updates per batch."""

MODEL_TASKS: dict[str, str] = {
    "linear": "regression",
    "logistic": "classification",
    "svm": "classification",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, use_attribute_docstrings=True)


DatasetSource = Literal["sklearn", "pmlb", "file", "synthetic", "memory"]

# The keys each source reads besides `source` and `task`; a key another source reads is a
# mistake worth naming (a `path` next to `source: pmlb` would otherwise be silently ignored).
DATASET_KEYS: dict[str, tuple[str, ...]] = {
    "sklearn": ("name",),
    "pmlb": ("name", "cache_dir"),
    "file": ("path", "target", "categorical", "name"),
    "synthetic": ("synthetic_like", "cache_dir", "seed"),
    "memory": ("name", "target"),
}
_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "sklearn": ("name",),
    "pmlb": ("name",),
    "file": ("path", "target"),
    "synthetic": ("synthetic_like",),
    "memory": (),
}
_MISPLACED_HINTS = {
    "synthetic_like": (
        ". A stand-in is its own source, so it never passes for the real set: write "
        "dataset: {synthetic_like: NAME} and leave source out (or set it to 'synthetic')"
    ),
}
_KEY_PURPOSE = {
    "name": "the dataset's name",
    "path": "a CSV or Parquet file",
    "target": "the column to predict",
    "synthetic_like": "the PMLB set whose shape the stand-in copies",
}


class SubsampleSpec(_Section):
    """A seeded sample of the dataset's rows, drawn before the train/test split."""

    rows: PositiveInt
    """How many rows to keep. A set with no more rows than this is used whole."""
    seed: Seed = 0
    """The sample's own seed, independent of training.seed."""


class DatasetSpec(_Section):
    """Where the data comes from. Without `source`, `path` means a file, `synthetic_like` a
    synthetic stand-in, and anything else a scikit-learn built-in. `memory`: arrays or a
    DataFrame given in Python, `leantune.run(spec, X=..., y=...)`."""

    source: DatasetSource = "sklearn"
    name: Annotated[str, Field(min_length=1)] | None = None
    """sklearn, pmlb: the set's name. file, memory: a label for outputs (default: the file's
    stem; `in-memory`)."""
    task: TaskName | None = None
    """Default: the set's known task, else inferred from the target."""
    cache_dir: Path | None = None
    """pmlb cache directory. Default: $LEANTUNE_PMLB_CACHE, else ~/.cache/leantune/pmlb."""
    path: Path | None = None
    """file: a .csv, .csv.gz, .tsv, .tsv.gz, .parquet or .pq file (relative to the current
    directory)."""
    target: Annotated[str, Field(min_length=1)] | None = None
    """file: the column to predict; every other column is a feature. memory: the same, when
    X is a DataFrame holding the target and y is not given."""
    categorical: Literal["onehot", "error"] | None = None
    """file: what to do with non-numeric feature columns. Default onehot (one column per value);
    error rejects them."""
    synthetic_like: Annotated[str, Field(min_length=1)] | None = None
    """synthetic: a PMLB name. The stand-in has its rows, features, task and classes (read from
    its summary_stats.tsv), with seeded random values. For scale checks, never for results."""
    seed: Seed | None = None
    """synthetic: the generator's seed (default 0), independent of training.seed."""
    subsample: SubsampleSpec | None = None
    """Any source: train on a seeded sample of `rows` rows (stratified for classification),
    drawn before the split; `subsample: 20000` is short for `{rows: 20000, seed: 0}`. For
    budgets: every output records it, and scores describe the sample, not the whole set."""

    @field_validator("subsample", mode="before")
    @classmethod
    def _rows_alone(cls, value: Any) -> Any:
        is_count = isinstance(value, int) and not isinstance(value, bool)
        return {"rows": value} if is_count else value

    @model_validator(mode="before")
    @classmethod
    def _source_from_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "source" not in data:
            if "path" in data:
                return {**data, "source": "file"}
            if "synthetic_like" in data:
                return {**data, "source": "synthetic"}
        return data

    @field_validator("name", "cache_dir", "path", "target", "categorical", "synthetic_like", "seed")
    @classmethod
    def _belongs_to_source(cls, value: Any, info: Any) -> Any:
        source = info.data.get("source")
        if source is None:  # `source` itself is invalid; that error is enough
            return value
        key = info.field_name
        if value is None and key in _REQUIRED_KEYS[source]:
            raise ValueError(
                f"is required for source {source!r} ({_KEY_PURPOSE[key]}); got nothing"
            )
        if value is not None and key not in DATASET_KEYS[source]:
            users = [repr(s) for s, keys in DATASET_KEYS.items() if key in keys]
            allowed = users[0] if len(users) == 1 else f"{', '.join(users[:-1])} or {users[-1]}"
            raise ValueError(
                f"applies only to source {allowed}; got it with source {source!r}"
                f"{_MISPLACED_HINTS.get(key, '')}"
            )
        return value


class SearchSpaceSpec(_Section):
    batch_size: Axis = Field(default_factory=lambda: parse_axis({"pow2": [1, "max"]}, "batch_size"))
    learning_rate: Axis = Field(
        default_factory=lambda: parse_axis({"pow10": [-4, -1]}, "learning_rate")
    )
    alpha: Axis = Field(default_factory=lambda: parse_axis([0.0001], "alpha"))

    @field_validator("batch_size", "learning_rate", "alpha", mode="before")
    @classmethod
    def _parse(cls, value: Any, info: Any) -> Axis:
        return parse_axis(value, info.field_name)


class EstimatorModelSpec(_Section):
    """Any scikit-learn estimator with `partial_fit`, by import path. Every search axis other
    than batch_size goes to a constructor argument: `alpha` to `alpha`, `learning_rate` to the
    step size (`learning_rate_init`, else `eta0`); `batch_size` also goes to `batch_size` where
    the estimator has one, so one step is one update. Its losses and scores come from its own
    outputs (predict_proba, else decision_function, else predict)."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    """How trials, tables and the report name it (letters, digits, '_', '-', '.')."""
    estimator: str
    """Import path of the class, `sklearn.neural_network.MLPClassifier`."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Fixed constructor arguments, `{hidden_layer_sizes: [16]}`."""

    @field_validator("name")
    @classmethod
    def _own_name(cls, value: str) -> str:
        if value in MODEL_TASKS:
            raise ValueError(
                f"names a built-in model; give the estimator a name of its own; got {value!r}"
            )
        if not _NAME_PATTERN.match(value):
            raise ValueError(
                "must start with a letter or digit and use only letters, digits, '_', '-' "
                f"and '.'; got {value!r}"
            )
        return value

    @field_validator("estimator")
    @classmethod
    def _importable(cls, value: str) -> str:
        found = _import_quietly(value)
        if task_of(found) is None:
            raise ValueError(f"must name a classifier or a regressor; {value} is neither")
        return value

    @model_validator(mode="after")
    def _known_arguments(self) -> EstimatorModelSpec:
        cls = load_estimator(self.estimator)
        allowed = constructor_arguments(cls)
        for key in self.params:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                raise ValueError(
                    f"params.{key}: is not a constructor argument of {self.estimator}"
                    f"{f' (did you mean {hint[0]!r}?)' if hint else ''}; allowed: "
                    f"{', '.join(allowed)}"
                )
        _check_values(cls, self.params, "params")
        return self

    @property
    def task(self) -> str:
        return task_of(load_estimator(self.estimator)) or "classification"


class FunctionModelSpec(_Section):
    """A training function of your own, given in Python: `leantune.run(spec, trainable=train)`
    with `train(config, data, session)`. It gets the config (batch_size, learning_rate, alpha),
    the fold's standardized data, and a session to call once a step with its loss and model."""

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w.-]*$")]
    trainable: Literal[True]
    task: TaskName | None = None
    """Default: dataset.task, else the task inferred from data given in Python."""


def _check_values(cls: type, options: dict[str, Any], what: str) -> None:
    """scikit-learn's own check of argument values (`_validate_params`), where it has one."""
    try:
        estimator = cls(**options)
    except Exception as error:
        raise ValueError(f"{what}: {type(error).__name__}: {error}") from None
    check = getattr(estimator, "_validate_params", None)
    if callable(check):
        try:
            check()
        except Exception as error:
            raise ValueError(f"{what}: {error}") from None


class SchedulerSpec(_Section):
    """ASHA (asynchronous successive halving) on the validation metric, next to the policies."""

    name: Literal["asha"] = "asha"
    grace_period: Annotated[float, Field(strict=True, gt=0, le=100)] = 10
    """Percent of a trial's planned steps before ASHA may stop it."""
    reduction_factor: Annotated[int, Field(strict=True, ge=2)] = 3


class SearchSpec(_Section):
    method: Literal["grid", "random", "tpe"] = "grid"
    """grid: every combination. random, tpe: `num_samples` configs from Optuna's samplers; a
    pow10 or log range is then sampled log-uniformly, lists and pow2 ranges as choices."""
    num_samples: PositiveInt | None = None
    space: SearchSpaceSpec = Field(default_factory=SearchSpaceSpec)
    scheduler: SchedulerSpec | None = None

    @field_validator("scheduler", mode="before")
    @classmethod
    def _name_alone(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _samples_fit_the_method(self) -> SearchSpec:
        for name in ("learning_rate", "alpha"):
            axis = getattr(self.space, name)
            if self.method == "grid" and axis.continuous:
                raise ValueError(
                    f"search.space.{name}: {axis.model_dump()} is a continuous range, which only "
                    "random and tpe can sample; a grid needs a list or a pow10/pow2 range "
                    "(got method 'grid')"
                )
        if self.method == "grid" and self.num_samples is not None:
            raise ValueError(
                "search.num_samples: only random and tpe sample configs; grid runs every "
                f"combination (got method 'grid' with num_samples {self.num_samples})"
            )
        if self.method != "grid" and self.num_samples is None:
            raise ValueError(
                f"search.num_samples: method {self.method!r} needs the number of configs to "
                "sample, an integer >= 1; got none"
            )
        return self


MAX_EPOCHS = 100_000
MAX_STEPS_PER_FOLD = 10**9


class TrainingSpec(_Section):
    # Bounded so that a typo (an extra digit, 2**64) cannot plan a study that trains for years;
    # the study's total planned steps are bounded too, once the data's size is known.
    epochs: Annotated[PositiveInt, Field(le=MAX_EPOCHS)] = 1
    max_steps: Annotated[PositiveInt, Field(le=MAX_STEPS_PER_FOLD)] | None = None
    """Steps per fold. When set, it replaces `epochs`: training cycles over the fold until done."""
    report_every: PositiveInt = 100
    first_reports: list[PositiveInt] = Field(default_factory=lambda: [5, 10, 20, 50])
    """Extra reports in each trial's first fold at these steps (those below report_every), so
    the first evidence of what a config costs arrives after a few steps: a clearly infeasible
    config is stopped within a small fraction of its limit. [] for reports every report_every
    steps only."""
    seed: Seed = 0
    shuffle: bool = True
    """Shuffle each fold's rows every epoch (seeded). Off: rows are visited in fold order."""
    log_every_step: bool = False
    """Keep the full per-step training-loss series (large: batch 2 makes ~1e5 steps a fold)."""
    backend: BackendName = "sklearn"
    """sklearn: scikit-learn's partial_fit, one update per sample, so batch size changes
    overhead, not learning (the defining study's system). minibatch: one update per batch,
    the gradient averaged over it, so batch size changes what is learned; compiled, a report
    window per call."""

    @model_validator(mode="after")
    def _epochs_or_steps(self) -> TrainingSpec:
        if self.max_steps is not None and "epochs" in self.model_fields_set:
            raise ValueError(
                "set either training.epochs or training.max_steps, not both "
                f"(got epochs={self.epochs}, max_steps={self.max_steps})"
            )
        return self


class ValidationSpec(_Section):
    test_size: Annotated[float, Field(strict=True, gt=0, lt=1)] = 0.3
    cv_folds: PositiveInt = 5
    """K-fold cross-validation on the training part; 1 means a single holdout split."""
    holdout_size: Annotated[float, Field(strict=True, gt=0, lt=1)] = 0.2
    """Validation share of the training part when cv_folds is 1."""
    report_rows: PositiveInt | None = 4096
    """Validation rows (a fixed seeded sample) scored at reports inside a fold, to keep them
    cheap on large sets; each fold's last report, which gives its score, uses every row.
    null: every row at every report. Under `backend: minibatch` a report scores at most a
    twentieth of the rows its window trained (at least 256), so that it costs what its window
    does."""


_LIMITED = tuple(m.name for m in CATALOGUE if m.constrainable)


class ConstraintsSpec(_Section):
    """Limits the application puts on a trial. A trial that breaks one is never feasible.

    A bare number is a maximum; `{max: x}` says so explicitly, and `{min: x}` is a floor, for a
    metric that is better higher (`val_accuracy: {min: 0.8}`). A limit on a quality metric is
    judged on the trial's final cross-validated value and never stops a trial early."""

    memory_mb: PositiveFloat | None = None
    """Private memory of the trial's worker process: RSS − shared, in MB."""
    memory_rise_mb: PositiveFloat | None = None
    """Private memory gained since the trial started (ignores the worker's baseline)."""
    step_time_ms: PositiveFloat | None = None
    """Average time of one training step (one partial_fit call), over the trial so far, on
    `clock`."""
    train_time_s: PositiveFloat | None = None
    """Total training time of the trial, all folds, on `clock`."""
    cpu_percent: PositiveFloat | None = None
    """CPU use of the trial's worker process, in percent of one core."""
    inference_latency_ms: PositiveFloat | None = None
    """Prediction time per sample: the median of several timed calls on a fixed block of
    validation rows, on `clock` (deployment)."""
    model_size_kb: PositiveFloat | None = None
    """Serialized (pickled) size of the model (deployment)."""
    val_accuracy: Annotated[float, Field(strict=True, gt=0, le=1)] | None = None
    """Classification: a floor, `{min: 0.8}`, on the mean over folds of each fold's final
    validation accuracy. Judged once the trial has finished; it never stops one early."""
    val_rmse: PositiveFloat | None = None
    """Regression: a ceiling on the mean over folds of each fold's final validation RMSE.
    Judged once the trial has finished; it never stops one early."""

    clock: Clock = "cpu"
    """Which clock time limits (train_time_s, step_time_ms, inference_latency_ms) are judged on.
    cpu: the training thread's CPU time, what a dedicated core would take, so another job on a
    shared machine does not decide a stop; wall: elapsed time, for a trial that owns its core;
    normalized: the CPU time divided by the trial's slowdown, measured by a calibrated probe
    against an idle core (`slowdown`), an estimate of what an idle core would take. All three
    are measured and reported either way (`train_time_cpu_s`, `_wall_s`, `_norm_s`)."""

    @field_validator(*_LIMITED, mode="before")
    @classmethod
    def _bound(cls, value: Any, info: Any) -> Any:
        """`{max: x}` and `{min: x}` to the number, where the metric takes that kind of limit."""
        metric = METRICS[info.field_name]
        allowed = metric.bound
        if isinstance(value, dict):
            if len(value) != 1 or not set(value) <= {"min", "max"}:
                raise ValueError(
                    f"must be a number (a maximum), {{max: x}} or {{min: x}}; got {value!r}"
                )
            ((kind, number),) = value.items()
            if kind != allowed:
                better = "lower" if metric.lower_is_better else "higher"
                raise ValueError(
                    f"takes only {{{allowed}: x}}: it is better {better}, so a {kind}imum on "
                    f"it would hold back the better trials; got {value!r}"
                )
            return number
        if value is not None and allowed == "min" and not isinstance(value, bool):
            raise ValueError(
                f"a bare number is a maximum, but {info.field_name} is better higher: write "
                f"{{min: {value}}} for a floor; got {value!r}"
            )
        return value

    @field_serializer(*QUALITY_METRICS)
    def _explicit(self, value: float | None, info: Any) -> Any:
        # Written back in the form that reads back the same (spec.yaml, resume).
        return None if value is None else {METRICS[info.field_name].bound: value}

    def active(self) -> dict[str, float]:
        """The maxima on system and deployment metrics that are set, by metric name: what the
        stopping rules enforce on every report."""
        limits = self.model_dump(exclude={"clock", *QUALITY_METRICS})
        return {name: value for name, value in limits.items() if value is not None}

    def quality(self) -> list[QualityBound]:
        """The limits on quality metrics that are set: judged on a trial's final CV value."""
        return [
            QualityBound(name, float(value))
            for name in QUALITY_METRICS
            if (value := getattr(self, name)) is not None
        ]


class ObjectiveSpec(_Section):
    """What the pick optimizes among the feasible trials (and what TPE learns from)."""

    metric: Literal[tuple(m.name for m in CATALOGUE)]  # type: ignore[valid-type]
    """Any metric a trial reports; a quality metric by its cross-validated value, any other by
    the trial's final reading (trials.csv's column of that name)."""
    mode: Literal["min", "max"] | None = None
    """Default: min for what is better lower (times, memory, RMSE), max for accuracy."""

    @model_validator(mode="before")
    @classmethod
    def _metric_alone(cls, data: Any) -> Any:
        return {"metric": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _default_mode(self) -> ObjectiveSpec:
        if self.mode is None:
            self.mode = "min" if METRICS[self.metric].lower_is_better else "max"
        return self


def _on_off(value: Any) -> Any:
    """`true` turns a policy on with its defaults, `false` or null turns it off."""
    if value is True:
        return {}
    if value is False:
        return None
    return value


class ConstraintStopSpec(_Section):
    grace_steps: NonNegativeInt = 0
    """No constraint stop before this many steps."""
    sustained: PositiveInt = 2
    """Stop only when a limit is broken on this many consecutive reports: one reading is not
    evidence on a shared machine. A total (train_time_s) over its limit is final at once."""


class PredictiveSpec(_Section):
    margin: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)] = 0.1
    """Stop when the forecast's lower bound is over limit × (1 + margin)."""
    confidence: Annotated[float, Field(strict=True, ge=0.5, lt=1)] = 0.9
    """One-sided confidence of the forecast's lower bound (Sen's interval of the trend's slope,
    pooled over the trial's cost twins)."""
    window: Annotated[int, Field(strict=True, ge=2)] = 5
    min_reports: Annotated[int, Field(strict=True, ge=2)] = 3


class DivergenceSpec(_Section):
    explode_factor: Annotated[float, Field(strict=True, gt=1, allow_inf_nan=False)] = 1e3
    zero_weights: bool = True


class PrecheltSpec(_Section):
    criterion: Literal["GL", "PQ", "UP"] = "GL"
    alpha: PositiveFloat = 5.0
    strip: PositiveInt = 5
    successive: PositiveInt = 3


class PatienceSpec(_Section):
    metric: Literal["val_loss", "val_accuracy", "val_rmse", "train_loss"] = "val_loss"
    patience: PositiveInt = 5
    min_delta: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)] = 0.0


class StoppingSpec(_Section):
    """Which policies may end a trial early. Any one of them stopping ends it."""

    enabled: bool = True
    """false: nothing is stopped early; a trial that breaks a limit still cannot be picked."""
    constraint: ConstraintStopSpec = Field(default_factory=ConstraintStopSpec)
    predictive: PredictiveSpec | None = None
    divergence: DivergenceSpec | None = Field(default_factory=DivergenceSpec)
    prechelt: PrecheltSpec | None = None
    patience: PatienceSpec | None = None
    skip_predicted: bool | None = None
    """Do not run a config whose cost the study's cost model (built from every report, shared by
    configs of the same model and batch size) predicts over a limit with confidence: it ends
    `skipped`, with the prediction and its evidence, and reaches TPE as infeasible. Default
    (null): on wherever constraints set a limit; no P9 run, quiet or loaded, skipped a config
    an unstopped run found feasible (BENCHMARKS.md)."""

    @field_validator("predictive", "divergence", "prechelt", "patience", mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        return _on_off(value)


class ResourcesSpec(_Section):
    backend: Literal["ray", "ray-pool", "processes", "in-process"] = "ray"
    """What runs the trials. ray: Ray Tune, trials side by side (and on a cluster with
    ray_address). ray-pool: trial packing on Ray: up to one long-lived Ray actor per CPU of
    the cluster (one, then more once the work left needs them) pulls config after config
    (short trials on a cluster, with ray_address).
    processes: the same packing with worker processes, no Ray (one machine); it starts one
    worker, and more (up to one per CPU) once the work left needs them. in-process: one after
    another in leantune's own process, no Ray: for debugging a study (a breakpoint in a trial
    stops right there)."""
    cpus_per_trial: PositiveInt = 1
    max_concurrent: PositiveInt | None = None
    """Trials at once. Default: as many as the CPUs Ray sees allow."""
    ray_address: str | None = None
    """Default: start a local Ray. `auto` or `host:port` joins an existing cluster."""
    max_failures: NonNegativeInt = 0
    """Retries of a trial that raised an error or whose worker process died: a persistent
    error gives max_failures + 1 attempts. Divergence and a hit memory_limit_mb are not retried
    (the same config would meet them again)."""
    # RLIMIT_DATA counts bytes in 64 bits: 2**40 MB (an exabyte) is far above any machine.
    memory_limit_mb: Annotated[PositiveFloat, Field(le=2**40)] | None = None
    """Hard cap on a trial's private memory, enforced in its worker (Linux: RLIMIT_DATA): an
    allocation past it fails, and the trial ends `failed` with a "memory limit" error while
    the study goes on. constraints.memory_mb, below it, stops a trial at a report first."""

    @property
    def uses_ray(self) -> bool:
        """The backend runs its trials on Ray (a private one, the persistent one, or a cluster)."""
        return self.backend in ("ray", "ray-pool")

    @model_validator(mode="after")
    def _in_process_joins_no_cluster(self) -> ResourcesSpec:
        if not self.uses_ray and self.ray_address is not None:
            raise ValueError(
                f"resources.ray_address: the {self.backend} backend runs trials on this machine "
                "and joins no Ray; drop ray_address or use backend: ray or ray-pool "
                f"(got ray_address {self.ray_address!r} with backend {self.backend!r})"
            )
        return self


def _redacted_uri(self: Any, uri: str | None, info: SerializationInfo) -> str | None:
    """A URI's JSON form, for every file and record a study writes: without its password,
    unless the caller asks to keep it (`context={"keep_secrets": True}`, to re-validate)."""
    if uri is None or (info.context or {}).get("keep_secrets"):
        return uri
    return redact(uri)


def _import_quietly(path: str) -> type:
    """The estimator class at `path`. Importing its module runs the module's code (inherent to
    import paths, said in `validate --help`): what it prints or warns is kept off the terminal,
    and whatever it raises becomes one line. A ValueError names what is wrong with the path."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        try:
            return load_estimator(path)
        except ValueError:
            raise
        except (Exception, SystemExit) as error:  # the module's own code failed as it ran
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            module = path.rpartition(".")[0]
            raise ValueError(
                f"importing module {module!r} failed: {type(error).__name__}"
                f"{': ' + reason if reason else ''}; got {path!r}"
            ) from None


class OutputSpec(_Section):
    dir: Path | None = None
    """Run directory. Default: runs/<study-name>-<timestamp>."""
    tracking_uri: str | None = None
    """Same as tracking.uri (kept for study files that put it under output)."""

    _hide_password = field_serializer("tracking_uri", when_used="json")(_redacted_uri)
    report: bool = True
    """Write report.html, report.md and the CSV tables at the end of the run (a few seconds of
    plotting). Off, `leantune report RUN_DIR` writes them later from the stored results."""


class TrackingSpec(_Section):
    uri: str | None = None
    """MLflow tracking URI. Default: a sqlite file in the run directory. Its password is shown
    and stored as `***` (spec.yaml, summary, MLflow params); connecting uses it as given."""

    _hide_password = field_serializer("uri", when_used="json")(_redacted_uri)
    experiment: str | None = None
    """MLflow experiment name. Default: the study name."""


_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _model_kind(value: Any) -> str:
    if isinstance(value, FunctionModelSpec) or (isinstance(value, dict) and "trainable" in value):
        return "function"
    return "by-path" if isinstance(value, dict | BaseModel) else "built-in"


def _model_name(model: Any) -> str:
    return model.name if isinstance(model, BaseModel) else str(model)


def _model_task(model: Any) -> str:
    if isinstance(model, FunctionModelSpec):
        return model.task or "classification"
    return model.task if isinstance(model, EstimatorModelSpec) else MODEL_TASKS[model]


def _axis_size(axis: Axis) -> int:
    """How many values an axis gives (2 for a continuous range: more than one)."""
    if axis.kind == "values":
        return len(axis.values)
    if axis.kind in ("pow10", "pow2") and axis.high != "max":
        return int(axis.high) - axis.low + 1
    return 2


def _axis_sample(axis: Axis, name: str) -> Any:
    """One value of the axis, to check the estimator accepts its kind."""
    if axis.kind == "values":
        value: Any = axis.values[0]
    elif axis.kind in ("pow10", "pow2"):
        value = (10.0 if axis.kind == "pow10" else 2.0) ** axis.low
    else:
        value = axis.lower
    return int(value) if name == "batch_size" else float(value)


class StudySpec(_Section):
    """A whole study: one dataset, one or more models, a search space and the constraints."""

    name: str
    dataset: DatasetSpec
    model: list[
        Annotated[
            Annotated[ModelName, Tag("built-in")]
            | Annotated[EstimatorModelSpec, Tag("by-path")]
            | Annotated[FunctionModelSpec, Tag("function")],
            Discriminator(_model_kind),
        ]
    ]
    """Built-in names (linear, logistic, svm) and by-path estimators, `{name: mlp, estimator:
    sklearn.neural_network.MLPClassifier, params: {hidden_layer_sizes: [16]}}`."""
    search: SearchSpec = Field(default_factory=SearchSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    objective: ObjectiveSpec | None = None
    """Default: the task's validation score (maximize val_accuracy, minimize val_rmse).
    `objective: inference_latency_ms` is short for `{metric: inference_latency_ms}`."""
    constraints: ConstraintsSpec = Field(default_factory=ConstraintsSpec)
    stopping: StoppingSpec = Field(default_factory=StoppingSpec)
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)

    @field_validator("name")
    @classmethod
    def _name_is_a_path_part(cls, value: str) -> str:
        if not _NAME_PATTERN.match(value):
            raise ValueError(
                "must start with a letter or digit and use only letters, digits, '_', '-' "
                f"and '.', because it names the run directory; got {value!r}"
            )
        return value

    @field_validator("model", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | dict) else value

    @field_validator("model")
    @classmethod
    def _non_empty_unique(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise ValueError("must name at least one of 'linear', 'logistic', 'svm'; got []")
        names = [_model_name(m) for m in value]
        if len(set(names)) != len(names):
            raise ValueError(f"lists a model twice; got {names}")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> StudySpec:
        for index, model in enumerate(self.model):
            if isinstance(model, FunctionModelSpec) and model.task is None:
                if self.dataset.task is None:
                    raise ValueError(
                        f"model[{index}].task: a training function's task must be given, "
                        "'classification' or 'regression' (or set dataset.task); got nothing"
                    )
                model.task = self.dataset.task
        tasks = {_model_task(m) for m in self.model}
        if len(tasks) > 1:

            def named(task: str) -> str:
                return ", ".join(repr(_model_name(m)) for m in self.model if _model_task(m) == task)

            raise ValueError(
                f"model: {self.model_names} mixes regression ({named('regression')}) and "
                f"classification ({named('classification')}) models, but a study has one "
                "dataset and so one task"
            )
        if self.dataset.task is not None and tasks != {self.dataset.task}:
            raise ValueError(
                f"model: {self.model_names} needs a {tasks.pop()} task, "
                f"but dataset.task is {self.dataset.task!r}"
            )
        by_path = [m for m in self.model if isinstance(m, EstimatorModelSpec | FunctionModelSpec)]
        if by_path and self.training.backend == "minibatch":
            raise ValueError(
                "training.backend: minibatch trains the built-in models only; "
                f"{by_path[0].name} trains by its own partial_fit or function "
                "(use backend sklearn)"
            )
        for model in by_path:
            if isinstance(model, EstimatorModelSpec):
                self._estimator_axes(model, self.model.index(model))
        for name, where in self._quality_metrics_named():
            needs = METRICS[name].task
            if needs != self.task:
                raise ValueError(
                    f"{where}: {name} is reported for {needs} only, but model {self.model_names} "
                    f"is {self.task}"
                )
        scheduler = self.search.scheduler
        if scheduler is not None and self.goal != Objective(*score_metric(self.task)):
            raise ValueError(
                f"search.scheduler: {scheduler.name} ranks trials mid-training by their "
                f"validation score, but objective is {self.goal.describe()}; leave the "
                "scheduler out, or the objective at the task's score"
            )
        predictable = PREDICTABLE
        if self.stopping.predictive is not None and not set(self.constraints.active()) & set(
            predictable
        ):
            raise ValueError(
                "stopping.predictive: forecasts a limit on one of "
                f"{', '.join(predictable)}, but constraints sets "
                f"{sorted(self.constraints.active()) or 'none'}"
            )
        if self.stopping.skip_predicted and not self.constraints.active():
            raise ValueError(
                "stopping.skip_predicted: skips configs predicted to break a limit, but "
                "constraints sets none; set a limit or turn skip_predicted off"
            )
        patience = self.stopping.patience
        wrong = {"classification": "val_rmse", "regression": "val_accuracy"}[self.task]
        if patience is not None and patience.metric == wrong:
            raise ValueError(
                f"stopping.patience.metric: {wrong!r} is not reported for {self.model_names}; use "
                "val_loss, train_loss, or the task's own metric"
            )
        cap, memory = self.resources.memory_limit_mb, self.constraints.memory_mb
        if cap is not None and memory is not None and memory >= cap:
            raise ValueError(
                f"resources.memory_limit_mb: must be above constraints.memory_mb, or the hard "
                f"cap fails trials before the constraint can stop them (got memory_limit_mb "
                f"{cap:g} and memory_mb {memory:g})"
            )
        both = self.output.tracking_uri and self.tracking.uri
        if both and self.output.tracking_uri != self.tracking.uri:
            raise ValueError(
                "output.tracking_uri and tracking.uri disagree; set one of them "
                f"(got {self.output.tracking_uri!r} and {self.tracking.uri!r})"
            )
        return self

    def _quality_metrics_named(self) -> list[tuple[str, str]]:
        named = [(b.metric, f"constraints.{b.metric}") for b in self.constraints.quality()]
        if self.objective is not None and self.objective.metric in QUALITY_METRICS:
            named.append((self.objective.metric, "objective.metric"))
        return named

    @property
    def goal(self) -> Objective:
        """The objective the pick and TPE use: the spec's, else the task's validation score."""
        if self.objective is None:
            return Objective(*score_metric(self.task))  # type: ignore[arg-type]
        return Objective(self.objective.metric, self.objective.mode)  # type: ignore[arg-type]

    @property
    def task(self) -> str:
        """The task the models need (the dataset must match it)."""
        return _model_task(self.model[0])

    @property
    def functions(self) -> list[FunctionModelSpec]:
        """The model entries a training function given in Python trains."""
        return [m for m in self.model if isinstance(m, FunctionModelSpec)]

    @property
    def model_names(self) -> list[str]:
        """Every model's name, as configs and tables carry it."""
        return [_model_name(m) for m in self.model]

    def estimator_models(self) -> tuple[EstimatorModel, ...]:
        """The by-path models as the trial loop builds them (leantune.models.EstimatorModel)."""
        return tuple(
            EstimatorModel(
                m.name, m.estimator, m.task, dict(m.params), self._estimator_axes(m, index)
            )
            for index, m in enumerate(self.model)
            if isinstance(m, EstimatorModelSpec)
        )

    def _estimator_targets(self, model: EstimatorModelSpec) -> dict[str, str | None]:
        """Search axis → the estimator's constructor argument, None where it has none."""
        allowed = constructor_arguments(load_estimator(model.estimator))
        return {
            "batch_size": "batch_size" if "batch_size" in allowed else None,
            "alpha": "alpha" if "alpha" in allowed else None,
            "learning_rate": next((a for a in STEP_SIZE_ARGUMENTS if a in allowed), None),
        }

    def unused_axes(self) -> list[str]:
        """The axes (learning_rate, alpha) that no model of the study takes and the study file
        does not set: they are fixed at one value, as if absent, so no config repeats."""
        taken = set()
        for m in self.model:
            if isinstance(m, EstimatorModelSpec):
                taken |= {a for a, arg in self._estimator_targets(m).items() if arg is not None}
            else:
                taken |= {"learning_rate", "alpha"}
        given = self.search.space.model_fields_set
        return [a for a in ("learning_rate", "alpha") if a not in taken and a not in given]

    def _estimator_axes(self, model: EstimatorModelSpec, index: int) -> dict[str, str]:
        """Search axis → the estimator's constructor argument. An axis the estimator cannot
        take is not passed; it is refused only where its values would repeat this model's
        configs: several values given, or the default's where another model takes the axis."""
        cls = load_estimator(model.estimator)
        space = self.search.space
        targets = self._estimator_targets(model)
        unused = self.unused_axes()
        axes: dict[str, str] = {}
        for axis, argument in targets.items():
            if argument is None:
                if axis not in ("batch_size", *unused) and _axis_size(getattr(space, axis)) > 1:
                    takes = (
                        f"no step-size argument ({' or '.join(STEP_SIZE_ARGUMENTS)})"
                        if axis == "learning_rate"
                        else f"no argument {axis!r}"
                    )
                    raise ValueError(
                        f"search.space.{axis}: model {model.name} ({model.estimator}) takes "
                        f"{takes}, so its configs would repeat once per value of "
                        f"{axis} ({_axis_size(getattr(space, axis))} values); give {axis} one "
                        f"value (e.g. {axis}: [0.01]), or tune {model.name} in a study of its own"
                    )
                continue
            if argument in model.params:
                raise ValueError(
                    f"model[{index}].params.{argument}: is set by the search axis "
                    f"search.space.{axis} for {model.name}; leave it out of params"
                )
            axes[axis] = argument
        sample = {
            argument: _axis_sample(getattr(space, axis), axis) for axis, argument in axes.items()
        }
        _check_values(
            cls,
            {**model.params, **sample},
            f"search.space: model {model.name} ({model.estimator}) with its axes "
            + ", ".join(f"{axis} as {argument}" for axis, argument in axes.items()),
        )
        return axes

    @property
    def tracking_uri(self) -> str | None:
        return self.tracking.uri or self.output.tracking_uri
