"""What every stopping policy shares: a read-only trial history in, a Decision out."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any

# Rules whose stops are about the application's limits (as opposed to learning progress).
CONSTRAINT_RULES = ("constraint", "predictive", "skip", "quality")
# Rules about learning progress: a trial they end broke no limit, so it stays a candidate
# for the pick, judged on what it reached.
QUALITY_RULES = ("prechelt", "patience", "asha")


@dataclass(frozen=True)
class StopReason:
    """Why a trial was stopped: the rule, the metric, what it measured against what limit, when.

    For the predictive rule, `value` is the predicted end-of-training value, not a measurement.
    """

    rule: str
    metric: str
    value: float
    threshold: float
    step: int
    detail: str = ""

    @property
    def predicted(self) -> bool:
        return self.rule in ("predictive", "skip")

    @property
    def limit(self) -> bool:
        """About the application's limits (measured, predicted or a quality floor): a trial
        ended by it cannot be picked."""
        return self.rule in CONSTRAINT_RULES

    @property
    def final(self) -> bool:
        """Judged on the finished trial (a quality limit): it did not cut the trial short."""
        return self.rule == "quality"

    @property
    def label(self) -> str:
        """Short grouping label: `memory_mb`, `predicted train_time_s`, `prechelt GL`..."""
        if self.rule == "constraint":
            return self.metric
        if self.rule == "quality":
            return f"{self.metric} {self.detail}"
        if self.rule == "predictive":
            return f"predicted {self.metric}"
        if self.rule == "skip":
            return f"skipped: predicted {self.metric}"
        if self.rule == "prechelt" and self.detail:
            return f"prechelt {self.detail.split()[0].rstrip(':')}"  # GL, PQ or UP
        return self.rule

    @property
    def violation(self) -> float:
        """How far past its limit, relative (0.25 = 25% over); 0 for non-constraint rules."""
        if self.rule not in CONSTRAINT_RULES or not self.threshold:
            return 0.0
        if self.rule == "quality" and not math.isfinite(self.value):
            return 1.0  # a trial with no CV value is as far from a floor as TPE needs to know
        if self.rule == "quality" and self.detail == "floor":
            return max(0.0, 1.0 - self.value / self.threshold)
        return max(0.0, self.value / self.threshold - 1.0)

    def describe(self) -> str:
        if self.rule == "quality":
            below = self.detail == "floor"
            return (
                f"{self.metric} {self.value:.4g} {'<' if below else '>'} {self.threshold:g} "
                f"({self.detail}, judged on the mean over folds at the end of training)"
            )
        if self.rule == "constraint":
            return f"{self.metric} {self.value:.4g} > {self.threshold:g} at step {self.step}"
        if self.rule == "predictive":
            return (
                f"{self.metric} predicted {self.value:.4g} > {self.threshold:g} "
                f"at step {self.step}{f' ({self.detail})' if self.detail else ''}"
            )
        if self.rule == "skip":
            return (
                f"not run: {self.metric} predicted {self.value:.4g} > {self.threshold:g} by the "
                f"study's cost model ({self.detail})"
            )
        if self.rule == "asha":
            return f"stopped by the ASHA scheduler at step {self.step}: {self.detail}"
        return f"{self.rule}: {self.detail or self.metric} at step {self.step}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label, "description": self.describe()}


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
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
