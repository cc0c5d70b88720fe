"""Where log lines go: leantune's warnings on the terminal, other libraries' chatter (Optuna's
"A new study created", MLflow's migrations) only with -v, and everything to --log-file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

# Libraries a study imports that log at INFO on their own handlers (Optuna does, with
# propagation off, so the root logger never sees them).
LIBRARIES = ("optuna", "mlflow", "alembic", "ray", "urllib3", "filelock", "numba")
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Settings:
    verbose = False
    handlers: tuple[logging.Handler, ...] = ()
    file_handler: logging.Handler | None = None


def configure(verbose: bool = False, log_file: Path | None = None) -> None:
    """Set up logging for one command: the terminal gets warnings (and INFO with `verbose`),
    `log_file` gets every INFO line of leantune and the libraries (DEBUG with `verbose`)."""
    root = logging.getLogger()
    for old in _Settings.handlers:  # a second command in one process (tests) starts afresh
        root.removeHandler(old)
        for name in LIBRARIES:
            logging.getLogger(name).removeHandler(old)
        old.close()
    _Settings.verbose, _Settings.file_handler = verbose, None
    terminal = logging.StreamHandler(sys.stderr)
    terminal.setLevel(logging.INFO if verbose else logging.WARNING)
    terminal.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handlers: list[logging.Handler] = [terminal]
    level = logging.DEBUG if verbose else logging.INFO
    if log_file is not None:
        handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
        handler.setLevel(level)
        handler.setFormatter(logging.Formatter(_FORMAT))
        handlers.append(handler)
        _Settings.file_handler = handler
    for handler in handlers:
        root.addHandler(handler)
    _Settings.handlers = tuple(handlers)
    if verbose or log_file is not None:
        root.setLevel(level)
        logging.getLogger("leantune").setLevel(level)


def quiet_libraries() -> None:
    """Once the libraries are imported (they set up their own handlers then): their terminal
    lines below WARNING only with -v, and all their lines in the log file."""
    for name in LIBRARIES:
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            # A plain StreamHandler is a library's terminal output (a file's is a subclass).
            if type(handler) is logging.StreamHandler and not _Settings.verbose:
                handler.setLevel(max(handler.level, logging.WARNING))
        file_handler = _Settings.file_handler
        # A library that does not propagate never reaches the root's handlers.
        if file_handler and not logger.propagate and file_handler not in logger.handlers:
            logger.addHandler(file_handler)
