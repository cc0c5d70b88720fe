"""Divergence: a step size far too large makes SGD blow up, loudly or silently.

Stops, with status `diverged`, on a non-finite loss, on weights collapsed to all zeros (what
scikit-learn does silently when the step size is far too large), or on a validation loss that
exploded past `explode_factor` times that of the all-zero model SGD starts from. The trial loop
itself ends a trial whose numbers overflow before it can report.
"""

from __future__ import annotations

import math

from leantune.stoppers._base import Decision, StoppingPolicy, StopReason, TrialHistory, finite
from leantune.stoppers._constraint import check_positive


class DivergencePolicy(StoppingPolicy):
    def __init__(self, explode_factor: float = 1e3, zero_weights: bool = True):
        check_positive("DivergencePolicy", "explode_factor", explode_factor)
        self.explode_factor = float(explode_factor)
        self.zero_weights = zero_weights

    def decide(self, history: TrialHistory) -> Decision:
        report = history.last
        step = int(report.get("step", len(history)))
        for metric in ("train_loss", "val_loss"):
            value = report.get(metric)
            if isinstance(value, float) and not math.isfinite(value):
                return self._stop(metric, value, 0.0, step, f"{metric} is {value}")
        norm = report.get("weight_norm")
        if self.zero_weights and norm == 0.0 and report.get("fold_step", 0) > 0:
            return self._stop("weight_norm", 0.0, 0.0, step, "weights collapsed to all zeros")
        start, value = report.get("val_loss_start"), report.get("val_loss")
        if finite(start) and finite(value) and start > 0 and value > self.explode_factor * start:
            return self._stop(
                "val_loss",
                value,
                self.explode_factor * start,
                step,
                f"val_loss {value:.3g} > {self.explode_factor:g}× its start {start:.3g}",
            )
        return Decision.carry_on()

    @staticmethod
    def _stop(metric: str, value: float, threshold: float, step: int, detail: str) -> Decision:
        return Decision.stop_because(
            StopReason("divergence", metric, value, threshold, step, detail=detail)
        )

    def __repr__(self) -> str:
        return f"DivergencePolicy(explode_factor={self.explode_factor:g})"
