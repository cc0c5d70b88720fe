"""The one catalogue of metrics a trial reports and a study can limit.

Spec, stoppers, policies, results and the report read it instead of keeping their own lists:
a metric's name, label and unit, which way is better, whether it is a time (and so judged on
the study's clock), whether a trend can forecast its end value, and whether it is memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Clock = Literal["cpu", "wall", "normalized"]
CLOCKS: tuple[Clock, ...] = ("cpu", "wall", "normalized")
# Each clock in words, as the CLI and the report say what the time limits were judged on.
CLOCK_WORDS: dict[str, str] = {
    "cpu": "the training thread's CPU time",
    "wall": "wall-clock time",
    "normalized": "the training thread's CPU time, normalised by the load probe's slowdown",
}
# A measured end value this near a limit (either side) is near enough for a rerun to judge it
# the other way. On a 2-core machine (BENCHMARKS.md, P9: kddcup-5k, 3 repetitions each) quiet
# reruns moved the CPU training time of the configs near the limit by 2-4 % (median of a run)
# and up to 11 % (one config), and a spinning core or two other studies beside them added
# 2-6 %: a verdict inside the band may rest on the machine's noise, not on the config.
NEAR_LIMIT_SHARE = 0.1
# How a clock is spelled in a report key: `train_time_norm_s`, the CPU time divided by the
# trial's measured slowdown (leantune.metrics._probe).
_CLOCK_KEYS = {"normalized": "norm"}


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    """How a reader sees it, with its unit: "average step time (ms)"."""
    unit: str
    kind: Literal["system", "deployment", "quality"]
    lower_is_better: bool = True
    timed: bool = False
    """A time: measured on both clocks, judged on the study's (`constraints.clock`)."""
    predictable: bool = False
    """Its end-of-training value can be forecast from the trend so far (predictive stopping)."""
    memory: bool = False
    """Memory a process holds: no limit on it can be met above the machine's memory limit."""
    monotone: bool = False
    """Never falls during a trial (a total, or a peak): one reading over a limit is final, and
    waiting for more readings would only spend more. Other metrics are noisy readings, judged
    on several (`stopping.constraint.sustained`)."""
    per_model: bool = False
    """Depends on the model and the data's shape only, not on batch size or learning rate."""
    constrainable: bool = True
    """A study may set a limit on it (`constraints.<name>`)."""
    task: Literal["classification", "regression"] | None = None
    """Reported for this task only (a quality metric); None: for every task."""
    description: str = ""

    @property
    def bound(self) -> Literal["min", "max"]:
        """The one kind of limit that makes sense on it: a maximum on what is better lower, a
        floor (minimum) on what is better higher."""
        return "max" if self.lower_is_better else "min"

    def on_clock(self, clock: Clock) -> str:
        """The report key holding this time on `clock`: `train_time_cpu_s`, `step_time_wall_ms`,
        `train_time_norm_s`."""
        if not self.timed:
            return self.name
        stem, _, unit = self.name.rpartition("_")
        return f"{stem}_{_CLOCK_KEYS.get(clock, clock)}_{unit}"


CATALOGUE: tuple[Metric, ...] = (
    Metric(
        "memory_mb",
        "private memory (MB)",
        "MB",
        "system",
        predictable=True,
        memory=True,
        monotone=True,
        description="A fresh worker's private memory (RSS − shared, measured once per worker "
        "before its first trial) plus the trial's own rise: the same config gives the same "
        "value whatever ran before it in a reused worker.",
    ),
    Metric(
        "memory_rise_mb",
        "private memory rise (MB)",
        "MB",
        "system",
        predictable=True,
        memory=True,
        monotone=True,
        description="Private memory gained since the trial started, its peak so far.",
    ),
    Metric(
        "step_time_ms",
        "average step time (ms)",
        "ms",
        "system",
        timed=True,
        predictable=True,
        description="Average time of one training step over the trial so far, on the study's "
        "clock.",
    ),
    Metric(
        "train_time_s",
        "training time (s)",
        "s",
        "system",
        timed=True,
        predictable=True,
        monotone=True,
        description="Total training time of the trial, all folds, on the study's clock "
        "(evaluation included, time waiting for the driver excluded).",
    ),
    Metric(
        "cpu_percent",
        "CPU (% of one core)",
        "%",
        "system",
        description="CPU use of the trial's worker process, in percent of one core.",
    ),
    Metric(
        "inference_latency_ms",
        "inference latency (ms/sample)",
        "ms",
        "deployment",
        timed=True,
        per_model=True,
        description="Predict time per sample: the median of several timed calls on a fixed "
        "block of validation rows, on the study's clock.",
    ),
    Metric(
        "model_size_kb",
        "model size (kB)",
        "kB",
        "deployment",
        monotone=True,
        per_model=True,
        description="Serialized (pickled) size of the model.",
    ),
    # Quality: what the model is worth. A limit on one is judged once, on the trial's final
    # cross-validated value (the mean over folds of each fold's last score, on every
    # validation row), never on a mid-trial reading, so it never stops a trial early.
    Metric(
        "val_accuracy",
        "validation accuracy",
        "",
        "quality",
        lower_is_better=False,
        task="classification",
        description="Share of validation rows classified right: the mean over folds of each "
        "fold's final value.",
    ),
    Metric(
        "val_rmse",
        "validation RMSE",
        "",
        "quality",
        task="regression",
        description="Root mean squared error on the validation rows: the mean over folds of "
        "each fold's final value.",
    ),
)

METRICS: dict[str, Metric] = {metric.name: metric for metric in CATALOGUE}

CONSTRAINABLE = tuple(m.name for m in CATALOGUE if m.constrainable)
PREDICTABLE = tuple(m.name for m in CATALOGUE if m.predictable)
MEMORY_METRICS = tuple(m.name for m in CATALOGUE if m.memory)
TIMED_METRICS = tuple(m.name for m in CATALOGUE if m.timed)
# The system metrics of training (RQ1's subject); deployment metrics describe the model.
SYSTEM_METRICS = tuple(m.name for m in CATALOGUE if m.kind == "system")
# Judged on the trial's final cross-validated value; the others on its last report.
QUALITY_METRICS = tuple(m.name for m in CATALOGUE if m.kind == "quality")


def label(name: str) -> str:
    """A metric's label with its unit; the name itself for a metric outside the catalogue."""
    metric = METRICS.get(name)
    return metric.label if metric else name
