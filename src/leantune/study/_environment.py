"""The machine and library versions a study ran with, recorded in its summary for the report."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from typing import Any

import psutil

from leantune.metrics import cpu_model

_LIBRARIES = ("numpy", "scikit-learn", "scipy", "pandas", "ray", "mlflow", "optuna", "psutil")


def environment() -> dict[str, Any]:
    """Platform, CPU model, CPU count, memory, and the versions of the libraries that matter."""
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": psutil.virtual_memory().total / 2**30,
        "versions": versions,
    }
