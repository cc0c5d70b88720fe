"""How much slower this core runs now than an idle one: a small calibrated probe.

On a shared machine a trial's CPU time grows with the load (another job's cache misses and
memory traffic slow every instruction; issue 25 saw one config cost 1.5 CPU-s at load 7 and
2.4-3.1 at load 70). The probe times a fixed piece of work, a compiled loop in cache and a
loop that walks a buffer larger than a core's private caches, on the training thread's CPU
clock, and divides by the same probe's time on an idle core. That reference is measured once
per machine and kept in the user's cache directory ($XDG_CACHE_HOME/leantune, else
~/.cache/leantune). A trial's cost divided by its slowdown estimates what an idle core would
have taken: `train_time_norm_s`.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import socket
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Bumped when the probe's work changes: a reference measured for other work does not hold.
PROBE_VERSION = 2
# The in-cache loop: a running sum over 2,048 floats, compiled (numpy), ~20 µs.
_COMPUTE_FLOATS, _COMPUTE_ROUNDS = 2048, 8
# The memory loop: one byte of each cache line of a 1 MiB buffer, in a fixed random order (no
# prefetcher guesses it): beyond a core's L1 and most L2s, so it waits on the L3 and the
# memory that other cores share.
_MEMORY_BYTES, _LINE = 2**20, 64
# Timed repetitions a reading takes the mean of (a mean, not a median: the slow repetitions,
# a cache another job emptied, are what a trial's steps pay too), and the idle reference's.
READING_REPEATS = 3
CALIBRATION_REPEATS = 60


@dataclass(frozen=True)
class ProbeReading:
    compute_s: float
    memory_s: float


class _Work:
    """The probe's arrays, made once per process (they add ~1 MiB to a worker's baseline)."""

    def __init__(self) -> None:
        self.floats = np.linspace(0.0, 1.0, _COMPUTE_FLOATS)
        self.out = np.empty_like(self.floats)
        self.buffer = np.ones(_MEMORY_BYTES, dtype=np.uint8)
        lines = np.arange(0, _MEMORY_BYTES, _LINE, dtype=np.int32)
        self.order = np.random.default_rng(0).permutation(lines)

    def compute(self) -> None:
        for _ in range(_COMPUTE_ROUNDS):
            np.cumsum(self.floats, out=self.out)

    def memory(self) -> None:
        int(self.buffer.take(self.order).sum())


@functools.cache
def _work() -> _Work:
    return _Work()


def probe_once(repeats: int = READING_REPEATS) -> ProbeReading:
    """The probe's CPU seconds on this thread now: the mean of `repeats` timings of each loop."""
    work, clock = _work(), time.thread_time
    computes, memories = [], []
    for _ in range(repeats):
        started = clock()
        work.compute()
        middle = clock()
        work.memory()
        computes.append(middle - started)
        memories.append(clock() - middle)
    return ProbeReading(statistics.fmean(computes), statistics.fmean(memories))


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/leantune, else ~/.cache/leantune."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "leantune"


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what the platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _machine_key() -> str:
    return f"{socket.gethostname()}|{cpu_model()}|v{PROBE_VERSION}"


def calibrate(repeats: int = CALIBRATION_REPEATS) -> ProbeReading:
    """The probe on an idle core: the median of `repeats` readings (a loaded machine gives the
    probe an idle core most of the time; the readings another job slowed are the few above).
    Each reading follows a little unrelated work, as a trial's follows its report: the probe
    then meets its buffer out of the nearest caches, in calibration as in a trial (timed
    straight after itself, it read a third of what it reads in a trial on an idle machine)."""
    scratch = np.linspace(1.0, 0.0, _MEMORY_BYTES // 8)
    readings = []
    for _ in range(repeats):
        np.sort(scratch)  # 1 MiB of someone else's work
        readings.append(probe_once(1))
    return ProbeReading(
        statistics.median(r.compute_s for r in readings),
        statistics.median(r.memory_s for r in readings),
    )


@functools.cache
def idle_reference() -> ProbeReading:
    """This machine's idle reference: read from the cache, else measured now and kept there."""
    path = cache_dir() / "probe.json"
    key = _machine_key()
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    entry = known.get(key) if isinstance(known, dict) else None
    if isinstance(entry, dict) and entry.get("compute_s", 0) > 0 and entry.get("memory_s", 0) > 0:
        return ProbeReading(float(entry["compute_s"]), float(entry["memory_s"]))
    reference = calibrate()
    known = known if isinstance(known, dict) else {}
    known[key] = {"compute_s": reference.compute_s, "memory_s": reference.memory_s}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(known, indent=1))
        os.replace(temporary, path)  # workers calibrating at once: the last one wins whole
    except OSError:
        pass  # a read-only home: measured again next time, no harm
    return reference


