"""One driver per run directory: an OS-level lock that `run` and `resume` hold while they drive.

The lock is `fcntl.flock` on RUN_DIR/.leantune.lock, which also holds the holder's PID for the
message a second driver gets. The kernel drops the lock when its holder exits however it
exits, so a lock left by a killed driver is simply taken over by the next one.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from leantune.errors import LeantuneError

LOCK_FILE = ".leantune.lock"


@contextmanager
def own_run_dir(run_dir: Path, *, fresh: bool = False) -> Iterator[None]:
    """Hold `run_dir` for this process, or raise LeantuneError naming the holder's PID.

    `fresh`: a new study's directory, which must hold nothing but the lock: another `run`
    with the same output.dir may have got there first.
    """
    if not run_dir.is_dir():
        raise LeantuneError(f"RUN_DIR: {str(run_dir)!r} is not a directory")
    path = run_dir / LOCK_FILE
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise LeantuneError(
            f"RUN_DIR: {str(run_dir)!r} cannot be written ({error.strerror or error}); a study "
            "must record into its run directory"
        ) from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
            raise LeantuneError(
                f"RUN_DIR: {str(run_dir)!r} is being driven by another leantune process (PID "
                f"{holder}); one run directory has one driver. Wait for it to end, or stop it "
                "(Ctrl-C or kill PID) and then `leantune resume`"
            ) from None
        if fresh:
            others = sorted(p.name for p in run_dir.iterdir() if p.name != LOCK_FILE)
            if others:
                raise LeantuneError(
                    f"output.dir: {str(run_dir)!r} already holds files ({', '.join(others[:3])}); "
                    "another run started there first. Choose a new directory"
                )
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # closing the last descriptor releases the lock
