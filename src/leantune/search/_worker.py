"""The rules a remote worker runs on its own trial's reports, so it stops at the one that breaks
them (the book judges the same reports again on the driver). Shared by every remote backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leantune.engine._trial import START_PHASE
from leantune.stoppers import StoppingPolicy, StopReason, TrialHistory

# Reports the worker's rules may look back over (ConstraintPolicy's `sustained` readings).
WORKER_HISTORY = 64


class WorkerRules:
    """`policy` over the trial's recent reports; None: nothing is judged in the worker."""

    def __init__(self, policy: StoppingPolicy | None, config: Mapping[str, Any]):
        self.policy = policy
        self.config = config
        self.recent: list[dict[str, Any]] = []

    def judge(self, result: dict[str, Any]) -> StopReason | None:
        """The reason to stop at `result`, or None. A start report and a closing one are not
        judged: the first is the skip rule's, the last ends the trial anyway."""
        if self.policy is None or "trial_status" in result:
            return None
        if result.get("trial_phase") == START_PHASE:
            return None
        self.recent.append(result)
        if len(self.recent) > 2 * WORKER_HISTORY:  # trimmed now and then, not every time
            del self.recent[:-WORKER_HISTORY]
        decision = self.policy.decide(TrialHistory(self.recent, self.config))
        return decision.reason if decision.stop else None
