"""The pick: the best candidate by the study's objective, ties within float noise to the cheapest.

Candidates are the trials that broke no limit: those that finished feasible, and those a
quality rule (Prechelt, patience, ASHA) ended early, judged on what they reached then, on the
folds they reached: a mean over the first folds of a cross-validation is not a mean over all of
them (folds differ in difficulty, and the highest of many partial means is high by luck), so a
trial cut short is scored as the best complete trial scored, shifted by how far it was from
that trial on the folds both have (a paired comparison). Scores
equal within SCORE_TOLERANCE are ties: under the sklearn backend configs that differ only in
batch size learn the same weights, and their CV scores then differ in the 15th digit. A tie goes
to the config whose cost twins (same model and batch size) took the least measured training
time (their median, so one noisy reading does not decide), then to the config's place in the
search space's order.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from leantune.metrics import Objective, QualityBound, score_metric
from leantune.stoppers import QUALITY_RULES
from leantune.trials import FEASIBLE, STEPS_PLANNED, STOPPED, TrialRecord

# Relative to the scores' size (at least 1): 1e-9 is far above float noise (~1e-15) and far
# below any difference a validation set of fewer than a billion rows can show.
SCORE_TOLERANCE = 1e-9

TIE_RULE = (
    "scores within {tolerance:g} (relative) are ties: the cheapest by the median measured "
    "training time of its cost twins (same model and batch size) wins, then the fewest steps "
    "planned, then the config order"
)


@dataclass(frozen=True)
class Pick:
    """The chosen trial, the value it was chosen on, and how a tie was broken (if any)."""

    record: TrialRecord
    value: float
    reached: bool = False
    """True: a quality rule ended it early, and `value` is what it had reached then."""
    tied: tuple[str, ...] = ()
    """The other trials whose scores tied with it, cheapest first."""
    costs: dict[str, float] = field(default_factory=dict)
    """The tie-break cost (median training time of cost twins, s) of it and of each tied trial."""

    def tie(self) -> dict[str, Any] | None:
        """The summary's account of a broken tie; None when the score was not tied."""
        if not self.tied:
            return None
        return {
            "tied_trials": list(self.tied),
            "tolerance": SCORE_TOLERANCE,
            "broken_by": "median train_time_s of cost twins, then steps planned, then config order",
            "rule": TIE_RULE.format(tolerance=SCORE_TOLERANCE),
            "chosen_cost_s": self.costs.get(self.record.trial_id),
            "tied_costs_s": {trial: self.costs.get(trial) for trial in self.tied},
        }


def candidate_value(
    record: TrialRecord, objective: Objective, floors: Sequence[QualityBound] = ()
) -> tuple[float, bool]:
    """(value, reached): a feasible trial's final value; a trial a quality rule stopped, what it
    had reached (reached=True), if that meets every quality floor (`floors`: a feasible trial
    met them at its end); NaN for any other trial."""
    if record.status == FEASIBLE:
        return objective.value(record.reports), False
    reason = record.stop_reason
    if record.status == STOPPED and reason is not None and reason.rule in QUALITY_RULES:
        for floor in floors:
            reached = Objective(floor.metric, floor.kind).reached(record.reports)
            if not floor.met(reached):
                return math.nan, False
        return objective.reached(record.reports), True
    return math.nan, False


def pick_best(
    records: Sequence[TrialRecord],
    objective: Objective | str,
    *,
    floors: Sequence[QualityBound] = (),
    exclude: Collection[str] = (),
) -> Pick | None:
    """The best candidate (module docstring) among `records`, leaving out the trial ids in
    `exclude` (configs whose shipped model broke a limit); None when there is none. `floors`:
    the study's quality limits, which a trial cut short must meet on what it reached."""
    if isinstance(objective, str):
        objective = Objective(*score_metric(objective))  # type: ignore[arg-type]
    scored: list[tuple[TrialRecord, float, bool]] = []
    for record in records:
        if record.trial_id in exclude:
            continue
        value, reached = candidate_value(record, objective, floors)
        if math.isfinite(value):
            scored.append((record, value, reached))
    if not scored:
        return None
    scored = _on_common_folds(scored, objective)
    best_key = min(objective.sort_key(value) for _, value, _ in scored)
    tied = [entry for entry in scored if _tied(objective.sort_key(entry[1]), best_key)]
    twin_cost = _median_cost_by_twins([record for record, _, _ in scored])
    costs = {record.trial_id: twin_cost[_twins(record)] for record, _, _ in tied}
    tied.sort(
        key=lambda entry: (
            costs[entry[0].trial_id],
            # Between equal costs: less work planned, the better score, the grid's order.
            entry[0].last.get(STEPS_PLANNED, 0),
            objective.sort_key(entry[1]),
            _config_order(entry[0].config),
        )
    )
    record, value, reached = tied[0]
    others = tuple(r.trial_id for r, _, _ in tied[1:])
    return Pick(record, value, reached, others, costs if others else {})


def _on_common_folds(
    scored: list[tuple[TrialRecord, float, bool]], objective: Objective
) -> list[tuple[TrialRecord, float, bool]]:
    """Each trial cut short, scored as the best complete trial's value plus its paired
    difference from that trial on the folds both have. Without a complete trial, as reached."""
    complete = [entry for entry in scored if not entry[2]]
    if not complete or len(complete) == len(scored):
        return scored
    reference, reference_value, _ = min(complete, key=lambda e: objective.sort_key(e[1]))
    reference_folds = objective.by_fold(reference.reports)
    out = []
    for record, value, reached in scored:
        folds = objective.by_fold(record.reports) if reached else {}
        common = [fold for fold in folds if fold in reference_folds]
        if common:
            difference = sum(folds[f] - reference_folds[f] for f in common) / len(common)
            value = reference_value + difference
        out.append((record, value, reached))
    return out


def _tied(key: float, best: float) -> bool:
    return abs(key - best) <= SCORE_TOLERANCE * max(1.0, abs(key), abs(best))


def _twins(record: TrialRecord) -> tuple[str, int]:
    """Trials of one model and batch size do the same work; learning rate and alpha do not
    change a step's cost."""
    return str(record.config.get("model")), int(record.config.get("batch_size", 0))


def _median_cost_by_twins(records: Sequence[TrialRecord]) -> dict[tuple[str, int], float]:
    costs: dict[tuple[str, int], list[float]] = {}
    for record in records:
        value = record.last.get("train_time_s")
        seconds = float(value) if isinstance(value, int | float) else math.inf
        costs.setdefault(_twins(record), []).append(seconds)
    return {twins: float(np.median(values)) for twins, values in costs.items()}


def _config_order(config: dict[str, Any]) -> tuple[tuple[str, int, Any], ...]:
    """Model names alphabetically, numbers by value: the order a grid lists its configs in."""
    return tuple(
        (key, 0, value) if isinstance(value, int | float) else (key, 1, str(value))
        for key, value in sorted(config.items())
    )
