"""Metrics a trial reports: ML quality from the weights, and system use from psutil."""

from leantune.metrics._catalog import (
    CATALOGUE,
    CLOCKS,
    CONSTRAINABLE,
    MEMORY_METRICS,
    METRICS,
    PREDICTABLE,
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
from leantune.metrics._system import MemoryLimit, SystemSampler, memory_limit, private_memory_mb

__all__ = [
    "CATALOGUE",
    "CLOCKS",
    "CONSTRAINABLE",
    "MEMORY_METRICS",
    "METRICS",
    "PREDICTABLE",
    "SYSTEM_METRICS",
    "TIMED_METRICS",
    "Clock",
    "MemoryLimit",
    "Metric",
    "SystemSampler",
    "Targets",
    "batch_loss",
    "decision",
    "evaluate",
    "label",
    "memory_limit",
    "private_memory_mb",
    "quality_from_sums",
    "score_metric",
]
