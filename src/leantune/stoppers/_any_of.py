"""Combine policies: stop as soon as any one of them says stop (the first one's reason wins)."""

from __future__ import annotations

from collections.abc import Iterable

from leantune.stoppers._base import Decision, StoppingPolicy, TrialHistory


class AnyOf(StoppingPolicy):
    def __init__(self, policies: Iterable[StoppingPolicy]):
        self.policies = list(policies)

    def decide(self, history: TrialHistory) -> Decision:
        for policy in self.policies:
            decision = policy.decide(history)
            if decision.stop:
                return decision
        return Decision.carry_on()

    def __repr__(self) -> str:
        return f"AnyOf({self.policies!r})"
