"""A hard cap on a trial's private memory (resources.memory_limit_mb), enforced in its worker.

The constraint stopper acts at reports; between two reports a leak can still grow. The cap is
the backstop: the kernel refuses allocations past it (RLIMIT_DATA, Linux), Python raises
MemoryError, and the trial ends `failed` with a "memory limit" error while the worker lives on.
RLIMIT_DATA counts private writable mappings only, so the zero-copy shared dataset is not
charged to the trial, as with the memory_mb metric. The limit is set to what the process maps
now plus the room left below the cap (cap − private memory now), so the cap means the same as
the memory_mb it bounds.
"""

from __future__ import annotations

import resource
from pathlib import Path

_MB = 2**20
_STATUS = Path("/proc/self/status")


def data_segment_bytes() -> int | None:
    """The process's private writable address space (VmData), or None where it is unknown."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class MemoryCap:
    """Context manager: lower RLIMIT_DATA to the current use plus `limit_mb`, restore on exit.

    Workers are reused from trial to trial, so the old limit always comes back, also when the
    trial raised. Only the soft limit changes; the hard limit stays, so restoring is allowed.
    """

    def __init__(self, limit_mb: float | None, private_mb: float = 0.0):
        """`private_mb`: the private memory (RSS − shared) the process holds now."""
        self.limit_mb = limit_mb
        self.private_mb = private_mb
        self.enforced = False
        self._previous: tuple[int, int] | None = None

    def __enter__(self) -> MemoryCap:
        if self.limit_mb is None:
            return self
        current = data_segment_bytes()
        if current is None:  # not Linux: the cap cannot be enforced here
            return self
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        cap = current + int(max(0.0, self.limit_mb - self.private_mb) * _MB)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        if soft != resource.RLIM_INFINITY and soft <= cap:
            return self  # a tighter limit is already in force
        resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
        self._previous = (soft, hard)
        self.enforced = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        if self._previous is not None:
            resource.setrlimit(resource.RLIMIT_DATA, self._previous)
            self._previous = None

    def describe_hit(self, step: int) -> str:
        """The trial's error when an allocation failed under the cap."""
        if not self.enforced:
            return f"MemoryError: out of memory after step {step}"
        return (
            f"memory limit: the trial needed more private memory than resources.memory_limit_mb "
            f"= {self.limit_mb:g} MB; an allocation failed after step {step}"
        )
