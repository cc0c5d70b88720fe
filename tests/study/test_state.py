"""The run directory's state: atomic files, records that round-trip, and a resume that refuses
what it cannot finish before anything starts."""

import json
import math

import pytest

import leantune
from leantune.engine import TrialRecord
from leantune.errors import LeantuneError
from leantune.spec import dump_spec
from leantune.stoppers import StopReason
from leantune.study import resume_study
from leantune.study._state import (
    StudyState,
    TrialLogWriter,
    record_from_dict,
    record_to_dict,
    write_json_atomic,
)
from leantune.testing import tiny_spec


def test_a_record_round_trips_with_its_stop_reason_and_odd_values():
    record = TrialRecord(
        "t1",
        {"model": "logistic", "batch_size": 8, "learning_rate": 1e-4, "alpha": 0.0},
        status="stopped",
        stop_reason=StopReason("constraint", "memory_mb", 512.5, 500.0, 40),
        reports=[{"step": 40, "val_loss": math.nan, "train_loss": math.inf, "fold_finished": True}],
        ended_at=12.5,
        attempts=2,
        attempt_errors=["InjectedFault: x"],
        node_id="abc",
        worker_pid=42,
        session=1,
    )
    again = record_from_dict(json.loads(json.dumps(record_to_dict(record))))
    assert again.stop_reason == record.stop_reason
    assert math.isnan(again.reports[0]["val_loss"]) and again.reports[0]["train_loss"] == math.inf
    again.reports[0]["val_loss"] = record.reports[0]["val_loss"]  # NaN != NaN
    assert again == record


def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "study.json"
    write_json_atomic(path, {"outcome": "running"})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"outcome": object.__new__(type("Bad", (), {"item": 1}))})
    assert json.loads(path.read_text()) == {"outcome": "running"}
    assert [p.name for p in tmp_path.iterdir()] == ["study.json"]  # no temporary left behind


def test_a_running_trial_is_saved_without_its_reports(tmp_path):
    state = StudyState.create(tmp_path, study="s")
    record = TrialRecord("t1", {"learning_rate": 0.1}, reports=[{"step": 5}])
    state.save_trial(record)
    ended, unfinished = state.load_trials()
    assert ended == [] and [r.trial_id for r in unfinished] == ["t1"]
    assert unfinished[0].reports == []  # a trial that runs again reports again
    record.status, record.ended_at = "feasible", 3.0
    state.save_trial(record)
    ended, unfinished = state.load_trials()
    assert [r.reports for r in ended] == [[{"step": 5}]] and unfinished == []


def test_trial_files_written_off_the_loop_come_back_in_order_once_on_disk(tmp_path):
    state = StudyState.create(tmp_path, study="s")
    files = TrialLogWriter(state)
    records = [TrialRecord(f"t{i}", {"learning_rate": 0.1}) for i in range(5)]
    for record in records:
        files.save(record)  # started: nothing to hand back
    for record in records:
        record.reports.append({"step": 5})
        record.status, record.ended_at = "feasible", 3.0
        files.save(record, then=record.trial_id)
        record.reports = []  # what the book does once the file is given (slimmed)
    assert files.flush() == [r.trial_id for r in records]
    ended, unfinished = state.load_trials()
    assert [r.trial_id for r in ended] == [r.trial_id for r in records] and unfinished == []
    assert all(r.reports == [{"step": 5}] for r in ended)  # as the trial was when saved


def test_a_trial_file_that_cannot_be_written_is_raised_to_the_driver(tmp_path):
    state = StudyState.create(tmp_path, study="s")
    files = TrialLogWriter(state)
    record = TrialRecord("t1", {"learning_rate": object.__new__(type("Bad", (), {"item": 1}))})
    record.ended_at = 1.0
    files.save(record, then="t1")
    with pytest.raises(TypeError):
        files.flush()  # and nothing is handed back for MLflow


def test_sessions_say_how_each_run_ended_even_a_killed_one(tmp_path):
    state = StudyState.create(tmp_path, study="s")
    assert state.begin_session() == 0  # then the driver is killed: no end_session
    again = StudyState.open(tmp_path)
    assert again.begin_session() == 1
    again.end_session("completed", wall_time_s=2.0, driver_cpu_s=1.0)
    meta = json.loads((tmp_path / "state" / "study.json").read_text())
    assert [s["outcome"] for s in meta["sessions"]] == ["killed", "completed"]


