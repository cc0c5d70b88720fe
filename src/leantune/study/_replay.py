"""Judge a study's rules on a recorded run: what they would stop, skip and pick, and how wrong.

The recorded run (ideally one made with stopping off, so every trial's complete record is
known) is replayed through the rules of `spec` on the replay backend: nothing is trained. Each
decision is then held against the truth, the same rules with stopping off (every recorded
report judged, nothing cut short): a trial stopped or skipped for a limit that its complete
record met is a false stop; the replayed pick is scored against the best config the truth
finds feasible (its regret).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from leantune.errors import LeantuneError
from leantune.results import RunDir
from leantune.search import ReplayBackend, pick_best
from leantune.spec import StudySpec
from leantune.study._policies import build_decisions
from leantune.study._prepare import prepare_study
from leantune.study._search import search, search_request, training_plan
from leantune.trials import FEASIBLE, SKIPPED, STEPS_DONE, STOPPED, TrialRecord, config_key

_AXES = ("model", "batch_size", "learning_rate", "alpha")


@dataclass(frozen=True)
class ReplayOutcome:
    """The replayed trials, each beside its recorded outcome, and the measures."""

    records: list[TrialRecord]
    table: pd.DataFrame
    """One row a trial: config, recorded status, replayed status and reason, steps, CPU."""
    measures: dict[str, Any]
    """false_stops, limit_stops, recorded and replayed CPU-s, the picks and the regret."""


class _Silent:
    def trial_started(self, record: TrialRecord) -> None: ...

    def trial_reported(self, record: TrialRecord, report: dict[str, Any]) -> None: ...

    def trial_ended(self, record: TrialRecord) -> None: ...


def replay_rules(run_dir: Path | str, spec: StudySpec) -> ReplayOutcome:
    """Replay the run in `run_dir` through the rules of `spec` (its dataset, search space and
    training must be the run's: the recording holds no other configs)."""
    files = RunDir(run_dir)
    for path in (files.trials_parquet, files.reports_file):
        if not path.is_file():
            raise LeantuneError(f"RUN_DIR: {str(run_dir)!r} has no {path.name} to replay")
    # A replay writes nothing: its spec's output directory is never made, whatever it names.
    nowhere = Path(tempfile.mkdtemp(prefix="leantune-replay-")) / "run"
    spec = spec.model_copy(update={"output": spec.output.model_copy(update={"dir": nowhere})})
    records = _replay(run_dir, spec)
    # The truth: the same rules judging every recorded report, nothing cut short (a scheduler
    # such as ASHA cuts trials short even with stopping off, so the truth runs without it).
    truth_spec = spec.model_copy(
        update={
            "stopping": spec.stopping.model_copy(update={"enabled": False}),
            "search": spec.search.model_copy(update={"scheduler": None}),
        }
    )
    truth = {config_key(r.config): r for r in _replay(run_dir, truth_spec)}
    recorded = files.read_trials()
    by_config: dict[str, list[dict[str, Any]]] = {}
    for row in recorded.to_dict("records"):
        by_config.setdefault(config_key({a: _plain(row[a]) for a in _AXES}), []).append(row)
    rows = []
    for record in records:
        found = by_config.get(config_key({a: record.config.get(a) for a in _AXES})) or [{}]
        before = found.pop(0) if len(found) > 1 else found[0]
        reason = record.stop_reason
        judged = truth.get(config_key(record.config))
        rows.append(
            {
                **{a: record.config.get(a) for a in _AXES},
                "recorded_status": before.get("status", ""),
                "complete_record_status": judged.status if judged else "",
                "replayed_status": record.status,
                "replayed_reason": reason.describe() if reason else "",
                "limit_stop": bool(reason and reason.limit and record.status in (STOPPED, SKIPPED)),
                "recorded_steps": before.get(STEPS_DONE),
                "replayed_steps": 0 if record.status == SKIPPED else record.last.get("step", 0),
                "recorded_cpu_s": before.get("cpu_time_s", math.nan),
                "replayed_cpu_s": 0.0
                if record.status == SKIPPED
                else record.last.get("cpu_time_s", math.nan),
            }
        )
    table = pd.DataFrame(rows)
    return ReplayOutcome(records, table, _measures(table, records, truth, spec))


def _replay(run_dir: Path, spec: StudySpec) -> list[TrialRecord]:
    prepared = prepare_study(spec)
    decisions = build_decisions(spec, prepared.memory)
    request = search_request(prepared, training_plan(prepared, decisions))
    return search(request, decisions, _Silent(), ReplayBackend.from_run_dir(run_dir))


def _measures(
    table: pd.DataFrame,
    records: list[TrialRecord],
    truth: dict[str, TrialRecord],
    spec: StudySpec,
) -> dict[str, Any]:
    limit_stops = table[table.limit_stop] if len(table) else table
    # A stop on a limit is false where the complete record met every limit.
    false = limit_stops[limit_stops.complete_record_status == FEASIBLE] if len(table) else table
    floors = spec.constraints.quality()
    pick = pick_best(records, spec.goal, floors=floors)
    best = pick_best(list(truth.values()), spec.goal, floors=floors)
    best_value = best.value if best is not None else math.nan
    # The pick scored on its complete record: a trial a quality rule cut short was chosen on
    # what it had reached (a few folds' mean), which is not what it is worth.
    complete = truth.get(config_key(pick.record.config)) if pick is not None else None
    as_complete = pick_best([complete], spec.goal, floors=floors) if complete else None
    complete_value = as_complete.value if as_complete is not None else math.nan
    regret = math.nan
    if math.isfinite(best_value) and math.isfinite(complete_value):
        # How much worse the replayed pick is than the best the recording holds (0: as good).
        regret = (
            best_value - complete_value if spec.goal.mode == "max" else complete_value - best_value
        )
    return {
        "trials": len(table),
        # Recordings cut short by the recorded run's own stopping, where these rules go on.
        "incomplete": sum(1 for r in records if (r.error or "").startswith("ReplayIncomplete")),
        "limit_stops": len(limit_stops),
        "false_stops": len(false),
        "false_stop_share": len(false) / len(limit_stops) if len(limit_stops) else 0.0,
        "recorded_cpu_s": float(table.recorded_cpu_s.sum()) if len(table) else 0.0,
        "replayed_cpu_s": float(table.replayed_cpu_s.sum()) if len(table) else 0.0,
        "pick": dict(pick.record.config) if pick else None,
        "pick_value": pick.value if pick else None,
        # None where the pick broke a limit or missed a floor on its complete record.
        "pick_complete_value": complete_value if math.isfinite(complete_value) else None,
        "pick_feasible": as_complete is not None,
        "best_value": best_value,
        "best": dict(best.record.config) if best else None,
        "regret": regret,
    }


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
