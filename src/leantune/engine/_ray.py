"""Starting and joining Ray: the settings its processes inherit, and SIGTERM while it runs.

Apart from Ray Tune (`_tune`), so that the pool of Ray actors (`_pool`), whose workers import
this module with their class, never imports Tune (~1.3 s of a study's start, and of each
actor's).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

import ray

from leantune._signals import stop_on_sigterm
from leantune.engine import _persistent

# Keep Tune's own console table and per-trial log files out of the way: leantune shows its
# own progress and records everything in MLflow. A failed trial is recorded with its error by
# the driver, so Tune need not print each one's traceback too. Tune reads these while it runs;
# they are set only for that time (a user's own values win), so importing leantune sets none.
RAY_ENVIRONMENT = {
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "TUNE_PRINT_ALL_TRIAL_ERRORS": "0",
    # leantune resumes from its own run directory, never from Tune's experiment state: Tune
    # need not rewrite that state every few seconds (each write encodes every trial, ~10 ms a
    # trial of driver CPU); it still writes it when the search starts and when it ends.
    "TUNE_GLOBAL_CHECKPOINT_S": "86400",
    # A trial's start report (the skip rule's evidence, sent before its first step) has no
    # `objective` yet: Tune's strict check would fail every sampled search that skips.
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
}


# The SIGTERM handler start_ray replaced, put back by stop_ray.
_sigterm_before: list[Any] = []


# The environment settings start_ray added, taken away by stop_ray.
_added_environment: list[str] = []


def stop_ray() -> None:
    ray.shutdown()
    while _added_environment:
        os.environ.pop(_added_environment.pop(), None)
    if _sigterm_before and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _sigterm_before.pop())


def start_ray(address: str | None) -> bool:
    """Start a local Ray (or join `address`) unless one is running. True if we started it."""
    if ray.is_initialized():
        return False
    main = threading.current_thread() is threading.main_thread()
    # None: a handler not installed from Python, which signal.signal cannot put back.
    before = (signal.getsignal(signal.SIGTERM) or signal.SIG_DFL) if main else None
    options: dict[str, Any] = dict(
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        configure_logging=True,
    )
    # Ray's own processes inherit the driver's environment when they start: the settings are
    # there while leantune's Ray runs, and go again with it (stop_ray).
    _added_environment[:] = [key for key in RAY_ENVIRONMENT if key not in os.environ]
    os.environ.update({key: RAY_ENVIRONMENT[key] for key in _added_environment})
    if address:
        ray.init(address=address, **options)
    elif (persistent := _persistent.running()) is not None:
        # `leantune ray start` left a local Ray running: join it, skipping Ray's start and stop.
        with _persistent.loopback_only():  # it listens on 127.0.0.1 only
            ray.init(address=persistent["address"], **options)
    else:
        # "local" starts a private Ray: address=None would join any cluster that RAY_ADDRESS
        # or /tmp/ray/ray_current_cluster points at, then refuse num_cpus.
        with _persistent.loopback_only():  # serves this driver alone: not the network's
            ray.init(address="local", num_cpus=os.cpu_count() or 1, **options)
    if main:
        # Ray's core installs a SIGTERM handler that aborts the process. Give SIGTERM the same
        # graceful stop Tune gives Ctrl-C instead, so what ended is saved. stop_ray puts back
        # the handler that was there before Ray started.
        _sigterm_before[:] = [before]
        stop_on_sigterm()
    return True
