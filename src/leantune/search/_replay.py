"""The replay backend: recorded per-step metrics fed through the same decisions, no training.

Benchmark your stopping rules on your own recorded curves: a study run with stopping off (or
any table of per-report cost and quality metrics, e.g. published learning curves) holds what
every config would have reported; replaying it through a study's policies tells what they
would have stopped, skipped and picked, for thousands of configs in seconds, as Syne Tune's
simulator does. A trial ends where the policies stop it or where its recording ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from leantune.engine._trial import START_PHASE
from leantune.search._book import TrialBook
from leantune.search._request import SearchRequest, grid_configs
from leantune.stoppers import StoppingPolicy
from leantune.trials import SKIPPED, STEPS_PLANNED, config_key

# Keys of a recorded report that belong to its recording, not to what the trial measured.
_RECORDING_KEYS = ("trial_id",)


class ReplayBackend:
    """Replays `recordings` (config, reports) in their recorded order, or, for a grid, in the
    request's order, looking each config up by its values."""

    name = "replay"

    def __init__(self, recordings: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]]):
        self.recordings = [
            (dict(config), [dict(report) for report in reports]) for config, reports in recordings
        ]

    @classmethod
    def from_run_dir(cls, run_dir: Path | str) -> ReplayBackend:
        """The trials of a run directory (its trials table and reports.parquet), in the order
        they started."""
        from leantune.results import RunDir

        files = RunDir(run_dir)
        trials = _readable(files.read_trials, files.trials_parquet, ("started_at",))
        trials = trials.sort_values("started_at", kind="stable")
        reports = _readable(files.read_reports, files.reports_file)
        axes = [a for a in ("model", "batch_size", "learning_rate", "alpha") if a in trials]
        by_trial: dict[str, list[dict[str, Any]]] = {}
        for row in reports.to_dict("records"):
            clean = {str(k): _plain(v) for k, v in row.items() if not _missing(v)}
            by_trial.setdefault(str(row["trial_id"]), []).append(clean)
        recordings = []
        for row in trials.to_dict("records"):
            config = {axis: _plain(row[axis]) for axis in axes}
            recordings.append((config, by_trial.get(str(row["trial_id"]), [])))
        return cls(recordings)

    def run(
        self, request: SearchRequest, book: TrialBook, worker_policy: StoppingPolicy | None = None
    ) -> None:
        del worker_policy  # one decision place: the book judges every replayed report
        for number, (config, reports) in enumerate(self._in_order(request)):
            key = f"replay_{number:05d}"
            record = book.started(key, config)
            self._replay(book, key, reports)
            if record.stop_reason is None and "trial_status" not in record.last:
                # The recording was cut short (by the run's own stopping) where nothing stops
                # the replay: what the trial would have done next is unknown.
                book.ended(key, error=_cut_short(record.last))
            else:
                book.ended(key)

    def _in_order(
        self, request: SearchRequest
    ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        if request.method != "grid":
            return self.recordings
        by_config: dict[str, list[tuple[dict[str, Any], list[dict[str, Any]]]]] = {}
        for config, reports in self.recordings:
            by_config.setdefault(config_key(config), []).append((config, reports))
        points = request.grid_points() or grid_configs(request.param_space)
        ordered = []
        for config in points:
            found = by_config.get(config_key(config))
            if found:
                ordered.append(found.pop(0))
        return ordered

    @staticmethod
    def _replay(book: TrialBook, key: str, reports: list[dict[str, Any]]) -> None:
        trained = [
            {k: v for k, v in r.items() if k not in _RECORDING_KEYS}
            for r in reports
            if r.get("trial_status") != SKIPPED
        ]
        first = trained[0] if trained else next(iter(reports), {})
        if book.skip is not None and first:
            # The start report a trial sends before its first step, as the recording gives it.
            start = {
                "step": 0,
                "trial_phase": START_PHASE,
                STEPS_PLANNED: first.get(STEPS_PLANNED),
                **({"memory_mb": first["memory_mb"]} if "memory_mb" in first else {}),
            }
            if book.reported(key, start):
                return
        for report in trained:
            if book.reported(key, report):
                return


def _cut_short(last: Mapping[str, Any]) -> str:
    return (
        f"ReplayIncomplete: the recording ends at step {last.get('step', 0)} of "
        f"{last.get(STEPS_PLANNED, '?')}; replay a run made with stopping off to judge it"
    )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _readable(read: Callable[[], Any], path: Path, columns: Sequence[str] = ()) -> Any:
    """`read()`'s table, or one line naming the file and what is wrong with it: a run directory
    is the user's input here, and may be truncated, tampered with or from something else."""
    from leantune.errors import LeantuneError
    from leantune.trials import TRIAL_ID

    try:
        table = read()
    except Exception as error:  # pyarrow raises its own kinds for a file that is not parquet
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise LeantuneError(f"{path}: not a readable parquet table ({reason})") from None
    ids = table.get(TRIAL_ID)
    if ids is None or ids.isna().any() or (ids.astype(str) == "").any():
        raise LeantuneError(f"{path}: rows without a {TRIAL_ID}; is it a leantune run's table?")
    missing = [column for column in columns if column not in table]
    if missing:
        raise LeantuneError(f"{path}: no column {', '.join(missing)}; is it a leantune run's?")
    return table


def _plain(value: Any) -> Any:
    """numpy and pandas scalars as Python's, so configs compare and print as recorded."""
    if hasattr(value, "item"):
        return value.item()
    return value
