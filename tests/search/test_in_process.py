"""The in-process backend as a study uses it: retries, and an interrupt that a resume finishes."""

import os
import signal
import threading

import pytest

import leantune
from leantune.engine import Fault
from leantune.study import StudyInterrupted, resume_study
from leantune.testing import tiny_spec


def _spec(tmp_path, **resources):
    return leantune.load_spec(
        tiny_spec(
            search={"space": {"batch_size": [16, 64], "learning_rate": [0.1, 0.01]}},
            resources={"backend": "in-process", **resources},
            output={"dir": str(tmp_path / "run"), "report": False},
        )
    )


def test_a_failing_trial_is_retried_as_max_failures_says(tmp_path):
    fault = Fault(match={"batch_size": 16, "learning_rate": 0.1}, raise_at_step=3)
    result = leantune.run(_spec(tmp_path, max_failures=2), show_progress=False, faults=(fault,))
    failed = result.trials[result.trials.status == "failed"]
    assert len(failed) == 1 and int(failed.attempts.iloc[0]) == 3
    assert "InjectedFault" in failed.error.iloc[0]
    assert result.summary["status_counts"]["feasible"] == 3


def test_sigterm_stops_the_search_and_resume_finishes_it(tmp_path):
    # Slow steps keep the second trial running when the signal comes.
    slow = Fault(match={"batch_size": 16, "learning_rate": 0.01}, sleep_s_per_step=0.2)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with pytest.raises(StudyInterrupted):
            leantune.run(_spec(tmp_path), show_progress=False, faults=(slow,))
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGTERM) is not None  # the handler before it is back
    result = resume_study(tmp_path / "run", show_progress=False)
    assert len(result.trials) == 4 and result.summary["outcome"] == "completed"
