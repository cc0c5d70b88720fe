"""The application's limits: stop a trial once a reported metric exceeds one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leantune.metrics._catalog import METRICS
from leantune.stoppers._base import Decision, StoppingPolicy, StopReason, TrialHistory, finite
from leantune.trials._keys import STEPS_PLANNED

if TYPE_CHECKING:
    from leantune.stoppers._cost_model import CostModel

# What a config's cost twins share (a step's cost), so their pooled readings judge it too.
TWIN_POOLED = ("train_time_s", "step_time_ms")


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

    def __init__(
        self,
        metric: str,
        threshold: float,
        grace_steps: int = 0,
        sustained: int = 2,
        cost_model: CostModel | None = None,
        margin: float = 0.1,
    ):
        check_positive("ConstraintPolicy", "threshold", threshold)
        check_positive("ConstraintPolicy", "grace_steps", grace_steps, allow_zero=True)
        check_int("ConstraintPolicy", "sustained", sustained, 1)
        self.metric = metric
        self.threshold = float(threshold)
        self.grace_steps = grace_steps
        known = METRICS.get(metric)
        self.sustained = sustained
        self.readings = 1 if known is not None and known.monotone else sustained
        self.cost_model = cost_model if metric in TWIN_POOLED else None
        check_positive("ConstraintPolicy", "margin", margin, allow_zero=True)
        self.margin = margin

    def decide(self, history: TrialHistory) -> Decision:
        report = history.last
        step = int(report.get("step", len(history)))
        if step < self.grace_steps or len(history) < self.readings:
            return Decision.carry_on()
        recent = history[len(history) - self.readings :]
        if not all(self._broken(r.get(self.metric)) for r in recent):
            return Decision.carry_on()
        detail = ""
        if self.cost_model is not None:
            verdict = self._pooled_verdict(history, self.cost_model)
            if verdict is None:
                return Decision.carry_on()
            detail = verdict
        return Decision.stop_because(
            StopReason(
                rule="constraint",
                metric=self.metric,
                value=float(report[self.metric]),
                threshold=self.threshold,
                step=step,
                detail=detail,
            )
        )

    def _pooled_verdict(self, history: TrialHistory, cost_model: CostModel) -> str | None:
        """A reading over the limit, judged with the cost twins' pooled evidence (the config's
        end value, [lower, upper]): the stop's detail if the config breaks the limit, None if
        it runs on. A config whose interval clears the limit is stopped; one whose interval
        holds the limit runs to its end, where the pooled point decides: a reading pushed over
        by another job on the machine then does not decide it. No pooled evidence yet: the
        reading decides, as without a cost model. The interval clears the limit when its lower
        end is over limit × (1 + margin), the predictive rule's margin: an interval of a median
        narrows with every window, and a slower machine moves every window alike."""
        cost_model.observe(history)
        last = history.last
        planned = last.get(STEPS_PLANNED)
        if not finite(planned):
            return ""
        pooled = next(
            (
                p
                for p in cost_model.predict(history.config, int(planned))
                if p.metric == self.metric
            ),
            None,
        )
        if pooled is None:
            return ""
        evidence = (
            f"pooled {pooled.value:.4g} [{pooled.lower:.4g}, {pooled.upper:.4g}]; {pooled.evidence}"
        )
        if pooled.clears(self.threshold, self.margin):
            return evidence
        finished = finite(last.get("step")) and last["step"] >= planned
        if finished and pooled.value > self.threshold:
            allowance = cost_model.contention_allowance()
            if pooled.value / allowance <= self.threshold:
                # Over the limit by no more than other work may have added: say so, so a
                # reader knows a run on a CPU of its own could find it feasible.
                evidence += (
                    f"; within what contention may add (x{allowance:.3g}): on a CPU of its own"
                    " it may meet the limit"
                )
            return f"judged at its end on the {evidence}"
        return None

    def _broken(self, value: object) -> bool:
        return finite(value) and value > self.threshold  # type: ignore[operator]

    def __repr__(self) -> str:
        return f"ConstraintPolicy({self.metric!r}, {self.threshold:g})"
