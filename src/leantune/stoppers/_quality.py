"""Quality limits (`constraints.val_accuracy: {min: 0.8}`): judged on the finished trial only."""

from __future__ import annotations

from leantune.metrics._objective import QualityBound, final_value
from leantune.stoppers._base import Decision, StoppingPolicy, StopReason, TrialHistory
from leantune.trials import CV_SCORE_MEAN


class QualityPolicy(StoppingPolicy):
    """Mark a trial whose final cross-validated `metric` misses its bound (a floor, or a
    ceiling on what is better lower).

    It decides only on the trial's last report, once every fold has finished: a mid-trial
    reading is noisy and taken on a sample of the validation rows, and no rule here shows
    that a floor cannot be reached, so it never stops a trial early. Its reason is `final`:
    the trial ran to its end and ends `infeasible`, not `stopped`.
    """

    def __init__(self, bound: QualityBound):
        self.bound = bound

    def decide(self, history: TrialHistory) -> Decision:
        if not history or CV_SCORE_MEAN not in history.last:
            return Decision.carry_on()
        value = final_value(list(history), self.bound.metric)
        if self.bound.met(value):
            return Decision.carry_on()
        return Decision.stop_because(
            StopReason(
                rule="quality",
                metric=self.bound.metric,
                value=value,
                threshold=self.bound.threshold,
                step=int(history.last.get("step", len(history))),
                detail="floor" if self.bound.kind == "min" else "ceiling",
            )
        )

    def __repr__(self) -> str:
        return f"QualityPolicy({self.bound.describe()!r})"
