"""Test-only fault injection: make chosen trials raise, grow their memory, or run slowly.

No study spec can set a fault. Tests pass them to `run_search` (SearchRequest.faults) or
`run_study(..., faults=...)`, so the real engine is exercised under the misbehaviour it must
survive. A fault travels to the worker inside the training plan, like any other setting.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class InjectedFault(RuntimeError):
    """The error a fault raises; its type and message are what the trial records."""


@dataclass(frozen=True)
class Fault:
    """Misbehaviour for the trials whose config contains every key and value of `match`."""

    match: Mapping[str, Any] = field(default_factory=dict)
    raise_at_step: int | None = None
    """Raise InjectedFault when the trial reaches this step (0: while setting up)."""
    failing_attempts: int | None = None
    """Raise only in the first this-many attempts (None: in every attempt). Needs marker_dir."""
    allocate_mb_per_step: float = 0.0
    """Hold this much more private memory after every step (a leak that grows steadily)."""
    sleep_s_per_step: float = 0.0
    """Slow each step down, so a trial is still running when a test interrupts it."""
    marker_dir: str | None = None
    """One file per attempt is created here, so a test can count attempts from outside."""

    def applies_to(self, config: Mapping[str, Any]) -> bool:
        return all(config.get(key) == value for key, value in self.match.items())


class ActiveFault:
    """A fault bound to one attempt of one trial (lives in the worker)."""

    def __init__(self, fault: Fault):
        self.fault = fault
        self.attempt = 1
        if fault.marker_dir:
            # Counting existing markers is enough: one trial's attempts never overlap in time.
            directory = Path(fault.marker_dir)
            directory.mkdir(parents=True, exist_ok=True)
            self.attempt = len(list(directory.glob("attempt-*"))) + 1
            (directory / f"attempt-{self.attempt}").write_text(str(os.getpid()))
        self._held: list[bytearray] = []

    @property
    def fails_this_attempt(self) -> bool:
        limit = self.fault.failing_attempts
        return limit is None or self.attempt <= limit

    def at_step(self, step: int) -> None:
        fault = self.fault
        due = fault.raise_at_step is not None and step >= fault.raise_at_step
        if due and self.fails_this_attempt:
            raise InjectedFault(f"injected fault at step {step} (attempt {self.attempt})")
        if fault.allocate_mb_per_step:
            # bytearray(n) is zero-filled by calloc, which may map untouched pages lazily;
            # writing one byte a page makes the memory resident, as a real leak's would be.
            block = bytearray(int(fault.allocate_mb_per_step * 2**20))
            block[::4096] = b"\x01" * len(range(0, len(block), 4096))
            self._held.append(block)
        if fault.sleep_s_per_step:
            time.sleep(fault.sleep_s_per_step)

    def release(self) -> None:
        self._held.clear()


def select_fault(faults: tuple[Fault, ...], config: Mapping[str, Any]) -> ActiveFault | None:
    """The first fault that applies to `config`, armed for this attempt."""
    for fault in faults:
        if fault.applies_to(config):
            return ActiveFault(fault)
    return None
