"""ASHA (asynchronous successive halving) as a stopping rule: one decision place, any backend.

Li et al. 2020, as Ray Tune's ASHAScheduler implements it: rungs at `grace_period × rf^k`
percent of a trial's planned steps (progress in percent, so configs of different batch sizes
meet at the same share of their data). A trial reaching a rung is stopped unless its objective
there is in the top 1/rf of what the trials before it recorded at that rung. It is a quality
rule: a trial it stops broke no limit, and stays a candidate for the pick.

Unlike the other policies it holds state across trials (the rungs' records), as the study's
cost model does; a trial's history is still all it reads of that trial.
"""

from __future__ import annotations

import math

import numpy as np

from leantune.stoppers._base import Decision, StoppingPolicy, StopReason, TrialHistory, finite
from leantune.stoppers._constraint import check_positive
from leantune.trials import PROGRESS_PCT, config_key

# The time axis, in percent of the trial's planned steps; a trial's end is 100.
MAX_PROGRESS = 100.0


class AshaPolicy(StoppingPolicy):
    """Stop a trial at a rung where it is not in the top 1/`reduction_factor` so far."""

    def __init__(self, mode: str = "max", grace_period: float = 10, reduction_factor: float = 3):
        check_positive("AshaPolicy", "grace_period", grace_period)
        check_positive("AshaPolicy", "reduction_factor", reduction_factor)
        if reduction_factor <= 1:
            raise ValueError(
                "The 'reduction_factor' of AshaPolicy must be a number > 1. "
                f"Got {reduction_factor!r}."
            )
        if mode not in ("min", "max"):
            raise ValueError(f"The 'mode' of AshaPolicy must be 'min' or 'max'. Got {mode!r}.")
        self.mode = mode
        self.reduction_factor = float(reduction_factor)
        count = int(math.log(MAX_PROGRESS / grace_period) / math.log(reduction_factor) + 1)
        # Highest rung first, as Tune's bracket orders them: a report past several rungs at
        # once is judged at the highest it reached.
        self.rungs = [grace_period * reduction_factor**k for k in reversed(range(max(1, count)))]
        self.recorded: dict[float, dict[str, float]] = {rung: {} for rung in self.rungs}

    def decide(self, history: TrialHistory) -> Decision:
        report = history.last
        progress, value = report.get(PROGRESS_PCT), report.get("objective")
        if not finite(progress) or "trial_status" in report:
            return Decision.carry_on()  # a start report, or the trial's closing one
        trial = _trial_key(history)
        for rung in self.rungs:
            recorded = self.recorded[rung]
            if trial in recorded:
                return Decision.carry_on()  # judged at this rung (and so at every lower one)
            if progress < rung:
                continue
            reward = float(value) if finite(value) else -math.inf
            reward = reward if self.mode == "max" else -reward
            cutoff = self._cutoff(recorded)
            recorded[trial] = reward
            if cutoff is not None and reward < cutoff:
                return Decision.stop_because(
                    StopReason(
                        rule="asha",
                        metric="objective",
                        value=float(value) if finite(value) else math.nan,
                        threshold=cutoff if self.mode == "max" else -cutoff,
                        step=int(report.get("step", 0)),
                        detail=(
                            f"not in the top 1/{self.reduction_factor:g} at the "
                            f"{rung:g}% rung ({len(recorded) - 1} trials before it)"
                        ),
                    )
                )
            return Decision.carry_on()
        return Decision.carry_on()

    def _cutoff(self, recorded: dict[str, float]) -> float | None:
        if not recorded:
            return None
        return float(np.percentile(list(recorded.values()), (1 - 1 / self.reduction_factor) * 100))

    def __repr__(self) -> str:
        return f"AshaPolicy(mode={self.mode!r}, rungs={sorted(self.rungs)})"


def _trial_key(history: TrialHistory) -> str:
    """The trial's identity within the study: its id where the history carries one, else its
    config (two samples of one config then share a record at each rung)."""
    if history.trial_id is not None:
        return history.trial_id
    return config_key(history.config)
