"""Stopping policies: small rules over a read-only trial history, each stop with its reason."""

from __future__ import annotations

from collections.abc import Mapping

from leantune.stoppers._any_of import AnyOf
from leantune.stoppers._base import Decision, StoppingPolicy, StopReason, TrialHistory
from leantune.stoppers._constraint import ConstraintPolicy


def from_constraints(constraints: Mapping[str, float]) -> StoppingPolicy:
    """One ConstraintPolicy per limit, combined with AnyOf (no limits: never stops)."""
    return AnyOf(ConstraintPolicy(metric, limit) for metric, limit in constraints.items())


__all__ = [
    "AnyOf",
    "ConstraintPolicy",
    "Decision",
    "StopReason",
    "StoppingPolicy",
    "TrialHistory",
    "from_constraints",
]
