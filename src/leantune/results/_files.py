"""The run directory's JSON files besides summary.json, each as a typed model: the budget ledger,
a comparison's headline and a thesis directory's index. Keys a newer leantune adds are kept
(extra="allow"), so an old reader keeps a new file whole."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _File(BaseModel):
    model_config = ConfigDict(extra="allow")

    def as_dict(self) -> dict[str, Any]:
        """Every key (also keys this version does not know); `write_json` writes numpy
        values as numbers and NaN as null."""
        return self.model_dump(exclude_none=False)


class LedgerTrial(_File):
    """One trial's line in the ledger: what it cost and, if cut short, what it would have."""

    trial_id: str
    status: str
    stop_label: str = ""
    cpu_s: float | None = None
    wall_s: float | None = None
    steps_done: float | None = None
    steps_planned: float | None = None
    remaining_cpu_s_estimate: float | None = 0.0
    remaining_wall_s_estimate: float | None = 0.0
    cpu_waiting_share: float | None = None


class RuleSavings(_File):
    trials_stopped: int = 0
    saved_cpu_s_estimate: float | None = 0.0
    saved_wall_s_estimate: float | None = 0.0


class Ledger(_File):
    """ledger.json: what the study spent, and what stopping saved (an estimate)."""

    note: str = ""
    spent_cpu_s: float | None = None
    spent_wall_s: float | None = None
    saved_cpu_s_estimate: float | None = None
    saved_wall_s_estimate: float | None = None
    full_grid_cpu_s_estimate: float | None = None
    share_of_full_grid_spent_estimate: float | None = None
    cpu_waiting_share: float | None = None
    full_grid_cpu_s_uncontended_estimate: float | None = None
    by_rule: dict[str, RuleSavings] = Field(default_factory=dict)
    trials: list[LedgerTrial] = Field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        """Every key but the per-trial lines: what summary.json keeps as its `ledger`."""
        return {k: v for k, v in self.as_dict().items() if k != "trials"}


class Comparison(_File):
    """comparison.json: the headline of a --compare-stopping run, stopped arm vs unstopped."""

    savings: dict[str, Any] = Field(default_factory=dict)
    regret: dict[str, Any] = Field(default_factory=dict)
    decisions: dict[str, Any] = Field(default_factory=dict)
    estimates: dict[str, Any] = Field(default_factory=dict)
    by_rule: list[dict[str, Any]] = Field(default_factory=list)
    layout: dict[str, str] = Field(default_factory=dict)


REPEATS_LAYOUT = "repeats"
"""thesis.json's layout since seeds were repeated: the one whose chapter leantune writes."""


class ThesisIndex(_File):
    """thesis.json: a thesis directory's index, one entry a dataset; `layout` names the
    directory layout ("repeats"; absent in the first, one-run-a-set layout)."""

    layout: str | None = None
    command: str = ""
    options: dict[str, Any] = Field(default_factory=dict)
    datasets: list[dict[str, Any]] = Field(default_factory=list)
