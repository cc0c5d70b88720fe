"""A study's state in its run directory: what `leantune resume` reads to finish a study.

`state/study.json` says which MLflow run is the study's and how each session ended;
`state/trials/log.jsonl` holds each trial's start (its config) and end (the whole trial, every
report), a JSON line each, appended as they happen; a trial's last line says where it stands,
and a trial counts as ended exactly when the log holds its end. (Format 1 directories, made
before the log, hold a file a trial, `state/trials/<trial_id>.json`: still read, and a line in
the log overrides its trial's file.)

Nothing a reader trusts is ever half written: `study.json` is replaced atomically (write a
temporary file, then rename), and the log only grows by whole lines, an end fsynced before
MLflow hears of it, so a driver killed at any instant leaves at most a last line cut short,
which a resume leaves out (that trial runs again) and the next append cuts off. One log, not a
file a trial: in a study of 10-ms trials, a new file a trial cost the driver's writer ~1 ms,
more than the rest of its work (BENCHMARKS.md, P8). JSON as Python writes it (NaN and Infinity
where a trial reported them).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import queue
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import numpy as np

from leantune._redact import redact
from leantune.engine import TrialRecord
from leantune.errors import LeantuneError
from leantune.results import RunDir
from leantune.stoppers import StopReason
from leantune.trials import RUNNING

FORMAT = 2
# Format 1 (before the log): every trial in its own file, read as they are.
RESUMABLE_FORMATS = (1, FORMAT)


# What parsing a state file or line may raise: JSON nested too deep (a tampered file) raises
# RecursionError, not ValueError, and must end a resume in one line too.
_JSON_ERRORS = (ValueError, RecursionError)


def write_json_atomic(path: Path, data: Any, *, durable: bool = True) -> None:
    """Replace `path` with `data` as JSON so that no reader ever sees a partial file.

    `durable`: also wait until it is on the disk (two fsyncs, ~5 ms each here), so not even a
    power cut loses it. A killed process never loses a replaced file either way: what is lost
    without it is only what the OS had not yet written when the machine itself went down."""
    _replace_json(path, data, durable=durable)
    if durable:
        _sync_directory(path.parent)


def _replace_json(path: Path, data: Any, *, durable: bool) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w") as stream:
            # dumps, not dump: only a whole-document encode takes json's C encoder (~5x faster
            # on a trial's reports); the text is the same.
            stream.write(json.dumps(data, default=_jsonable))
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _sync_directory(directory: Path) -> None:
    """The renames in `directory` reach the disk too, or a power cut could undo them."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


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
        self.directory = RunDir(run_dir).state_dir
        self.trials_dir = RunDir(run_dir).state_trials_dir
        self.log = RunDir(run_dir).trials_log
        self.meta = meta
        self._log_unchecked = True
        # Trial id -> (offset, length) of its last line in the log, built when first asked
        # (reports_of), not kept as trials end: the driver stays flat.
        self._log_index: dict[str, tuple[int, int]] | None = None

    @classmethod
    def create(cls, run_dir: Path, **meta: Any) -> StudyState:
        if meta.get("tracking_uri"):
            meta["tracking_uri"] = redact(meta["tracking_uri"])  # a password is never stored
        state = cls(run_dir, {"format": FORMAT, "outcome": RUNNING, "sessions": [], **meta})
        state.trials_dir.mkdir(parents=True, exist_ok=True)
        state.save_meta()
        return state

    @classmethod
    def open(cls, run_dir: Path) -> StudyState:
        """The state of a study that can be resumed; LeantuneError naming RUN_DIR if none."""
        path = RunDir(run_dir).study_state_file
        if not run_dir.is_dir():
            raise LeantuneError(f"RUN_DIR: {str(run_dir)!r} is not a directory")
        if not path.is_file():
            raise LeantuneError(
                f"RUN_DIR: {str(run_dir)!r} holds no state/study.json; is it the run directory "
                "of a leantune study (made by leantune 0.1 or newer)?"
            )
        try:
            meta = json.loads(path.read_text())
        except (OSError, *_JSON_ERRORS) as error:
            raise LeantuneError(f"RUN_DIR: {path} cannot be read ({error})") from None
        problem = _study_problem(meta)
        if problem:
            raise LeantuneError(
                f"RUN_DIR: {path} is not a study's state ({problem}); resume cannot tell which "
                "MLflow run and sessions the study had. Restore the file from a backup"
            )
        if meta.get("format") not in RESUMABLE_FORMATS:
            raise LeantuneError(
                f"RUN_DIR: {path} has state format {meta.get('format')!r}; this leantune "
                f"resumes formats {', '.join(map(str, RESUMABLE_FORMATS))}"
            )
        if meta.get("outcome") == "completed":
            raise LeantuneError(
                f"RUN_DIR: the study in {str(run_dir)!r} already completed; there is nothing "
                "to resume (its results are in summary.json)"
            )
        return cls(run_dir, meta)

    def save_meta(self) -> None:
        write_json_atomic(RunDir(self.run_dir).study_state_file, self.meta)

    def set_parent_run(self, run_id: str | None) -> None:
        """Note the study's MLflow run, once the tracker has made it (saved when it changes)."""
        if run_id is not None and self.meta.get("parent_run_id") != run_id:
            self.meta["parent_run_id"] = run_id
            self.save_meta()

    def missing_store(self) -> Path | None:
        """The study's sqlite MLflow store when it is a file that no longer exists."""
        uri = self.meta.get("tracking_uri") or ""
        if not uri.startswith("sqlite:///") or not self.meta.get("parent_run_id"):
            return None
        path = Path(self.meta.get("cwd") or ".") / uri.removeprefix("sqlite:///")
        return None if path.exists() else path

    # -- sessions: `leantune run` is session 0, each resume the next ----------------------------

    def begin_session(self) -> int:
        sessions = self.meta["sessions"]
        for session in sessions:
            if session["outcome"] == RUNNING:  # its driver was killed before it could say
                session["outcome"] = "killed"
        sessions.append({"session": len(sessions), "started_at": time.time(), "outcome": RUNNING})
        self.meta["outcome"] = RUNNING
        self.meta["format"] = FORMAT  # a format 1 study resumed here goes on in the log
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
        """Save a trial as it is now, when it starts and when it ends (durable once this
        returns)."""
        self.append([self._trial_entry(record)])

    def _trial_entry(self, record: TrialRecord) -> _TrialEntry:
        """The trial's line in the log now."""
        data = record_to_dict(record)
        # What a backend may still change (a retry's errors, a running trial's reports),
        # copied: the entry may be written after this returns.
        data["config"], data["attempt_errors"] = dict(record.config), list(record.attempt_errors)
        ended = record.ended_at is not None
        if ended:
            data["reports"] = list(record.reports)
        else:
            data["status"] = RUNNING
            data["reports"] = []  # reports of a running trial are redone if it runs again
        return _TrialEntry(record.trial_id, data, ended)

    def append(self, entries: Sequence[_TrialEntry]) -> None:
        """Append trials' lines to the log in one write; where one ends a trial, wait until
        they are on the disk: a trial's end must survive even a power cut (its start need
        not: a resume runs it as new, as it does anyway)."""
        text = "".join(json.dumps(entry.data, default=_jsonable) + "\n" for entry in entries)
        # Opened for each batch, not held: a log moved or replaced under the study must fail
        # the write, not go on into a file nobody reads.
        with open(self.log, "ab") as stream:
            if self._log_unchecked:  # only a killed driver leaves a line cut short
                _cut_torn_line(stream)
            stream.write(text.encode())
            stream.flush()
            if any(entry.ended for entry in entries):
                os.fsync(stream.fileno())
        if self._log_unchecked:
            _sync_directory(self.trials_dir)  # the log's own name, if it was made here
            self._log_unchecked = False
        self._log_index = None  # built by reports_of: no longer covers the log

    def reports_of(self, record: TrialRecord) -> list[dict[str, Any]]:
        """Every report of an ended trial, from the log (the driver keeps only some; see
        leantune.search.TrialBook) or, in a format 1 directory, its file; the record's own
        where neither can tell."""
        if self._log_index is None:
            self._log_index = _index_lines(self.log)
        try:
            where = self._log_index.get(record.trial_id)
            if where is not None:
                with open(self.log, "rb") as stream:
                    stream.seek(where[0])
                    data = json.loads(stream.read(where[1]))
            else:
                data = json.loads((self.trials_dir / f"{_safe(record.trial_id)}.json").read_text())
            reports = data.get("reports")
        except (OSError, AttributeError, *_JSON_ERRORS):
            return record.reports
        return reports if isinstance(reports, list) and reports else record.reports

    def load_trials(self) -> tuple[list[TrialRecord], list[TrialRecord]]:
        """(ended, unfinished) trials, each in the order they started.

        A trial file or log line that names its trial and config but lost the rest (its
        reports, its status) counts as unfinished: the trial runs again under its id, and
        `repaired` says so. One that does not even say which config it held raises
        LeantuneError. The log's last line cut short (a driver killed while appending it) is
        left out, and `repaired` says so too.
        """
        self.repaired: list[str] = []
        latest: dict[str, dict[str, Any]] = {}
        for path in sorted(self.trials_dir.glob("*.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, *_JSON_ERRORS) as error:
                raise LeantuneError(f"RUN_DIR: {path} cannot be read ({error})") from None
            data = self._trusted(data, path, _trial_problem(data, path))
            latest[data["trial_id"]] = data
        for number, line in _log_lines(self.log):
            where = f"{self.log} line {number}"
            if not line.endswith(b"\n"):
                self.repaired.append(
                    f"{self.log.relative_to(self.run_dir)}: its last line was cut short "
                    "(the study was stopped while writing it); the trial it held runs again"
                )
                break
            try:
                data = json.loads(line)
            except _JSON_ERRORS as error:
                raise LeantuneError(f"RUN_DIR: {where} cannot be read ({error})") from None
            data = self._trusted(data, Path(where), _trial_problem(data))
            latest[data["trial_id"]] = data  # a later line overrides the trial's file
        ended, unfinished = [], []
        for data in latest.values():
            record = record_from_dict(data)
            (unfinished if data["status"] == RUNNING else ended).append(record)
        ended.sort(key=lambda r: (r.started_at, r.trial_id))
        unfinished.sort(key=lambda r: (r.started_at, r.trial_id))
        return ended, unfinished

    def _trusted(self, data: Any, where: Path, problem: str | None) -> dict[str, Any]:
        """A trial's entry as resume can trust it: as it is, or, where it lost what it held
        but names its trial and config, as a trial to run again (noted in `repaired`)."""
        if problem and not _names_its_config(data):
            raise LeantuneError(
                f"RUN_DIR: {where} is not a trial record ({problem}); resume cannot tell "
                "which config it held. Restore it from a backup, or delete it and resume "
                "runs that config again as a new trial"
            )
        if not problem:
            return dict(data)
        shown = where.relative_to(self.run_dir) if where.is_relative_to(self.run_dir) else where
        self.repaired.append(f"{shown}: {problem}; trial {data['trial_id']} runs again")
        return {
            "trial_id": data["trial_id"],
            "config": data["config"],
            "status": RUNNING,
            "started_at": _number_or(data.get("started_at"), 0.0),
        }


def read_trial_entries(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Each trial's latest entry in a run directory's state (its file, or its last whole line
    in the log), as JSON, unchecked: for a reader watching a study run (tests, tools). A
    file replaced or a line appended meanwhile is read whole or not at all."""
    files = RunDir(run_dir)
    latest: dict[str, dict[str, Any]] = {}
    for path in sorted(files.state_trials_dir.glob("*.json")):
        with contextlib.suppress(FileNotFoundError):  # a file replaced as it is listed
            data = json.loads(path.read_text())
            latest[data["trial_id"]] = data
    for _, line in _log_lines(files.trials_log):
        if line.endswith(b"\n"):
            data = json.loads(line)
            latest[data["trial_id"]] = data
    return latest


class _TrialEntry(NamedTuple):
    trial_id: str
    data: dict[str, Any]
    ended: bool


def _log_lines(log: Path) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, line with its newline) of the log; none where there is no log."""
    try:
        stream = open(log, "rb")  # noqa: SIM115  # closed below; absent is a study with none
    except FileNotFoundError:
        return
    except OSError as error:
        raise LeantuneError(f"RUN_DIR: {log} cannot be read ({error})") from None
    with stream:
        yield from enumerate(stream, start=1)


def _index_lines(log: Path) -> dict[str, tuple[int, int]]:
    """Trial id -> (offset, length) of its last whole line in the log."""
    index: dict[str, tuple[int, int]] = {}
    offset = 0
    for _, line in _log_lines(log):
        if line.endswith(b"\n"):
            trial_id = _leading_trial_id(line)
            if trial_id is not None:
                index[trial_id] = (offset, len(line))
        offset += len(line)
    return index


_ID_PREFIX = b'{"trial_id": '


def _leading_trial_id(line: bytes) -> str | None:
    """The trial id a log line starts with (record_to_dict puts it first), without parsing
    the trial's reports; the whole line parsed where it does not start so."""
    try:
        if line.startswith(_ID_PREFIX):
            trial_id, _ = json.JSONDecoder().raw_decode(line[len(_ID_PREFIX) :].decode())
        else:
            trial_id = json.loads(line).get("trial_id")
    except (AttributeError, *_JSON_ERRORS):
        return None
    return trial_id if isinstance(trial_id, str) else None


def _cut_torn_line(stream: BinaryIO) -> None:
    """Cut a last line left without its newline (a driver killed while appending it), so
    the next line starts a line of its own. `stream`: the log, opened to append."""
    size = stream.seek(0, os.SEEK_END)
    if size == 0:
        return
    with open(stream.name, "rb") as reader:
        reader.seek(size - 1)
        if reader.read(1) == b"\n":
            return
        # Back to the last newline, a block at a time: a torn line is one trial's at most.
        end = size
        while end > 0:
            start = max(0, end - 65536)
            reader.seek(start)
            block = reader.read(end - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                stream.truncate(start + newline + 1)
                return
            end = start
    stream.truncate(0)


# -- schema: what a file must hold before resume trusts it ------------------------------------

_TRIAL_TYPES: dict[str, tuple[type, ...]] = {
    "trial_id": (str,),
    "config": (dict,),
    "status": (str,),
    "reports": (list,),
    "started_at": (int, float),
    "attempts": (int,),
    "attempt_errors": (list,),
    "session": (int,),
}
_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "stop_reason": (dict,),
    "late_stop": (dict,),
    "error": (str,),
    "ended_at": (int, float),
    "node_id": (str,),
    "worker_pid": (int,),
}
_CONFIG_KEYS = ("model", "batch_size", "learning_rate", "alpha")
_STOP_REASON_KEYS = ("rule", "metric", "value", "threshold", "step")


def _study_problem(meta: Any) -> str | None:
    if not isinstance(meta, dict):
        return f"a JSON object is expected; got {type(meta).__name__}"
    sessions = meta.get("sessions")
    if not isinstance(sessions, list) or not all(
        isinstance(s, dict) and isinstance(s.get("outcome"), str) for s in sessions
    ):
        return "'sessions' must be a list of objects, each with an 'outcome'"
    if not isinstance(meta.get("outcome"), str):
        return f"'outcome' must be text; got {meta.get('outcome')!r}"
    for key in ("parent_run_id", "tracking_uri", "cwd", "dataset_fingerprint"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            return f"{key!r} must be text or null; got {meta[key]!r}"
    return None


def _trial_problem(data: Any, path: Path | None = None) -> str | None:
    """What is wrong with a trial's file (`path`) or log line, or None when resume can
    trust it."""
    if not isinstance(data, dict):
        return f"a JSON object is expected; got {type(data).__name__}"
    missing = [key for key in _TRIAL_TYPES if key not in data]
    if missing:
        return f"it lacks {', '.join(repr(k) for k in missing)}"
    for key, types in {**_TRIAL_TYPES, **_OPTIONAL_TYPES}.items():
        value = data.get(key)
        if (value is not None or key in _TRIAL_TYPES) and (
            not isinstance(value, types) or isinstance(value, bool)
        ):
            return f"{key!r} must be {' or '.join(t.__name__ for t in types)}; got {value!r}"
    unknown = sorted(set(data) - set(_TRIAL_TYPES) - set(_OPTIONAL_TYPES))
    if unknown:
        return f"unknown keys {unknown}"
    if path is not None and _safe(data["trial_id"]) != path.stem:
        return f"it names trial {data['trial_id']!r}, not {path.stem!r}"
    if not all(isinstance(report, dict) for report in data["reports"]):
        return "'reports' must be a list of objects"
    if data["status"] != RUNNING and data.get("ended_at") is None:
        return f"it ended ({data['status']}) but holds no end time"
    reason = data.get("stop_reason")
    if reason is not None and not all(key in reason for key in _STOP_REASON_KEYS):
        return f"'stop_reason' must hold {', '.join(_STOP_REASON_KEYS)}"
    return None


def _names_its_config(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("trial_id"), str)
        and isinstance(data.get("config"), dict)
        and all(key in data["config"] for key in _CONFIG_KEYS)
    )


def _number_or(value: Any, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def record_to_dict(record: TrialRecord) -> dict[str, Any]:
    # Shallow: JSON copies what it writes, and a deep copy of every report cost the driver
    # more than writing them.
    data = {field.name: getattr(record, field.name) for field in fields(record)}
    data["stop_reason"] = asdict(record.stop_reason) if record.stop_reason else None
    data["late_stop"] = asdict(record.late_stop) if record.late_stop else None
    return data


def record_from_dict(data: dict[str, Any]) -> TrialRecord:
    fields = dict(data)
    reason = fields.pop("stop_reason", None)
    late = fields.pop("late_stop", None)
    record = TrialRecord(**fields)
    record.stop_reason = StopReason(**reason) if reason else None
    record.late_stop = StopReason(**late) if late else None
    return record


def _safe(trial_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", trial_id)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):  # an ended trial's packed report (search.PackedReport)
        return dict(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


_NOTHING = object()  # no trial came before a held start fell due


class TrialLogWriter:
    """Writes a study's trials log on a thread, so the driver never waits on the disk.

    `save(record, then)` takes the trial as it is now; once it is written (an ended trial
    durable: the lines of a batch appended to the log in one write, fsynced once), `then`
    comes back from `written()` or `flush()`, in order. What comes back is what the driver
    may now tell MLflow: a trial's end reaches the store only once the log holds it.
    A write that fails is raised by the next `save`, `written` or `flush`.
    """

    # Trials waiting to be written at most: a driver faster than the disk waits for it.
    BACKLOG = 256
    # How long a trial's start waits to be written: ended by then, only its end is.
    START_DELAY_S = 0.05

    def __init__(self, state: StudyState):
        self.state = state
        self._waiting: queue.Queue[Any] = queue.Queue(self.BACKLOG)
        self._done: collections.deque[Any] = collections.deque()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._write, name="leantune-state", daemon=True)

    def save(self, record: TrialRecord, then: Any = None) -> None:
        self._raise_failure()
        if not self._thread.is_alive():
            self._thread.start()
        self._waiting.put((self.state._trial_entry(record), then))

    def written(self) -> list[Any]:
        """The `then` of every trial whose file is written since the last call, in order."""
        self._raise_failure()
        done = []
        while self._done:
            done.append(self._done.popleft())
        return done

    def flush(self) -> list[Any]:
        """Wait until every trial given is written; what `written` would return."""
        if self._thread.is_alive():
            self._waiting.put(None)
            self._thread.join()
        return self.written()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _write(self) -> None:
        # A trial's start is held back START_DELAY_S: a short trial's end arrives first and is
        # written alone. An end is written at once.
        held: dict[str, tuple[float, Any]] = {}
        closing = False
        while not closing:
            wait = min((due for due, _ in held.values()), default=None)
            try:
                first = self._waiting.get(
                    timeout=None if wait is None else max(0.0, wait - time.monotonic())
                )
            except queue.Empty:
                first = _NOTHING
            batch = [first]
            while first is not _NOTHING and len(batch) < self.BACKLOG:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            closing = batch[-1] is None
            now = time.monotonic()
            items: list[tuple[_TrialEntry, Any]] = []
            for item in batch:
                if item is None or item is _NOTHING:
                    continue
                entry = item[0]
                if not entry.ended:
                    held[entry.trial_id] = (now + self.START_DELAY_S, item)
                    continue
                held.pop(entry.trial_id, None)  # its end takes its held start's place
                items.append(item)
            for trial_id, (due, item) in list(held.items()):
                if due <= now or closing:
                    del held[trial_id]
                    items.append(item)
            if self._failure is not None or not items:
                continue  # nothing more is written once a write failed
            try:
                self.state.append([entry for entry, _ in items])
            except BaseException as error:
                self._failure = error
                continue
            self._done.extend(then for _, then in items if then is not None)
