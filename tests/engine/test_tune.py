"""The Ray Tune wiring, with real trials on the session's local Ray."""

from dataclasses import replace

import pytest

from leantune.datasets import load_sklearn, make_splits
from leantune.engine import SearchRequest, TrainingPlan, TrialData, run_search
from leantune.testing import AlwaysStop, NeverStop, RecordingObserver

pytestmark = pytest.mark.slow


def _request(tmp_path, **space):
    data = load_sklearn("iris")
    splits = make_splits(data, test_size=0.3, cv_folds=2, holdout_size=0.2, seed=0)
    param_space = {
        "model": ["logistic"],
        "batch_size": [8],
        "learning_rate": [0.01],
        "alpha": [1e-4],
    } | space
    return SearchRequest(
        name="t",
        param_space=param_space,
        data=TrialData(data.X, data.y, data.task, data.n_classes, splits.folds),
        plan=TrainingPlan(report_every=2),
        storage_dir=tmp_path / "ray",
    )


def test_every_config_of_the_grid_runs_and_ends_feasible(ray_session, tmp_path):
    observer = RecordingObserver()
    records = run_search(_request(tmp_path, batch_size=[4, 8, 16]), NeverStop(), observer)
    assert sorted(r.config["batch_size"] for r in records) == [4, 8, 16]
    assert {r.status for r in records} == {"feasible"}
    for record in records:
        assert ("started", record.trial_id) in observer.events
        assert ("ended", record.trial_id) in observer.events
        assert observer.reports[record.trial_id] == record.reports
        assert record.last["trial_status"] == "finished"
        assert "config" not in record.last and "training_iteration" not in record.last


def test_a_worker_rule_stops_the_trial_at_the_report_that_breaks_it(ray_session, tmp_path):
    (record,) = run_search(
        _request(tmp_path), AlwaysStop(), RecordingObserver(), worker_policy=AlwaysStop()
    )
    assert record.status == "stopped"
    assert record.stop_reason.rule == "always"
    assert len(record.reports) == 1  # stopped at its first report, in the worker


def test_a_driver_rule_stops_the_trial_when_its_reports_arrive(ray_session, tmp_path):
    # Sent one at a time, the first report is the last: the driver's stop ends the trial there.
    request = replace(_request(tmp_path), flush_seconds=0.0)
    (record,) = run_search(request, AlwaysStop(), RecordingObserver())
    assert (record.status, record.stop_reason.rule, len(record.reports)) == ("stopped", "always", 1)


def test_reports_reach_the_driver_in_batches_in_order_and_complete(ray_session, tmp_path):
    observer = RecordingObserver()
    request = replace(_request(tmp_path), flush_seconds=3600.0)  # one batch a trial
    (record,) = run_search(request, NeverStop(), observer)
    steps = [report["step"] for report in record.reports]
    assert steps == sorted(steps) and len(steps) > 2
    assert observer.reports[record.trial_id] == record.reports
    assert record.last["trial_status"] == "finished" and record.status == "feasible"
    assert not any(key.startswith("leantune_") for r in record.reports for key in r)


def test_a_trial_that_raises_is_failed_and_the_rest_finish(ray_session, tmp_path):
    records = run_search(
        _request(tmp_path, model=["logistic", "nope"]), NeverStop(), RecordingObserver()
    )
    by_model = {r.config["model"]: r for r in records}
    assert by_model["logistic"].status == "feasible"
    assert by_model["nope"].status == "failed"
    # the error's type and message; one attempt (resources.max_failures is 0 by default)
    assert by_model["nope"].error.startswith("ValueError: model must be one of")
    assert by_model["nope"].attempts == 1


def test_tunes_failed_state_save_is_one_line_without_a_traceback():
    """A full disk makes Tune log its failed experiment-state save with exc_info; the study
    ends with leantune's own line, so Tune's says what failed, in one line."""
    import io
    import logging

    from leantune.engine._tune import _EXPERIMENT_STATE_LOGGER, _quiet_incomplete_trials

    logger, stream = logging.getLogger(_EXPERIMENT_STATE_LOGGER), io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        with _quiet_incomplete_trials():
            try:
                raise OSError(28, "No space left on device")
            except OSError:
                logger.error(
                    "Saving experiment state to storage at '%s' failed: ", "x", exc_info=True
                )
        logger.error("after", exc_info=(ValueError, ValueError("kept"), None))
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines[0] == (
        "Saving experiment state to storage at 'x' failed: "
        "OSError: [Errno 28] No space left on device"
    )
    assert "Traceback" not in stream.getvalue().split("after")[0]
    assert "ValueError: kept" in stream.getvalue()  # outside a search, Tune's lines are its own
