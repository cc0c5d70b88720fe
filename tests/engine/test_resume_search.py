"""A resumed search runs only what earlier sessions left: for random search and TPE the samples
still to draw; trials that were running keep their ids; TPE learns from the trials that ended
before. (A resumed grid, end to end: tests/study/test_resume.py.)"""

import pytest

from leantune.datasets import load_sklearn, make_splits
from leantune.engine import (
    LogUniform,
    ResumePoint,
    SearchRequest,
    TrainingPlan,
    TrialData,
    TrialRecord,
    config_key,
    run_search,
)
from leantune.engine._tune import _ConstraintAwareOptuna, _ObserverCallback, _TuneDriver
from leantune.search import TrialBook
from leantune.stoppers import StopReason
from leantune.testing import NeverStop, RecordingObserver


def _request(tmp_path, method="grid", num_samples=1, resume=None):
    data = load_sklearn("iris")
    splits = make_splits(data, test_size=0.3, cv_folds=2, holdout_size=0.2, seed=0)
    rates = [0.1, 0.01, 0.001] if method == "grid" else LogUniform(1e-3, 1e-1)
    return SearchRequest(
        name="r",
        param_space={
            "model": ["logistic"],
            "batch_size": [16],
            "learning_rate": rates,
            "alpha": [1e-4],
        },
        data=TrialData(data.X, data.y, data.task, data.n_classes, splits.folds),
        plan=TrainingPlan(report_every=4),
        storage_dir=tmp_path / "ray",
        method=method,
        num_samples=num_samples,
        resume=resume,
    )


def _ended(config, trial_id, value=0.9, violation_reason=None):
    return TrialRecord(
        trial_id,
        dict(config),
        status="stopped" if violation_reason else "feasible",
        stop_reason=violation_reason,
        reports=[{"step": 8, "cv_score_mean": value, "objective": value}],
        ended_at=1.0,
    )


@pytest.mark.slow
def test_a_resumed_sampler_draws_only_the_samples_left(ray_session, tmp_path):
    """TPE here (random search takes the same path, with a fresh seed); a resumed grid runs in
    tests/study/test_resume.py."""
    method = "tpe"
    base = {"model": "logistic", "batch_size": 16, "alpha": 1e-4}
    pending = {**base, "learning_rate": 0.0123}
    resume = ResumePoint(
        ended=[_ended({**base, "learning_rate": 0.05}, "old_00000")],
        unfinished=[("old_00001", pending)],
        session=1,
    )
    request = _request(tmp_path, method=method, num_samples=3, resume=resume)
    records = run_search(request, NeverStop(), RecordingObserver())
    assert len(records) == 2  # 3 planned, 1 ended before
    (rerun,) = [r for r in records if r.trial_id == "old_00001"]
    assert config_key(rerun.config) == config_key(pending)  # the same config, run again
    (fresh,) = [r for r in records if r is not rerun]
    assert 1e-3 <= fresh.config["learning_rate"] <= 1e-1


def test_tpe_learns_from_the_trials_that_ended_before_with_their_violations(tmp_path):
    import optuna

    base = {"model": "logistic", "batch_size": 16, "alpha": 1e-4}
    over = StopReason("constraint", "train_time_s", 1.5, 1.0, 8)
    history = [
        _ended({**base, "learning_rate": 0.05}, "a", value=0.9),
        _ended({**base, "learning_rate": 0.002}, "b", value=0.7, violation_reason=over),
        TrialRecord("c", {**base, "learning_rate": 0.01}, status="failed", ended_at=1.0),
    ]
    driver = _TuneDriver(TrialBook(NeverStop(), RecordingObserver()))
    searcher = _ConstraintAwareOptuna(
        driver,
        history=history,
        metric="objective",
        mode="max",
        sampler=optuna.samplers.TPESampler(seed=0),
    )
    from ray import tune

    space = {
        "model": tune.choice(["logistic"]),
        "batch_size": tune.choice([16]),
        "learning_rate": tune.loguniform(1e-3, 1e-1),
        "alpha": tune.choice([1e-4]),
    }
    assert searcher.set_search_properties("objective", "max", space)
    trials = searcher._ot_study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "FAIL"]
    assert [t.value for t in trials[:2]] == [0.9, 0.7]
    assert [t.user_attrs["constraint_violation"] for t in trials] == [0.0, pytest.approx(0.5), 0.0]
    assert trials[1].constraints == {"0": pytest.approx(0.5)}
    assert trials[0].params["learning_rate"] == 0.05


def test_a_resumed_trial_keeps_its_id_and_a_new_one_never_takes_an_old_id():
    observer = RecordingObserver()
    driver = TrialBook(
        NeverStop(),
        observer,
        unfinished=[("old_00003", {"learning_rate": 0.1})],
        taken=["new_00001"],  # an id an earlier session gave to a trial that ended
        session=2,
    )
    driver.started("new_00000", {"learning_rate": 0.1})
    driver.started("new_00001", {"learning_rate": 0.2})
    driver.started("new_00002", {"learning_rate": 0.3})
    assert [r.trial_id for r in driver.records.values()] == [
        "old_00003",
        "new_00001-s2",
        "new_00002",
    ]
    assert {r.session for r in driver.records.values()} == {2}


def test_tune_keeps_only_what_it_reads_of_a_result_the_driver_took():
    observer = RecordingObserver()
    driver = _TuneDriver(TrialBook(NeverStop(), observer))
    driver.started("t_00000", {"learning_rate": 0.1})
    earlier = {"step": 1, "objective": 0.5, "progress_pct": 50.0, "memory_mb": 10.0}
    result = {
        "step": 2,
        "objective": 0.6,
        "progress_pct": 100.0,
        "memory_mb": 11.0,
        "trial_status": "finished",
        "training_iteration": 1,
        "config": {"learning_rate": 0.1},
        "leantune_earlier_reports": [earlier],
    }
    assert not driver.reported("t_00000", result)
    _ObserverCallback(driver).on_trial_result(0, [], None, result)
    # Tune's copy: its searcher's and scheduler's metric and time, and its own keys.
    assert set(result) == {
        "objective",
        "progress_pct",
        "training_iteration",
        "config",
        "leantune_taken",
    }
    # When the trial's function returns, Tune hands that copy back with done=True: not a report.
    assert not driver.reported("t_00000", {**result, "done": True})
    assert [r["step"] for r in observer.reports["t_00000"]] == [1, 2]
    assert observer.reports["t_00000"][-1]["memory_mb"] == 11.0
