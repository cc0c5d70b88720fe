"""Metrics a trial reports: ML quality from the weights, and system use from psutil."""

from leantune.metrics._ml import Targets, batch_loss, decision, evaluate, score_metric
from leantune.metrics._system import MemoryLimit, SystemSampler, memory_limit, private_memory_mb

# The system metrics a constraint may name. Each is reported under the same name.
SYSTEM_METRICS = ("memory_mb", "memory_rise_mb", "step_time_ms", "train_time_s", "cpu_percent")

__all__ = [
    "SYSTEM_METRICS",
    "MemoryLimit",
    "SystemSampler",
    "Targets",
    "batch_loss",
    "decision",
    "evaluate",
    "memory_limit",
    "private_memory_mb",
    "score_metric",
]
