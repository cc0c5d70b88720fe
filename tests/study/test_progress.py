"""Progress on a pipe: trials done, how they ended, time elapsed and about how long is left."""

import io

from rich.console import Console

from leantune.study._progress import ProgressDisplay


def test_a_plain_progress_line_says_elapsed_and_time_left():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    with ProgressDisplay(4, console) as progress:
        for _ in range(2):
            progress.started()
            progress.ended("feasible")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("trials 1/4 · running 0 · feasible 1 · 0:0")
    assert "elapsed, about " in lines[0] and lines[0].endswith(" left")


def test_the_last_line_has_no_time_left():
    out = io.StringIO()
    with ProgressDisplay(1, Console(file=out, force_terminal=False, width=200)) as progress:
        progress.started()
        progress.ended("stopped")
    assert out.getvalue().strip().endswith("elapsed")
