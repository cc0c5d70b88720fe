"""Habits a command-line user expects: shell completion, -v and --log-file, and no library's
INFO lines on the terminal unless asked."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leantune.cli import _logging as cli_logging
from leantune.cli import app

LEANTUNE = Path(sys.executable).parent / "leantune"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_each_shells_script(shell):
    result = CliRunner().invoke(app, ["completion", shell])
    assert result.exit_code == 0, result.output
    assert f"_LEANTUNE_COMPLETE=complete_{shell}" in result.output


def test_an_unknown_shell_is_one_line_and_exit_2():
    result = CliRunner().invoke(app, ["completion", "tcsh"])
    assert result.exit_code == 2
    assert "SHELL: must be one of bash, zsh, fish; got 'tcsh'" in result.output
    assert "Traceback" not in result.output


def test_the_completion_script_completes_leantunes_commands():
    assert LEANTUNE.is_file()
    env = {
        **os.environ,
        "_LEANTUNE_COMPLETE": "complete_bash",
        "COMP_WORDS": "leantune re",
        "COMP_CWORD": "1",
    }
    done = subprocess.run([str(LEANTUNE)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["resume", "report", "replay", "register"]


def test_install_completion_is_an_option_of_the_command():
    result = CliRunner().invoke(app, ["--help"])
    assert "--install-completion" in result.output and "--show-completion" in result.output


@pytest.fixture
def restore_logging():
    import optuna  # its handler exists before the test changes it

    levels = [(h, h.level) for h in optuna.logging.get_logger("optuna").handlers]
    for handler, _ in levels:  # as Optuna leaves it, whatever an earlier command in this
        handler.setLevel(logging.NOTSET)  # process did to it
    yield
    cli_logging.configure()
    root = logging.getLogger()
    for handler in cli_logging._Settings.handlers:
        root.removeHandler(handler)
    cli_logging._Settings.handlers = ()
    for handler, level in levels:
        handler.setLevel(level)


def _optuna_terminal_handlers():
    import optuna  # noqa: F401  (it sets up its own stderr handler on import)

    return [h for h in logging.getLogger("optuna").handlers if type(h) is logging.StreamHandler]


def test_library_info_lines_go_to_the_log_file_not_the_terminal(tmp_path, restore_logging):
    log_file = tmp_path / "leantune.log"
    cli_logging.configure(verbose=False, log_file=log_file)
    terminal = _optuna_terminal_handlers()  # a study imports its libraries, then quiets them
    cli_logging.quiet_libraries()
    assert terminal and all(h.level >= logging.WARNING for h in terminal)
    logging.getLogger("optuna.storages").info("A new study created in memory")
    logging.getLogger("leantune").info("leantune's own line")
    for handler in cli_logging._Settings.handlers:
        handler.flush()
    text = log_file.read_text()
    assert "INFO optuna.storages: A new study created in memory" in text
    assert "INFO leantune: leantune's own line" in text


def test_verbose_leaves_library_info_on_the_terminal(restore_logging):
    cli_logging.configure(verbose=True)
    terminal = _optuna_terminal_handlers()
    cli_logging.quiet_libraries()
    assert terminal and all(h.level < logging.WARNING for h in terminal)
    assert logging.getLogger("leantune").getEffectiveLevel() == logging.DEBUG


def test_log_file_and_verbose_are_options_of_every_command(tmp_path, restore_logging):
    log_file = tmp_path / "cli.log"
    result = CliRunner().invoke(app, ["-v", "--log-file", str(log_file), "schema"])
    assert result.exit_code == 0, result.output
    assert log_file.is_file()
