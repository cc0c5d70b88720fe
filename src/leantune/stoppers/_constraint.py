"""The application's limits: stop a trial once a reported metric exceeds one."""

from __future__ import annotations

from leantune.metrics._catalog import METRICS
from leantune.stoppers._base import Decision, StoppingPolicy, StopReason, TrialHistory, finite


def check_positive(owner: str, name: str, value: float, *, allow_zero: bool = False) -> None:
    """Validate a constructor argument at once, in scikit-learn's sentence shape."""
    ok = finite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"The '{name}' of {owner} must be a number {bound}. Got {value!r}.")


def check_int(owner: str, name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"The '{name}' of {owner} must be an integer >= {minimum}. Got {value!r}.")


class ConstraintPolicy(StoppingPolicy):
    """Stop when `metric` exceeds `threshold`, on evidence beyond one noisy reading.

    `grace_steps`: no stop before this many steps (noisy start-up readings).
    `sustained`: a noisy metric (a rate or a running average: step time, CPU %, latency) must
    break the limit on this many consecutive reports, so one reading taken while another job
    held the core does not end a good trial. A monotone metric (a total such as the training
    time, or a peak such as memory) is judged on its latest reading: it can only grow, so one
    reading over the limit is final and waiting would only spend more.
    """

    def __init__(self, metric: str, threshold: float, grace_steps: int = 0, sustained: int = 2):
        check_positive("ConstraintPolicy", "threshold", threshold)
        check_positive("ConstraintPolicy", "grace_steps", grace_steps, allow_zero=True)
        check_int("ConstraintPolicy", "sustained", sustained, 1)
        self.metric = metric
        self.threshold = float(threshold)
        self.grace_steps = grace_steps
        known = METRICS.get(metric)
        self.sustained = sustained
        self.readings = 1 if known is not None and known.monotone else sustained

    def decide(self, history: TrialHistory) -> Decision:
        report = history.last
        step = int(report.get("step", len(history)))
        if step < self.grace_steps or len(history) < self.readings:
            return Decision.carry_on()
        recent = history[len(history) - self.readings :]
        if all(self._broken(r.get(self.metric)) for r in recent):
            return Decision.stop_because(
                StopReason(
                    rule="constraint",
                    metric=self.metric,
                    value=float(report[self.metric]),
                    threshold=self.threshold,
                    step=step,
                )
            )
        return Decision.carry_on()

    def _broken(self, value: object) -> bool:
        return finite(value) and value > self.threshold  # type: ignore[operator]

    def __repr__(self) -> str:
        return f"ConstraintPolicy({self.metric!r}, {self.threshold:g})"
