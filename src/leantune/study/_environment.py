"""The machine and library versions a study ran with, recorded in its summary for the report."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

import psutil

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
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": psutil.virtual_memory().total / 2**30,
        "versions": versions,
    }


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"
