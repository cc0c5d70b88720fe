"""Plateau stopping: end a trial whose chosen ML metric stopped improving in the current fold."""

from __future__ import annotations

from leantune.stoppers._base import Decision, StoppingPolicy, StopReason, TrialHistory
from leantune.stoppers._constraint import check_int, check_positive
from leantune.trials import CV_SCORE_MEAN

# Metrics where higher is better; every other metric (losses, RMSE) is minimized.
_MAXIMIZED = ("val_accuracy", "accuracy", CV_SCORE_MEAN)


class PatiencePolicy(StoppingPolicy):
    """Stop when `metric` has not improved by more than `min_delta` for `patience` reports."""

    def __init__(self, metric: str = "val_loss", patience: int = 5, min_delta: float = 0.0):
        check_int("PatiencePolicy", "patience", patience, 1)
        check_positive("PatiencePolicy", "min_delta", min_delta, allow_zero=True)
        self.metric = metric
        self.patience = patience
        self.min_delta = float(min_delta)
        self.sign = -1.0 if metric in _MAXIMIZED else 1.0

    def decide(self, history: TrialHistory) -> Decision:
        values = [self.sign * v for v in history.current_fold().values(self.metric)]
        if len(values) <= self.patience:
            return Decision.carry_on()
        best_before = min(values[: -self.patience])
        if min(values[-self.patience :]) < best_before - self.min_delta:
            return Decision.carry_on()
        detail = f"{self.metric} no better for {self.patience} reports"
        return Decision.stop_because(
            StopReason(
                "patience",
                self.metric,
                self.sign * values[-1],
                self.sign * best_before,
                int(history.last.get("step", len(history))),
                detail=detail,
            )
        )

    def __repr__(self) -> str:
        return f"PatiencePolicy({self.metric!r}, patience={self.patience})"
