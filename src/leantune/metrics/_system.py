"""System metrics of the process running a trial, read at report time only (memory with psutil,
CPU time from the process clock), and the memory limit of the machine or container it runs in
(cgroup v2 or v1, else the host's RAM)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from leantune.metrics._catalog import Clock
from leantune.metrics._probe import ContentionMeter, LoadProbe

_MB = 2**20

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")


def private_memory_mb(process: psutil.Process) -> float:
    """RSS − shared: memory this process holds alone (zero-copy shared data is not counted)."""
    info = process.memory_info()
    return (info.rss - getattr(info, "shared", 0)) / _MB


@dataclass(frozen=True)
class MemoryLimit:
    """How much memory the process may use in all, and where that number comes from.

    Under a cgroup memory limit (a container, a systemd slice, a batch scheduler) that limit
    is what the kernel enforces, not the host's RAM; the OOM killer acts at the limit.
    """

    limit_mb: float
    source: str
    """"cgroup v2", "cgroup v1" or "host"."""
    limit_file: Path | None = None
    usage_file: Path | None = None
    stat_file: Path | None = None

    def used_mb(self) -> float:
        """Memory in use under the limit, less the page cache the kernel can drop first."""
        if self.usage_file is None:
            memory = psutil.virtual_memory()
            return (memory.total - memory.available) / _MB
        usage = _read_int(self.usage_file) or 0
        reclaimable = _stat_value(self.stat_file, ("inactive_file", "total_inactive_file"))
        return max(0, usage - reclaimable) / _MB

    def headroom_mb(self) -> float:
        return self.limit_mb - self.used_mb()

    def describe(self) -> str:
        where = f" ({self.limit_file})" if self.limit_file else ""
        return f"{self.limit_mb:.0f} MB, {self.source}{where}"


def memory_limit(
    cgroup_root: Path = CGROUP_ROOT, proc_self_cgroup: Path = PROC_SELF_CGROUP
) -> MemoryLimit:
    """The tightest memory limit over this process: its cgroup's (v2, then v1), else host RAM.

    A cgroup limit above the host's RAM (or "max", unlimited) does not bind; the host does.
    """
    host_mb = psutil.virtual_memory().total / _MB
    found = _cgroup_v2(cgroup_root, proc_self_cgroup) or _cgroup_v1(cgroup_root, proc_self_cgroup)
    if found is not None and found.limit_mb < host_mb:
        return found
    return MemoryLimit(host_mb, "host")


def _cgroup_paths(proc_self_cgroup: Path) -> dict[str, str]:
    """Controller → cgroup path, from /proc/self/cgroup ("" is the v2 unified hierarchy)."""
    paths: dict[str, str] = {}
    try:
        lines = proc_self_cgroup.read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        parts = line.strip().split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                paths[controller] = parts[2]
    return paths


def _cgroup_v2(root: Path, proc_self_cgroup: Path) -> MemoryLimit | None:
    if not (root / "cgroup.controllers").is_file():
        return None
    relative = _cgroup_paths(proc_self_cgroup).get("", "/").strip("/")
    return _tightest(
        root, root / relative, "cgroup v2", ("memory.max", "memory.current", "memory.stat")
    )


def _cgroup_v1(root: Path, proc_self_cgroup: Path) -> MemoryLimit | None:
    mount = root / "memory"
    relative = _cgroup_paths(proc_self_cgroup).get("memory", "/").strip("/")
    files = ("memory.limit_in_bytes", "memory.usage_in_bytes", "memory.stat")
    # A container may see its own cgroup at the mount's root, whatever /proc/self/cgroup says.
    start = mount / relative if (mount / relative).is_dir() else mount
    return _tightest(mount, start, "cgroup v1", files)


def _tightest(
    root: Path, directory: Path, source: str, files: tuple[str, str, str]
) -> MemoryLimit | None:
    """The lowest limit from `directory` up to `root`: a parent cgroup (a slice, a pod) may be
    tighter than the process's own, and the kernel enforces every level."""
    limit_name, usage_name, stat_name = files
    best: MemoryLimit | None = None
    while True:
        limit = _read_int(directory / limit_name)
        if limit is not None and (best is None or limit / _MB < best.limit_mb):
            best = MemoryLimit(
                limit / _MB,
                source,
                directory / limit_name,
                directory / usage_name,
                directory / stat_name,
            )
        if directory == root or root not in directory.parents:
            return best
        directory = directory.parent


