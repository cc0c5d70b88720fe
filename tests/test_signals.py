"""SIGTERM stops a command as Ctrl-C does, even where the process inherited SIGINT ignored."""

import subprocess
import sys

import pytest

_PROGRAM = """
import os, signal, sys, time
from leantune._signals import stop_on_sigterm
if sys.argv[1] == "ignored":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
stop_on_sigterm()
try:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
except KeyboardInterrupt:
    print("interrupted")
"""


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_sigterm_raises_keyboard_interrupt_whatever_sigint_was(sigint):
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, sigint], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "interrupted", done.stderr


def test_sigterm_runs_the_current_sigint_handler():
    program = _PROGRAM.replace(
        "stop_on_sigterm()",
        "signal.signal(signal.SIGINT, lambda *_: print('handler ran') or sys.exit(3))\n"
        "stop_on_sigterm()",
    )
    done = subprocess.run(
        [sys.executable, "-c", program, "default"], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "handler ran" and done.returncode == 3, done.stderr
