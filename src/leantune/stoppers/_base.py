"""What every stopping policy shares: a read-only trial history in, a Decision out."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

# The stop reason and its rules live with the trial record (leantune.trials), which holds one;
# named here too, where every policy finds them.
from leantune.trials._reason import CONSTRAINT_RULES, QUALITY_RULES, StopReason, StopRule

__all__ = [
    "CONSTRAINT_RULES",
    "QUALITY_RULES",
    "Decision",
    "StopReason",
    "StopRule",
    "StoppingPolicy",
    "TrialHistory",
    "finite",
]


@dataclass(frozen=True)
class Decision:
    """Continue, or stop with a reason. Policies return one on every report."""

    stop: bool
    reason: StopReason | None = None

    @classmethod
    def carry_on(cls) -> Decision:
        return _CONTINUE

    @classmethod
    def stop_because(cls, reason: StopReason) -> Decision:
        return cls(True, reason)


_CONTINUE = Decision(False)


class TrialHistory(Sequence[Mapping[str, Any]]):
    """The reports of one trial so far, oldest first. Policies can read it, never change it."""

    def __init__(
        self,
        reports: Sequence[Mapping[str, Any]],
        config: Mapping[str, Any] | None = None,
        trial_id: str | None = None,
    ):
        self._reports = reports
        self.config: Mapping[str, Any] = MappingProxyType(dict(config or {}))
        # Rules that keep records across trials (ASHA's rungs) tell trials apart by it.
        self.trial_id = trial_id

    def __len__(self) -> int:
        return len(self._reports)

    def __getitem__(self, index: Any) -> Any:
        item = self._reports[index]
        if isinstance(index, slice):
            return [MappingProxyType(dict(r)) for r in item]
        return MappingProxyType(item)

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        return (MappingProxyType(r) for r in self._reports)

    @property
    def last(self) -> Mapping[str, Any]:
        return self[-1]

    def current_fold(self) -> TrialHistory:
        """Reports of the fold being trained now (each fold starts a fresh model)."""
        fold = self._reports[-1].get("fold") if self._reports else None
        start = len(self._reports)
        while start > 0 and self._reports[start - 1].get("fold") == fold:
            start -= 1
        return TrialHistory(self._reports[start:], self.config, self.trial_id)

    def values(self, metric: str) -> list[float]:
        """The metric's reported values, skipping reports that lack it or hold a non-number."""
        out = []
        for report in self._reports:
            value = report.get(metric)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out.append(float(value))
        return out


class StoppingPolicy(ABC):
    """One rule that may end a trial early. It knows nothing of Ray (`engine` adapts it)."""

    @abstractmethod
    def decide(self, history: TrialHistory) -> Decision:
        """Called after every report of a trial."""


def finite(value: Any) -> bool:
    # A float or an int first: the driver asks ~100 times a report, and most values are one.
    if type(value) is float or type(value) is int:
        return math.isfinite(value)
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