def _read_int(path: Path) -> int | None:
    """An integer file's value; None if missing, unreadable or "max" (no limit)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _stat_value(path: Path | None, keys: tuple[str, ...]) -> int:
    if path is None:
        return 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, _, value = line.partition(" ")
        if name in keys and value.strip().isdigit():
            return int(value)
    return 0


@functools.cache
def _this_process_limit() -> MemoryLimit:
    # A worker runs many trials; its cgroup does not change between them.
    return memory_limit()


@functools.cache
def _malloc_trim() -> ctypes._CFuncPtr | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to hand back
        return None


def release_freed_memory() -> None:
    """Hand memory that earlier trials freed back to the OS.

    glibc keeps freed heap pages (and, once its mmap threshold has grown, large arrays too) in
    the process, so a reused worker's RSS creeps up trial after trial and stays up (issue 11
    saw 0.8 MB a trial on a 48k-row set). Trimming costs ~0.1 ms; a full gc.collect() would
    cost ~200 ms with Ray imported, and the trial's own objects are freed by reference
    counting anyway. What still grows in a reused Ray worker (+0.3 MB a trial over its first
    ~16 trials, then flat) is Tune's, and `memory_mb` leaves it out (fresh_baseline_mb).
    """
    gc.collect(1)
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


# The private memory of this worker process before its first trial (after trimming): the
# baseline every trial in the process is charged from, so `memory_mb` does not depend on how
# many trials the reused worker ran before.
_fresh_baseline_mb: float | None = None


def fresh_baseline_mb(process: psutil.Process) -> float:
    global _fresh_baseline_mb
    if _fresh_baseline_mb is None:
        _fresh_baseline_mb = private_memory_mb(process)
    return _fresh_baseline_mb


# The machine's (or container's) memory headroom is read at most this often: reading it parses
# /proc/meminfo or the cgroup's memory.stat (~0.1-0.2 ms, as much as a compiled report window),
# and it moves with the whole machine, not with a trial's steps.
HEADROOM_EVERY_S = 0.5


class SystemSampler:
    """Readings relative to the trial's own start, so a reused worker process does not charge
    one trial for what the previous one left behind.

    Times are read on two clocks: the wall clock, and the training thread's CPU clock (what a
    dedicated core would take; another job on a shared machine does not add to it directly,
    but slows it through shared caches and memory). A calibrated probe (LoadProbe) measures
    that slowdown at the trial's start and now and then after; the CPU time over it is the
    normalized clock, an estimate of an idle core's time. `clock` says which one the plain
    names (`train_time_s`) carry, the one limits are judged on. The sampler must be created
    and read on the training thread.
    """

    def __init__(
        self, memory: MemoryLimit | None = None, clock: Clock = "cpu", probe: bool = True
    ) -> None:
        self._process = psutil.Process()
        self.clock = clock
        # Read first: before the trial's clocks start (its own time is not training), and
        # before the memory baseline (its arrays, made once per process, are the worker's).
        self.probe = LoadProbe() if probe else None
        if self.probe is not None:
            self.probe.read()
        release_freed_memory()
        self._wall_start = time.perf_counter()
        self._thread_start = time.thread_time()
        self.contention = ContentionMeter()
        self._cpu_start = self._cpu_seconds()
        # CPU % over the time since the previous sample, as psutil's cpu_percent(None) gives
        # it, from the process CPU clock _cpu_seconds reads anyway.
        self._last_cpu = (self._wall_start, self._cpu_start)
        self.baseline_memory_mb = private_memory_mb(self._process)
        self.worker_baseline_mb = fresh_baseline_mb(self._process)
        self.peak_rise_mb = 0.0
        self.memory = memory or _this_process_limit()
        self._headroom: tuple[float, float] | None = None  # (read at, MB)

    @staticmethod
    def _cpu_seconds() -> float:
        # The process's user + system time over all its threads: what psutil's cpu_times()
        # sums, from one clock call (~1 µs) instead of parsing /proc/self/stat (~20 µs).
        return time.process_time()

    def wall_seconds(self) -> float:
        return time.perf_counter() - self._wall_start

    def sample(
        self, paused_seconds: float = 0.0, paused_cpu_seconds: float = 0.0
    ) -> dict[str, float]:
        """`paused_seconds` (wall) and `paused_cpu_seconds` (thread CPU): what the trial spent
        waiting on others (e.g. the driver taking a report), which is not training time."""
        memory = private_memory_mb(self._process)
        rise = memory - self.baseline_memory_mb
        self.peak_rise_mb = max(self.peak_rise_mb, rise)
        now = time.perf_counter()
        wall = now - self._wall_start
        probe = self.probe
        probe_cpu, probe_wall = (probe.cpu_seconds, probe.wall_seconds) if probe else (0.0, 0.0)
        train_wall = wall - paused_seconds - probe_wall
        train_cpu = time.thread_time() - self._thread_start - paused_cpu_seconds - probe_cpu
        cpu = self._cpu_seconds()
        before_wall, before_cpu = self._last_cpu
        cpu_percent = 100.0 * (cpu - before_cpu) / max(now - before_wall, 1e-9)
        self._last_cpu = (now, cpu)
        if self._headroom is None or now - self._headroom[0] >= HEADROOM_EVERY_S:
            self._headroom = (now, self.memory.headroom_mb())
        slowdown = probe.slowdown if probe else 1.0
        train_norm = train_cpu / slowdown
        on_clock = {"cpu": train_cpu, "wall": train_wall, "normalized": train_norm}
        if probe is not None:
            probe.read(train_cpu)  # after the clocks: its time is left out of the next sample
        contention = self.contention.read()
        return {
            **(
                {
                    # The kernel's account of how much the trial shared its CPU (a loaded
                    # machine inflates CPU times the probe does not see: P9).
                    "cpu_waiting_share": contention.waiting_share,
                    "cpu_switches_per_s": contention.switches_per_cpu_s,
                }
                if contention
                else {}
            ),
            "train_time_s": on_clock[self.clock],
            "train_time_cpu_s": train_cpu,
            "train_time_wall_s": train_wall,
            # What an idle core would have taken: the CPU time over the measured slowdown.
            "train_time_norm_s": train_norm,
            "slowdown": slowdown,
            "probe_cpu_s": probe_cpu,
            "wall_time_s": wall,
            "cpu_time_s": cpu - self._cpu_start,
            "cpu_percent": cpu_percent,
            # A fresh worker's memory plus what this trial added at its peak: the same config
            # gives the same value whether it runs first or hundredth in a reused worker.
            "memory_mb": self.worker_baseline_mb + self.peak_rise_mb,
            "memory_rise_mb": self.peak_rise_mb,
            "worker_memory_mb": memory,
            # What the machine or container has left: the limit that the OOM killer enforces.
            "memory_headroom_mb": self._headroom[1],
        }
