"""A study's state in its run directory: what `leantune resume` reads to finish a study.

`state/study.json` says which MLflow run is the study's and how each session ended;
`state/trials/<trial_id>.json` holds one trial: written when it starts (its config) and again,
whole, when it ends. Every file is replaced atomically (write a temporary file, fsync, rename),
so a driver killed at any instant leaves each file either as it was or as it was meant to be,
and a trial counts as ended exactly when its file says so. Each file is JSON as Python writes
it (NaN and Infinity where a trial reported them).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from leantune.engine import TrialRecord
from leantune.errors import LeantuneError
from leantune.stoppers import StopReason

FORMAT = 1
RUNNING = "running"


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace `path` with `data` as JSON so that no reader ever sees a partial file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w") as stream:
            json.dump(data, stream, default=_jsonable)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    # The rename itself must reach the disk too, or a power cut could undo it.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def dataset_fingerprint(X: np.ndarray, y: np.ndarray) -> str:
    """A hash of the data, so a resume refuses a dataset that changed since the study began."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (X, y):
        digest.update(f"{array.shape}{array.dtype}".encode())
        # A block of rows at a time: no full copy of a large matrix just to hash it.
        for start in range(0, len(array), 65536):
            digest.update(np.ascontiguousarray(array[start : start + 65536]).data)
    return digest.hexdigest()


class StudyState:
    """Reads and writes `RUN_DIR/state`. The study's driver is its only writer."""

    def __init__(self, run_dir: Path, meta: dict[str, Any]):
        self.run_dir = run_dir
        self.directory = run_dir / "state"
        self.trials_dir = self.directory / "trials"
        self.meta = meta

    @classmethod
    def create(cls, run_dir: Path, **meta: Any) -> StudyState:
        state = cls(run_dir, {"format": FORMAT, "outcome": RUNNING, "sessions": [], **meta})
        state.trials_dir.mkdir(parents=True, exist_ok=True)
        state.save_meta()
        return state

    @classmethod
    def open(cls, run_dir: Path) -> StudyState:
        """The state of a study that can be resumed; LeantuneError naming RUN_DIR if none."""
        path = run_dir / "state" / "study.json"
        if not run_dir.is_dir():
            raise LeantuneError(f"RUN_DIR: {str(run_dir)!r} is not a directory")
        if not path.is_file():
            raise LeantuneError(
                f"RUN_DIR: {str(run_dir)!r} holds no state/study.json; is it the run directory "
                "of a leantune study (made by leantune 0.1 or newer)?"
            )
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise LeantuneError(f"RUN_DIR: {path} cannot be read ({error})") from None
        if meta.get("format") != FORMAT:
            raise LeantuneError(
                f"RUN_DIR: {path} has state format {meta.get('format')!r}; this leantune "
                f"resumes format {FORMAT}"
            )
        if meta.get("outcome") == "completed":
            raise LeantuneError(
                f"RUN_DIR: the study in {str(run_dir)!r} already completed; there is nothing "
                "to resume (its results are in summary.json)"
            )
        return cls(run_dir, meta)

    def save_meta(self) -> None:
        write_json_atomic(self.directory / "study.json", self.meta)

    # -- sessions: `leantune run` is session 0, each resume the next ----------------------------

    def begin_session(self) -> int:
        sessions = self.meta["sessions"]
        for session in sessions:
            if session["outcome"] == RUNNING:  # its driver was killed before it could say
                session["outcome"] = "killed"
        sessions.append({"session": len(sessions), "started_at": time.time(), "outcome": RUNNING})
        self.meta["outcome"] = RUNNING
        self.save_meta()
        return len(sessions) - 1

    def end_session(self, outcome: str, wall_time_s: float, driver_cpu_s: float) -> None:
        session = self.meta["sessions"][-1]
        session.update(outcome=outcome, wall_time_s=wall_time_s, driver_cpu_s=driver_cpu_s)
        self.meta["outcome"] = outcome
        self.save_meta()

    def earlier_sessions(self, key: str) -> float:
        """The sum of `key` over the sessions before this one (wall time, driver CPU)."""
        return sum(float(s.get(key) or 0.0) for s in self.meta["sessions"][:-1])

    # -- trials -------------------------------------------------------------------------------

    def save_trial(self, record: TrialRecord) -> None:
        """Save a trial as it is now: when it starts (status running) and when it ends."""
        data = record_to_dict(record)
        if record.ended_at is None:
            data["status"] = RUNNING
            data["reports"] = []  # reports of a running trial are redone if it runs again
        write_json_atomic(self.trials_dir / f"{_safe(record.trial_id)}.json", data)

    def load_trials(self) -> tuple[list[TrialRecord], list[TrialRecord]]:
        """(ended, unfinished) trials, each in the order they started."""
        ended, unfinished = [], []
        for path in sorted(self.trials_dir.glob("*.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as error:
                raise LeantuneError(f"RUN_DIR: {path} cannot be read ({error})") from None
            record = record_from_dict(data)
            (unfinished if data["status"] == RUNNING else ended).append(record)
        ended.sort(key=lambda r: (r.started_at, r.trial_id))
        unfinished.sort(key=lambda r: (r.started_at, r.trial_id))
        return ended, unfinished


def record_to_dict(record: TrialRecord) -> dict[str, Any]:
    data = asdict(record)
    data["stop_reason"] = asdict(record.stop_reason) if record.stop_reason else None
    return data


def record_from_dict(data: dict[str, Any]) -> TrialRecord:
    fields = dict(data)
    reason = fields.pop("stop_reason", None)
    record = TrialRecord(**fields)
    record.stop_reason = StopReason(**reason) if reason else None
    return record


def _safe(trial_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", trial_id)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
