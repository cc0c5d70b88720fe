"""A study's trial events, sent to its run directory's state, its tracker and its progress
display; and what the study's MLflow run is tagged with."""

from __future__ import annotations

import errno
from typing import Any

from leantune._version import __version__
from leantune.study._prepare import PreparedStudy
from leantune.study._progress import ProgressDisplay
from leantune.study._state import StudyState, TrialLogWriter
from leantune.tracking import Tracker, store_file_identity
from leantune.trials import TrialRecord


class StoreLost(FileNotFoundError):
    """The study's sqlite store was deleted while it ran: nothing more may be written to it."""


class StudyObserver:
    """Sends the engine's trial events to the run directory's state, the tracker and the
    progress display. The state is saved first: a trial's points reach MLflow only once the
    run directory knows it ended, so a resume never writes them twice."""

    def __init__(
        self, tracker: Tracker, progress: ProgressDisplay | None, state: StudyState | None
    ):
        self.tracker = tracker
        self.progress = progress
        self.state = state
        # Trial files are written off the driver's loop; a trial's end goes to the tracker
        # once the ended trials' log holds it, durably (`_tell_tracker`).
        self.files = TrialLogWriter(state) if state is not None else None
        # The sqlite store's URI and its file's identity, once the tracker is open. Not asked
        # here: a tracker still opening (the study's first seconds) would be waited for, and
        # the pool's workers start meanwhile.
        self.store: tuple[str, tuple[int, int] | None] | None = None

    def trial_started(self, record: TrialRecord) -> None:
        if self.state is not None and self.files is not None:
            self.state.set_parent_run(getattr(self.tracker, "parent_run_id", None))
            self.files.save(record)
        if self.store is None:
            uri = str(getattr(self.tracker, "uri", "") or "")
            if uri.startswith("sqlite:///"):
                self.store = (uri, store_file_identity(uri))
        self.tracker.start_trial(record.trial_id, run_name(record.config), record.config)
        if self.progress is not None:
            self.progress.started()
        self._tell_tracker()

    def trial_reported(self, record: TrialRecord, report: dict[str, Any]) -> None:
        self.tracker.log_report(record.trial_id, report)

    def trial_restarted(self, record: TrialRecord) -> None:
        self.tracker.restart_trial(record.trial_id)

    def trial_ended(self, record: TrialRecord) -> None:
        tags = self._end_tags(record)
        if self.files is not None:
            self.files.save(record, (record.trial_id, record.status, tags))
        else:
            self.tracker.end_trial(record.trial_id, record.status, tags)
        # A sqlite store deleted under a running study takes every later write with it,
        # silently: open connections write on into the unlinked file, new ones make an empty
        # one in its place. Checked as each trial ends, by the file's identity.
        if self.store is not None and store_file_identity(self.store[0]) != self.store[1]:
            raise StoreLost(
                errno.ENOENT,
                "the MLflow store was deleted while the study ran; `leantune resume "
                "--rebuild-store` writes it again from state/",
                self.store[0].removeprefix("sqlite:///"),
            )
        if self.progress is not None:
            self.progress.ended(record.status)
        self._tell_tracker()

    def flush(self) -> None:
        """Wait for every trial file, then tell the tracker of every trial's end."""
        if self.files is not None:
            for ended in self.files.flush():
                self.tracker.end_trial(*ended)

    def flush_files(self) -> None:
        """Wait for every trial file, telling the tracker nothing (it failed)."""
        if self.files is not None:
            self.files.flush()

    def _tell_tracker(self) -> None:
        if self.files is not None:
            for ended in self.files.written():
                self.tracker.end_trial(*ended)

    @staticmethod
    def _end_tags(record: TrialRecord) -> dict[str, str]:
        tags: dict[str, str] = {}
        if record.stop_reason is not None:
            reason = record.stop_reason
            tags.update(
                {
                    "leantune.stop_reason": reason.describe(),
                    "leantune.stop_rule": reason.rule,
                    "leantune.stop_metric": reason.metric,
                    "leantune.stop_value": f"{reason.value:.6g}",
                    "leantune.stop_threshold": f"{reason.threshold:g}",
                    "leantune.stop_step": str(reason.step),
                }
            )
        if record.late_stop is not None:
            tags["leantune.late_stop"] = record.late_stop.describe()
        if record.error:
            tags["leantune.error"] = record.error
        if record.attempts > 1:
            tags["leantune.attempts"] = str(record.attempts)
            tags["leantune.attempt_errors"] = "\n".join(record.attempt_errors)
        if record.node_id:
            tags["leantune.node_id"] = record.node_id
        return tags


def run_name(config: dict[str, Any]) -> str:
    return (
        f"{config['model']}-b{config['batch_size']}-lr{config['learning_rate']:g}"
        f"-a{config['alpha']:g}"
    )


def dataset_tags(prepared: PreparedStudy) -> dict[str, str]:
    provenance = prepared.dataset.provenance
    return {
        "leantune.dataset": prepared.dataset.name,
        "leantune.dataset_source": str(provenance.get("source", "")),
        "leantune.dataset_synthetic": str(bool(provenance.get("synthetic", False))).lower(),
        "leantune.task": prepared.dataset.task,
        "leantune.version": __version__,
    }


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and not {"pow2", "pow10"} & set(value):
            flat.update(flatten(value, f"{name}."))
        elif value is not None:  # unset options are defaults, not parameters worth a column
            flat[name] = value
    return flat