def _interrupted_run(tmp_path, **spec_changes):
    """A run directory as an interrupted study leaves it, without running one."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    spec = leantune.load_spec(
        tiny_spec(output={"dir": str(run_dir), "report": False}, **spec_changes)
    )
    (run_dir / "spec.yaml").write_text(dump_spec(spec))
    StudyState.create(run_dir, study="tiny", dataset_fingerprint="not-this-data")
    return run_dir


def test_resume_refuses_a_directory_that_is_not_a_run(tmp_path):
    with pytest.raises(LeantuneError, match="holds no state/study.json"):
        resume_study(tmp_path)
    with pytest.raises(LeantuneError, match="is not a directory"):
        resume_study(tmp_path / "nope")


def test_resume_refuses_data_that_changed_since_the_study_began(tmp_path):
    run_dir = _interrupted_run(tmp_path)
    with pytest.raises(LeantuneError, match="differs from the data the study"):
        resume_study(run_dir)


def test_resume_refuses_a_completed_study(tmp_path):
    run_dir = _interrupted_run(tmp_path)
    state = StudyState.open(run_dir)
    state.meta["outcome"] = "completed"
    state.save_meta()
    with pytest.raises(LeantuneError, match="already completed"):
        resume_study(run_dir)


def _tied(trial_id, model, batch_size, rate, train_time_s, steps):
    last = {"cv_score_mean": 0.97, "train_time_s": train_time_s, "steps_planned": steps}
    config = {"model": model, "batch_size": batch_size, "learning_rate": rate, "alpha": 1e-4}
    return TrialRecord(trial_id, config, status="feasible", reports=[last], ended_at=1.0)


def test_a_tie_goes_to_the_cheapest_by_its_cost_twins_median():
    from leantune.study._results import best_feasible

    # Equal scores: the measured cost decides, not the planned steps.
    slow_big_batch = _tied("a", "logistic", 64, 0.1, train_time_s=9.0, steps=100)
    fast_small_batch = _tied("b", "logistic", 8, 0.1, train_time_s=1.0, steps=800)
    assert best_feasible([fast_small_batch, slow_big_batch], "classification").trial_id == "b"
    # The cost twins' median decides, then the config's order; the record order and each
    # trial's own time never do.
    twins = [
        _tied(f"t{i}", "logistic", 8, rate, t, 800)
        for i, (rate, t) in enumerate([(0.1, 5.0), (0.01, 0.5), (0.001, 3.0)])
    ]
    other = _tied("svm", "svm", 8, 0.1, train_time_s=2.0, steps=800)
    for order in ([*twins, other], [other, *reversed(twins)]):
        assert best_feasible(order, "classification").trial_id == "svm"  # median 2.0 < 3.0
    # Among twins the config order decides: t1 measured fastest, and does not win.
    for order in (twins, twins[::-1]):
        assert best_feasible(order, "classification").trial_id == "t2"


def test_the_pick_follows_the_objective_and_its_mode():
    from leantune.metrics import Objective
    from leantune.study._results import best_feasible

    def trial(trial_id, accuracy, latency, status="feasible"):
        last = {"cv_score_mean": accuracy, "inference_latency_ms": latency, "steps_planned": 4}
        config = {"model": "logistic", "batch_size": 8, "learning_rate": 0.1, "alpha": 1e-4}
        return TrialRecord(trial_id, config, status=status, reports=[last], ended_at=1.0)

    records = [
        trial("accurate", 0.95, 0.004),
        trial("fast", 0.85, 0.001),
        trial("fastest but under the floor", 0.7, 0.0005, status="infeasible"),
        trial("no value", 0.9, float("nan")),
    ]
    assert best_feasible(records, Objective("inference_latency_ms", "min")).trial_id == "fast"
    assert best_feasible(records, Objective("val_accuracy", "max")).trial_id == "accurate"
    assert best_feasible(records, Objective("val_accuracy", "min")).trial_id == "fast"
    assert best_feasible(records, "classification").trial_id == "accurate"


def test_the_study_run_joins_the_state_once_and_is_saved(tmp_path):
    state = StudyState.create(tmp_path, study="s", parent_run_id=None, tracking_uri="sqlite:///x")
    state.set_parent_run(None)  # a tracker that records nothing has no run
    assert StudyState.open(tmp_path).meta["parent_run_id"] is None
    state.set_parent_run("run-1")
    assert StudyState.open(tmp_path).meta["parent_run_id"] == "run-1"


def _ended(trial_id, step=5):
    config = {"model": "logistic", "batch_size": 8, "learning_rate": 0.1, "alpha": 1e-4}
    record = TrialRecord(trial_id, config, reports=[{"step": step}])
    record.status, record.ended_at = "feasible", 3.0
    return record


def test_a_trials_last_line_in_the_log_says_where_it_stands(tmp_path):
    state = StudyState.create(tmp_path, study="s")
    running = TrialRecord("t1", {"learning_rate": 0.1})
    state.save_trial(running)
    assert [r.trial_id for r in state.load_trials()[1]] == ["t1"]  # running
    state.save_trial(_ended("t1"))
    state.save_trial(_ended("t2", step=7))
    # One log, its lines appended: no file a trial.
    assert [p.name for p in (tmp_path / "state" / "trials").iterdir()] == ["log.jsonl"]
    ended, unfinished = state.load_trials()
    assert [r.trial_id for r in ended] == ["t1", "t2"] and unfinished == []
    # The book keeps only some reports once a trial is saved: every one is read back.
    slim = TrialRecord("t2", {"learning_rate": 0.1})
    assert state.reports_of(slim) == [{"step": 7}]


def test_a_log_line_cut_short_is_left_out_said_and_cut_off_by_the_next_append(tmp_path):
    state = StudyState.create(tmp_path, study="s")
    state.save_trial(_ended("t1"))
    log = tmp_path / "state" / "trials" / "log.jsonl"
    whole = log.read_bytes()
    with open(log, "ab") as stream:  # a driver killed while appending t2's line
        stream.write(b'{"trial_id": "t2", "config": {"learn')
    resumed = StudyState.open(tmp_path)
    ended, _ = resumed.load_trials()
    assert [r.trial_id for r in ended] == ["t1"]
    assert resumed.repaired == [
        "state/trials/log.jsonl: its last line was cut short (the study was stopped while "
        "writing it); the trial it held runs again"
    ]
    resumed.save_trial(_ended("t3"))  # the next session's first end
    assert log.read_bytes().startswith(whole) and log.read_bytes().count(b"\n") == 2
    ended, _ = resumed.load_trials()
    assert [r.trial_id for r in ended] == ["t1", "t3"] and resumed.repaired == []


def test_a_damaged_log_line_is_refused_naming_its_line_or_runs_its_trial_again(tmp_path):
    state = StudyState.create(tmp_path, study="s")
    for trial_id in ("t1", "t2"):
        state.save_trial(_ended(trial_id))
    log = tmp_path / "state" / "trials" / "log.jsonl"
    first, second = log.read_text().splitlines(keepends=True)
    without_status = json.loads(second)
    del without_status["status"]
    log.write_text(first + json.dumps(without_status) + "\n")
    ended, unfinished = state.load_trials()
    assert [r.trial_id for r in ended] == ["t1"] and [r.trial_id for r in unfinished] == ["t2"]
    assert state.repaired == [
        "state/trials/log.jsonl line 2: it lacks 'status'; trial t2 runs again"
    ]
    log.write_text("not json\n" + second)
    with pytest.raises(LeantuneError, match=r"log\.jsonl line 1 cannot be read"):
        state.load_trials()


def test_a_format_1_directory_with_a_file_per_ended_trial_still_resumes(tmp_path):
    state = StudyState.create(tmp_path, study="s")
    state.meta["format"] = 1
    state.save_meta()
    write_json_atomic(tmp_path / "state" / "trials" / "t1.json", record_to_dict(_ended("t1")))
    again = StudyState.open(tmp_path)
    ended, unfinished = again.load_trials()
    assert [r.trial_id for r in ended] == ["t1"] and unfinished == []
    assert again.reports_of(TrialRecord("t1", {})) == [{"step": 5}]
    again.begin_session()  # it goes on in the log: a leantune reading only files refuses it
    assert StudyState.open(tmp_path).meta["format"] == 2


def test_a_log_line_nested_too_deep_is_refused_in_one_line(tmp_path):
    """A tampered log: JSON nested past Python's recursion limit raises RecursionError, which
    must end a resume with the line's name, not a traceback."""
    state = StudyState.create(tmp_path, study="s")
    state.save_trial(_ended("t1"))
    with open(tmp_path / "state" / "trials" / "log.jsonl", "a") as stream:
        stream.write("[" * 200_000 + "\n")
    with pytest.raises(LeantuneError, match=r"log\.jsonl line 2 cannot be read"):
        state.load_trials()
