"""Prechelt's early-stopping criteria (Prechelt 1998, "Early Stopping — But When?").

Definitions, with one report as one "epoch" t = 1, 2, ... of the current fold:
- E_va(t): validation loss; E_opt(t) = min over t' <= t of E_va(t');
- GL(t) = 100 · (E_va(t) / E_opt(t) − 1), the generalization loss in percent;
- P_k(t) = 1000 · (Σ E_tr(t') over the strip t−k+1..t / (k · min E_tr over the strip) − 1),
  the training progress over a strip of k reports (E_tr: the window's mean training loss).
Criteria:
- GL_α stops after the first report with GL(t) > α;
- PQ_α stops after the first end of a strip (t divisible by k) with GL(t) / P_k(t) > α;
- UP_s stops after the end of a strip t when the validation loss rose in s successive strips:
  E_va(t − j·k) > E_va(t − (j+1)·k) for j = 0 .. s−1.
Each fold trains a fresh model, so the criteria look at the current fold only.
"""

from __future__ import annotations

from typing import Literal

from leantune.stoppers._base import Decision, StoppingPolicy, StopReason, TrialHistory, finite
from leantune.stoppers._constraint import check_int, check_positive


def generalization_loss(val_losses: list[float]) -> float:
    """GL(t) for the last value of `val_losses`."""
    best = min(val_losses)
    return 100.0 * (val_losses[-1] / best - 1.0) if best > 0 else 0.0


def training_progress(strip_train_losses: list[float]) -> float:
    """P_k(t) over one strip of training losses."""
    k, lowest = len(strip_train_losses), min(strip_train_losses)
    if lowest <= 0:
        return 0.0
    return 1000.0 * (sum(strip_train_losses) / (k * lowest) - 1.0)


class PrecheltPolicy(StoppingPolicy):
    def __init__(
        self,
        criterion: Literal["GL", "PQ", "UP"] = "GL",
        alpha: float = 5.0,
        strip: int = 5,
        successive: int = 3,
    ):
        if criterion not in ("GL", "PQ", "UP"):
            raise ValueError(
                f"The 'criterion' of PrecheltPolicy must be 'GL', 'PQ' or 'UP'. Got {criterion!r}."
            )
        check_positive("PrecheltPolicy", "alpha", alpha)
        check_int("PrecheltPolicy", "strip", strip, 1)
        check_int("PrecheltPolicy", "successive", successive, 1)
        self.criterion = criterion
        self.alpha = float(alpha)
        self.strip = strip
        self.successive = successive

    def decide(self, history: TrialHistory) -> Decision:
        fold = history.current_fold()
        val = fold.values("val_loss")
        if len(val) != len(fold) or not val or not all(finite(v) for v in val):
            return Decision.carry_on()  # divergence is another policy's business
        t = len(val)
        step = int(history.last.get("step", t))
        if self.criterion == "GL":
            gl = generalization_loss(val)
            if gl > self.alpha:
                return self._stop(step, gl, f"GL {gl:.3g} > {self.alpha:g}")
            return Decision.carry_on()
        if t % self.strip:
            return Decision.carry_on()
        if self.criterion == "PQ":
            train = fold.values("train_loss")
            if len(train) < self.strip:
                return Decision.carry_on()
            gl = generalization_loss(val)
            progress = training_progress(train[-self.strip :])
            quotient = gl / progress if progress > 0 else (float("inf") if gl > 0 else 0.0)
            if quotient > self.alpha:
                return self._stop(
                    step, quotient, f"PQ {quotient:.3g} > {self.alpha:g} (strip {self.strip})"
                )
            return Decision.carry_on()
        k, s = self.strip, self.successive
        if t - s * k < 1:
            return Decision.carry_on()
        # val is 0-based: E_va(t) is val[t - 1].
        if all(val[t - j * k - 1] > val[t - (j + 1) * k - 1] for j in range(s)):
            return self._stop(
                step, val[-1], f"UP: validation loss rose in {s} successive strips of {k}"
            )
        return Decision.carry_on()

    def _stop(self, step: int, value: float, detail: str) -> Decision:
        return Decision.stop_because(
            StopReason("prechelt", "val_loss", value, self.alpha, step, detail=detail)
        )

    def __repr__(self) -> str:
        return f"PrecheltPolicy({self.criterion!r}, alpha={self.alpha:g}, strip={self.strip})"
