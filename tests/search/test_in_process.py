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


def test_random_search_draws_the_configs_an_optuna_study_would_ask_for():
    # Random search samples without a study (none is kept per trial): the same configs, in
    # the same order, a resumed session's running configs first, as study.ask gives.
    import optuna

    from leantune.search._in_process import _Configs
    from leantune.search._request import SearchRequest
    from leantune.search._sampling import distributions, make_sampler
    from leantune.trials import LogUniform, ResumePoint

    space = {
        "model": ["logistic"],
        "batch_size": [8, 32, 128],
        "learning_rate": LogUniform(1e-4, 0.1),
        "alpha": [1e-4],
    }
    running = {"model": "logistic", "batch_size": 32, "learning_rate": 0.01, "alpha": 1e-4}
    for resume in (None, ResumePoint([], [("trial_0_00003", running)], 1)):
        request = SearchRequest(
            "s", space, None, None, None, method="random", num_samples=12, seed=3, resume=resume
        )
        drawn = [config for config, _ in _Configs(request).one_by_one()]

        study = optuna.create_study(sampler=make_sampler(request))
        for config in request.pending_samples():
            study.enqueue_trial(config)
        asked = [dict(study.ask(distributions(space)).params) for _ in range(12)]
        assert drawn == asked
        assert len(drawn) == 12 and (resume is None or drawn[0] == running)