def slowdown(reading: ProbeReading, reference: ProbeReading) -> float:
    """How many times the idle reference the reading took: the mean over the two loops (about
    1 on an idle core)."""
    ratios = (reading.compute_s / reference.compute_s, reading.memory_s / reference.memory_s)
    return sum(ratios) / len(ratios)


# This process's latest reading: (perf_counter when taken, its slowdown). A trial that starts
# within a probe's cadence of it takes it over instead of probing again: a pool worker runs
# 10-ms trials back to back, and a reading a trial (0.4 ms of CPU) each was 4 % of their cost,
# where the machine's load cannot have moved in between.
_latest: tuple[float, float] | None = None


class LoadProbe:
    """A trial's probe: read at its start and then once every `every_s` of its training CPU
    time; its slowdown is the mean of its readings so far. The start's reading is the
    process's latest if that is under `every_s` old (wall time): what an earlier trial of the
    same worker read a moment ago."""

    def __init__(self, every_s: float = 0.25) -> None:
        self.every_s = every_s
        self.reference = idle_reference()
        self.readings: list[float] = []
        self.cpu_seconds = 0.0
        """The probe's own thread CPU time: not the trial's training time."""
        self.wall_seconds = 0.0
        self._read_at = -float("inf")

    def read(self, train_cpu_s: float | None = None) -> None:
        """Take a reading if one is due (`train_cpu_s`: the trial's training CPU so far; None:
        now, whatever the cadence)."""
        global _latest
        if train_cpu_s is not None and train_cpu_s - self._read_at < self.every_s:
            return
        self._read_at = train_cpu_s if train_cpu_s is not None else 0.0
        started, started_wall = time.thread_time(), time.perf_counter()
        if train_cpu_s is None and _latest is not None and started_wall - _latest[0] < self.every_s:
            self.readings.append(_latest[1])
            return
        reading = slowdown(probe_once(), self.reference)
        self.readings.append(reading)
        self.cpu_seconds += time.thread_time() - started
        self.wall_seconds += time.perf_counter() - started_wall
        _latest = (time.perf_counter(), reading)

    @property
    def slowdown(self) -> float:
        return statistics.fmean(self.readings) if self.readings else 1.0


# The kernel's scheduler statistics of the calling thread (Linux): its time on a CPU, its time
# runnable but waiting for one, and how many timeslices it ran (each one after another task).
_SCHEDSTAT = Path("/proc/thread-self/schedstat")


@dataclass(frozen=True)
class CpuContention:
    """How much a thread shared its CPU, between two readings of the scheduler's counters.

    Other work on the machine slows a trial's CPU time through what it evicts from the caches
    each time the trial's thread is switched back in, which the probe does not see (P9: beside
    four other SGD trainings, a trial's own CPU time rose 21 % while the probe's compiled loop
    rose 0-8 %). The share of time the thread waited for a CPU, and its switches per CPU second,
    are the kernel's own account of that sharing, at no measuring cost."""

    waiting_share: float
    """Of the time the thread wanted a CPU, the share it waited for one (0: never)."""
    switches_per_cpu_s: float
    """Timeslices it ran, per second of its CPU time: each one a switch back in."""


class ContentionMeter:
    """The training thread's scheduler counters since the trial started; None off Linux."""

    def __init__(self) -> None:
        self._start = _schedstat()

    def read(self) -> CpuContention | None:
        now = _schedstat()
        if now is None or self._start is None:
            return None
        on_cpu = now[0] - self._start[0]
        waiting = now[1] - self._start[1]
        if on_cpu <= 0:
            return None
        return CpuContention(waiting / (on_cpu + waiting), (now[2] - self._start[2]) / on_cpu)


def _schedstat() -> tuple[float, float, int] | None:
    try:
        on_cpu_ns, waiting_ns, slices = _SCHEDSTAT.read_text().split()[:3]
        return int(on_cpu_ns) / 1e9, int(waiting_ns) / 1e9, int(slices)
    except (OSError, ValueError):
        return None
