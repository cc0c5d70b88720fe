"""How often the cost model's forecasts held, on a recorded run: its trials replayed in the
order they started through a fresh cost model, which holds each interval it gives against the
final of each trial that ran every step (CostModel.coverage, as a study states it live).

For a benchmark or a run recorded before a study stated its own coverage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from leantune.stoppers._base import TrialHistory
from leantune.stoppers._cost_model import CostModel


def forecast_coverage(
    trials: Iterable[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
    confidence: float = 0.9,
) -> dict[str, Any]:
    """`trials`: (config, reports), in the order they started; each report taken in as the
    driver takes it in. Returns CostModel.coverage()."""
    model = CostModel(confidence=confidence)
    for config, reports in trials:
        for end in range(1, len(reports) + 1):
            model.observe(TrialHistory(list(reports[:end]), config))
    return model.coverage()
