"""Replay a policy over stored trial histories: "what if this policy had been on?"

A finished run keeps every report of every trial (reports.parquet in the run directory), so a
policy can be judged after the fact, without training anything, as Syne Tune's simulator does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leantune.stoppers._base import StoppingPolicy, StopReason, TrialHistory


@dataclass(frozen=True)
class ReplayedStop:
    """Where the policy would have stopped a trial: the report index and the reason."""

    trial_id: str
    report_index: int
    reason: StopReason


def replay(
    policy: StoppingPolicy,
    histories: Mapping[str, Sequence[Mapping[str, Any]]],
    configs: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, ReplayedStop | None]:
    """For each trial id, the first report at which `policy` says stop (None: it never does)."""
    outcome: dict[str, ReplayedStop | None] = {}
    for trial_id, reports in histories.items():
        config = (configs or {}).get(trial_id)
        outcome[trial_id] = None
        for index in range(len(reports)):
            decision = policy.decide(TrialHistory(reports[: index + 1], config))
            if decision.stop and decision.reason is not None:
                outcome[trial_id] = ReplayedStop(trial_id, index, decision.reason)
                break
    return outcome
