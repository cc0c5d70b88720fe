"""Metrics a trial reports: ML quality from the weights, and system use from psutil."""

from leantune.metrics._catalog import (
    CATALOGUE,
    CLOCK_WORDS,
    CLOCKS,
    CONSTRAINABLE,
    MEMORY_METRICS,
    METRICS,
    NEAR_LIMIT_SHARE,
    PREDICTABLE,
    QUALITY_METRICS,
    SYSTEM_METRICS,
    TIMED_METRICS,
    Clock,
    Metric,
    label,
)
from leantune.metrics._ml import (
    Targets,
    batch_loss,
    decision,
    evaluate,
    quality_from_sums,
    score_metric,
)
from leantune.metrics._objective import Objective, QualityBound, final_value
from leantune.metrics._probe import LoadProbe, cpu_model
from leantune.metrics._system import MemoryLimit, SystemSampler, memory_limit, private_memory_mb

__all__ = [
    "CATALOGUE",
    "CLOCKS",
    "CLOCK_WORDS",
    "CONSTRAINABLE",
    "MEMORY_METRICS",
    "METRICS",
    "NEAR_LIMIT_SHARE",
    "PREDICTABLE",
    "QUALITY_METRICS",
    "SYSTEM_METRICS",
    "TIMED_METRICS",
    "Clock",
    "LoadProbe",
    "MemoryLimit",
    "Metric",
    "Objective",
    "QualityBound",
    "SystemSampler",
    "Targets",
    "batch_loss",
    "cpu_model",
    "decision",
    "evaluate",
    "final_value",
    "label",
    "memory_limit",
    "private_memory_mb",
    "quality_from_sums",
    "score_metric",
]
