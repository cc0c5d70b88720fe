"""A study that cannot record what it does stops at once: one line, exit 2, resumable.

Training on while nothing can be saved only burns CPU on trials that will run again, so the
first failed write (state, MLflow store, results) ends the study the way Ctrl-C does: the trials
saved so far stay, and `leantune resume` finishes the rest once the directory is writable.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from leantune.errors import LeantuneError

_log = logging.getLogger("leantune")

# Errors that say the disk or the directory refuses writes, wherever the file is.
_WRITE_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM}


class RecordingFailed(LeantuneError):
    """The study could not write its run directory or its store, and stopped.

    `exit_at_once`: the CLI leaves without interpreter teardown, in which a store on an
    unwritable disk can still crash (sqlite's WAL checkpoint gets SIGBUS on an immutable file).
    """

    exit_at_once = True

    def __init__(self, run_dir: Path, error: BaseException):
        self.error = error
        super().__init__(
            f"RUN_DIR: {str(run_dir)!r} could not be written ({_describe(error)}), so the "
            "study stopped; the trials saved before stay. Make the directory (and the MLflow "
            f"store) writable, then `leantune resume {run_dir}` finishes the study"
        )


def stop_the_search() -> None:
    """Ask the running search to stop gracefully, as Ctrl-C does (Tune saves what ended)."""
    os.kill(os.getpid(), signal.SIGINT)


@contextmanager
def recording_into(run_dir: Path) -> Iterator[None]:
    """Turn a failed write into the run directory into RecordingFailed (one line, exit 2)."""
    try:
        yield
    except OSError as error:
        if not _is_write_failure(error, run_dir):
            raise
        raise RecordingFailed(run_dir, error) from None


def _is_write_failure(error: OSError, run_dir: Path) -> bool:
    if error.errno in _WRITE_ERRNOS:
        return True
    filename = error.filename
    if not filename:
        return False
    inside = Path(os.path.abspath(str(filename)))
    return Path(os.path.abspath(run_dir)) in inside.parents


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{type(error).__name__}: {error.strerror}{where}"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


class RecordingGuard:
    """Wraps the study's observer (state, MLflow, progress): the first event it cannot record
    stops the search, and every later event is dropped, since nothing more can be saved."""

    def __init__(self, observer: Any):
        self.observer = observer
        self.failure: BaseException | None = None

    def trial_started(self, *args: Any) -> None:
        self._forward("trial_started", args)

    def trial_reported(self, *args: Any) -> None:
        self._forward("trial_reported", args)

    def trial_restarted(self, *args: Any) -> None:
        self._forward("trial_restarted", args)

    def trial_ended(self, *args: Any) -> None:
        self._forward("trial_ended", args)

    def flush(self) -> None:
        """Wait until every event given is recorded (the observer writes some on a thread).
        After a failure, the trial files already given are still written where they can be
        (a lost MLflow store leaves the run directory writable): a resume then finds them."""
        if self.failure is not None:
            with contextlib.suppress(Exception):
                self.observer.flush_files()
            return
        self._forward("flush", ())

    def raise_failure(self, run_dir: Path) -> None:
        if self.failure is not None:
            raise RecordingFailed(run_dir, self.failure)

    def _forward(self, event: str, args: tuple[Any, ...]) -> None:
        if self.failure is not None:
            return
        try:
            getattr(self.observer, event)(*args)
        except Exception as error:
            # Logged for a developer; the user gets RecordingFailed's one line at the end.
            _log.debug("leantune: %s could not be recorded", event, exc_info=True)
            self.failure = error
            _quiet_the_writers()
            stop_the_search()


def _quiet_the_writers() -> None:
    """Every writer now fails the same way (Tune's checkpoints, MLflow's store, the tracker's
    retries): their tracebacks would bury the one line that says what happened."""
    for name in ("ray.tune", "ray.train", "mlflow", "sqlalchemy", "leantune"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
