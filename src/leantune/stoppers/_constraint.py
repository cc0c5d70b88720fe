"""The application's limits: stop a trial the first time a reported metric exceeds one."""

from __future__ import annotations

from leantune.stoppers._base import Decision, StoppingPolicy, StopReason, TrialHistory, finite


class ConstraintPolicy(StoppingPolicy):
    """Stop when `metric` exceeds `threshold` on the latest report."""

    def __init__(self, metric: str, threshold: float):
        if not finite(threshold) or threshold <= 0:
            raise ValueError(
                f"The 'threshold' of ConstraintPolicy must be a number > 0. Got {threshold!r}."
            )
        self.metric = metric
        self.threshold = float(threshold)

    def decide(self, history: TrialHistory) -> Decision:
        report = history.last
        value = report.get(self.metric)
        if finite(value) and value > self.threshold:
            return Decision.stop_because(
                StopReason(
                    rule="constraint",
                    metric=self.metric,
                    value=float(value),
                    threshold=self.threshold,
                    step=int(report.get("step", len(history))),
                )
            )
        return Decision.carry_on()

    def __repr__(self) -> str:
        return f"ConstraintPolicy({self.metric!r}, {self.threshold:g})"
