"""Stopping policies: small rules over a read-only trial history, each stop with its reason.

Every policy has one method, `decide(history) -> Decision`, and knows nothing of Ray (the engine
adapts them to Ray Tune). They combine with `AnyOf`, and `replay` runs one over stored histories.
"""

from __future__ import annotations

from collections.abc import Mapping

from leantune.stoppers._any_of import AnyOf
from leantune.stoppers._asha import AshaPolicy
from leantune.stoppers._base import (
    CONSTRAINT_RULES,
    QUALITY_RULES,
    Decision,
    StoppingPolicy,
    StopReason,
    StopRule,
    TrialHistory,
)
from leantune.stoppers._bounds import median_lower_bound, median_upper_bound, theil_sen
from leantune.stoppers._constraint import TWIN_POOLED, ConstraintPolicy
from leantune.stoppers._cost_model import (
    UNCALIBRATED_SPREAD,
    Calibration,
    CostModel,
    CostPrediction,
    SkipPredicted,
    contention_factor,
    cost_key,
)
from leantune.stoppers._coverage import forecast_coverage
from leantune.stoppers._divergence import DivergencePolicy
from leantune.stoppers._patience import PatiencePolicy
from leantune.stoppers._prechelt import PrecheltPolicy, generalization_loss, training_progress
from leantune.stoppers._predictive import PREDICTABLE, PredictivePolicy, predict_final
from leantune.stoppers._quality import QualityPolicy
from leantune.stoppers._replay import ReplayedStop, replay


def from_constraints(
    constraints: Mapping[str, float],
    grace_steps: int = 0,
    sustained: int = 2,
    cost_model: CostModel | None = None,
    margin: float = 0.1,
) -> StoppingPolicy:
    """One ConstraintPolicy per limit, combined with AnyOf (no limits: never stops).
    `cost_model`: the study's, so a step's cost is judged on the cost twins' pooled readings,
    stopped mid-trial only when their interval is over limit × (1 + `margin`)."""
    return AnyOf(
        ConstraintPolicy(
            metric,
            limit,
            grace_steps=grace_steps,
            sustained=sustained,
            cost_model=cost_model,
            margin=margin,
        )
        for metric, limit in constraints.items()
    )


__all__ = [
    "CONSTRAINT_RULES",
    "PREDICTABLE",
    "QUALITY_RULES",
    "TWIN_POOLED",
    "UNCALIBRATED_SPREAD",
    "AnyOf",
    "AshaPolicy",
    "Calibration",
    "ConstraintPolicy",
    "CostModel",
    "CostPrediction",
    "Decision",
    "DivergencePolicy",
    "PatiencePolicy",
    "PrecheltPolicy",
    "PredictivePolicy",
    "QualityPolicy",
    "ReplayedStop",
    "SkipPredicted",
    "StopReason",
    "StopRule",
    "StoppingPolicy",
    "TrialHistory",
    "contention_factor",
    "cost_key",
    "forecast_coverage",
    "from_constraints",
    "generalization_loss",
    "median_lower_bound",
    "median_upper_bound",
    "predict_final",
    "replay",
    "theil_sen",
    "training_progress",
]
