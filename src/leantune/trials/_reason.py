"""Why a trial was stopped: the rule as a closed set, and the reason a trial record keeps.

Policies (leantune.stoppers) make them; records, state files and reports keep them. They live
here, beside the record, so the record needs nothing from the policies.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class StopRule(StrEnum):
    """The rules leantune's own policies stop with (a policy of a user's may name others)."""

    CONSTRAINT = "constraint"
    """A measured limit, broken."""
    PREDICTIVE = "predictive"
    """A limit its forecast says it will break."""
    SKIP = "skip"
    """Never run: its cost twins say it cannot fit."""
    QUALITY = "quality"
    """A quality floor (or ceiling), missed at the end."""
    DIVERGENCE = "divergence"
    PRECHELT = "prechelt"
    PATIENCE = "patience"
    ASHA = "asha"

    @property
    def limit(self) -> bool:
        """About the application's limits: a trial it ends cannot be picked."""
        return self in _LIMIT

    @property
    def learning(self) -> bool:
        """About learning progress: a trial it ends broke no limit and stays a candidate."""
        return self in _LEARNING


_LIMIT = frozenset({StopRule.CONSTRAINT, StopRule.PREDICTIVE, StopRule.SKIP, StopRule.QUALITY})
_LEARNING = frozenset({StopRule.PRECHELT, StopRule.PATIENCE, StopRule.ASHA})
# Rules whose stops are about the application's limits (as opposed to learning progress).
CONSTRAINT_RULES = tuple(rule for rule in StopRule if rule.limit)
# Rules about learning progress: a trial they end broke no limit, so it stays a candidate
# for the pick, judged on what it reached.
QUALITY_RULES = tuple(rule for rule in StopRule if rule.learning)


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
        return self.rule in (StopRule.PREDICTIVE, StopRule.SKIP)

    @property
    def limit(self) -> bool:
        """About the application's limits (measured, predicted or a quality floor): a trial
        ended by it cannot be picked."""
        return self.rule in CONSTRAINT_RULES

    @property
    def final(self) -> bool:
        """Judged on the finished trial (a quality limit): it did not cut the trial short."""
        return self.rule == StopRule.QUALITY

    @property
    def label(self) -> str:
        """Short grouping label: `memory_mb`, `predicted train_time_s`, `prechelt GL`..."""
        if self.rule == StopRule.CONSTRAINT:
            return self.metric
        if self.rule == StopRule.QUALITY:
            return f"{self.metric} {self.detail}"
        if self.rule == StopRule.PREDICTIVE:
            return f"predicted {self.metric}"
        if self.rule == StopRule.SKIP:
            return f"skipped: predicted {self.metric}"
        if self.rule == StopRule.PRECHELT and self.detail:
            return f"prechelt {self.detail.split()[0].rstrip(':')}"  # GL, PQ or UP
        return self.rule

    @property
    def violation(self) -> float:
        """How far past its limit, relative (0.25 = 25% over); 0 for non-constraint rules."""
        if self.rule not in CONSTRAINT_RULES or not self.threshold:
            return 0.0
        if self.rule == StopRule.QUALITY and not math.isfinite(self.value):
            return 1.0  # a trial with no CV value is as far from a floor as TPE needs to know
        if self.rule == StopRule.QUALITY and self.detail == "floor":
            return max(0.0, 1.0 - self.value / self.threshold)
        return max(0.0, self.value / self.threshold - 1.0)

    def describe(self) -> str:
        if self.rule == StopRule.QUALITY:
            below = self.detail == "floor"
            return (
                f"{self.metric} {self.value:.4g} {'<' if below else '>'} {self.threshold:g} "
                f"({self.detail}, judged on the mean over folds at the end of training)"
            )
        if self.rule == StopRule.CONSTRAINT:
            return f"{self.metric} {self.value:.4g} > {self.threshold:g} at step {self.step}"
        if self.rule == StopRule.PREDICTIVE:
            return (
                f"{self.metric} predicted {self.value:.4g} > {self.threshold:g} "
                f"at step {self.step}{f' ({self.detail})' if self.detail else ''}"
            )
        if self.rule == StopRule.SKIP:
            return (
                f"not run: {self.metric} predicted {self.value:.4g} > {self.threshold:g} by the "
                f"study's cost model ({self.detail})"
            )
        if self.rule == StopRule.ASHA:
            return f"stopped by the ASHA scheduler at step {self.step}: {self.detail}"
        return f"{self.rule}: {self.detail or self.metric} at step {self.step}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label, "description": self.describe()}
