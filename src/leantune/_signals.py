"""SIGTERM handled as Ctrl-C is, whatever the process inherited for SIGINT.

A scheduler or `kill` ends a command with SIGTERM; leantune stops then as it does on Ctrl-C.
Forwarding the signal as a SIGINT to itself is not enough: a process started in the background
by a non-interactive shell (`nohup leantune ... &`, many CI runners) inherits SIGINT ignored,
and Python then installs no handler for it, so the SIGINT would do nothing and the command
would keep running (`leantune ui` never stopped its server that way).
"""

from __future__ import annotations

import signal
from typing import Any


def interrupt_as_ctrl_c(*_: Any) -> None:
    """Do what Ctrl-C does now: run the current SIGINT handler (Python's raises
    KeyboardInterrupt; Ray Tune's stops the search gracefully), or raise KeyboardInterrupt where
    SIGINT is ignored or left to the system. Call it in the main thread (a signal handler is)."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, None)
        return
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """From now on, SIGTERM stops the command as Ctrl-C does."""
    signal.signal(signal.SIGTERM, interrupt_as_ctrl_c)
