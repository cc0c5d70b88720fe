"""System metrics of the process running a trial, read with psutil at report time only."""

from __future__ import annotations

import time

import psutil

_MB = 2**20


def private_memory_mb(process: psutil.Process) -> float:
    """RSS − shared: memory this process holds alone (zero-copy shared data is not counted)."""
    info = process.memory_info()
    return (info.rss - getattr(info, "shared", 0)) / _MB


class SystemSampler:
    """Readings relative to the trial's own start, so a reused worker process does not charge
    one trial for what the previous one left behind."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # prime: psutil's first reading is always 0.0
        self._wall_start = time.perf_counter()
        self._cpu_start = self._cpu_seconds()
        self.baseline_memory_mb = private_memory_mb(self._process)

    def _cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return times.user + times.system

    def wall_seconds(self) -> float:
        return time.perf_counter() - self._wall_start

    def sample(self, paused_seconds: float = 0.0) -> dict[str, float]:
        """`paused_seconds`: time the trial spent waiting on others (e.g. the driver taking a
        report), which is not training time."""
        memory = private_memory_mb(self._process)
        wall = self.wall_seconds()
        return {
            "train_time_s": wall - paused_seconds,
            "wall_time_s": wall,
            "cpu_time_s": self._cpu_seconds() - self._cpu_start,
            "cpu_percent": self._process.cpu_percent(None),
            "memory_mb": memory,
            "memory_rise_mb": memory - self.baseline_memory_mb,
        }
