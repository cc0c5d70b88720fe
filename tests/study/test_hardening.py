"""Faults around a run directory, on the real engine (Ray, a sqlite MLflow store): a write that
fails mid-run, a second driver, damaged or missing state. Each ends in one clear line or in a
study that finishes with every config once; none in a traceback or duplicated records."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient
from rich.console import Console

import leantune
from leantune.errors import LeantuneError
from leantune.spec import dump_spec
from leantune.study import resume_study, run_study
from leantune.study._recording import RecordingFailed
from leantune.study._state import read_trial_entries
from leantune.testing import tiny_spec
from leantune.tracking import open_tracker

pytestmark = pytest.mark.slow

RATES = [0.1, 0.03, 0.01, 0.003, 0.001, 0.0003]


class _FailsToWriteState:
    """The real MLflow tracker, which at the third trial's start turns state/trials into a
    file: from then on every state write fails with a real OSError, as on a full or
    read-only disk (root ignores permission bits, so chmod would not do)."""

    def __init__(self, tracker: Any, run_dir: Path):
        self._tracker, self._run_dir, self._starts = tracker, run_dir, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tracker, name)

    def start_trial(self, *args: Any) -> None:
        self._tracker.start_trial(*args)
        self._starts += 1
        if self._starts == 3:
            trials = self._run_dir / "state" / "trials"
            trials.rename(self._run_dir / "state" / "trials.saved")
            trials.write_text("not a directory")


def _spec(run_dir: Path, store: Path) -> leantune.StudySpec:
    return leantune.load_spec(
        tiny_spec(
            search={"space": {"batch_size": [8], "learning_rate": RATES, "alpha": [0.0001]}},
            resources={"max_concurrent": 1},
            output={"dir": str(run_dir), "report": False},
            tracking={"uri": f"sqlite:///{store}"},
        )
    )


def _tracker(spec: leantune.StudySpec, run_dir: Path) -> Any:
    return open_tracker(spec.tracking_uri, spec.name, run_dir)


def _ended_trials(run_dir: Path) -> dict[str, dict]:
    entries = read_trial_entries(run_dir).items()
    return {trial_id: data for trial_id, data in entries if data["status"] != "running"}


def _rewrite_log(run_dir: Path, change: Callable[[list[str]], list[str]]) -> None:
    """The trials' log (state/trials/log.jsonl), its lines changed by `change`."""
    log = run_dir / "state" / "trials" / "log.jsonl"
    log.write_text("".join(change(log.read_text().splitlines(keepends=True))))


@pytest.fixture(scope="module")
def unrecordable_run(ray_session, tmp_path_factory) -> tuple[Path, Path, str]:
    """A study whose state became unwritable at its third trial: (run dir, store, message)."""
    base = tmp_path_factory.mktemp("unrecordable")
    run_dir, store = base / "run[/]x", base / "store.db"  # "[/]": printed, never Rich markup
    spec = _spec(run_dir, store)
    console = Console(file=open(os.devnull, "w"), force_terminal=False)  # noqa: SIM115
    with pytest.raises(RecordingFailed) as refused:
        run_study(
            spec,
            console=console,
            show_progress=False,
            tracker=_FailsToWriteState(_tracker(spec, base), run_dir),
        )
    # The directory mended, as a user would: the saved trials are back in place.
    (run_dir / "state" / "trials").unlink()
    (run_dir / "state" / "trials.saved").rename(run_dir / "state" / "trials")
    return run_dir, store, str(refused.value)


def test_a_run_that_cannot_write_stops_at_once_with_one_line(unrecordable_run):
    run_dir, _, message = unrecordable_run
    assert "\n" not in message
    # The trial files are written on a thread: it may meet state/trials gone (between the
    # rename and the file that takes its place) or a file there. Either is a real OSError.
    assert any(
        f"could not be written ({error}" in message
        for error in ("NotADirectoryError", "FileNotFoundError")
    )
    assert f"`leantune resume {run_dir}` finishes the study" in message
    # It stopped at once: the trials that ended before the failure, not the whole grid.
    assert len(_ended_trials(run_dir)) < len(RATES)
    assert not (run_dir / "summary.json").exists()


def _copy(run: tuple[Path, Path, str], tmp_path: Path) -> tuple[Path, Path]:
    run_dir, store, _ = run
    shutil.copytree(run_dir, tmp_path / "run")
    # sqlite's backup, not a file copy: the store's latest pages may still be in its journal.
    source, target = sqlite3.connect(store), sqlite3.connect(tmp_path / "store.db")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    spec = yaml.safe_load((tmp_path / "run" / "spec.yaml").read_text())
    spec["tracking"]["uri"] = f"sqlite:///{tmp_path / 'store.db'}"
    (tmp_path / "run" / "spec.yaml").write_text(yaml.safe_dump(spec))
    meta_path = tmp_path / "run" / "state" / "study.json"
    meta = json.loads(meta_path.read_text())
    meta["tracking_uri"] = spec["tracking"]["uri"]
    meta_path.write_text(json.dumps(meta))
    return tmp_path / "run", tmp_path / "store.db"


def _trial_runs(store: Path) -> list[Any]:
    client = MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("tiny")
    runs = client.search_runs([experiment.experiment_id])
    return [run for run in runs if "leantune.trial_id" in run.data.tags]


def test_after_the_failure_resume_finishes_with_every_config_once(unrecordable_run, tmp_path):
    run_dir, store = _copy(unrecordable_run, tmp_path)
    result = resume_study(run_dir, show_progress=False)
    configs = [r.config["learning_rate"] for r in result.records]
    assert sorted(configs) == sorted(RATES)
    runs = _trial_runs(store)
    assert sorted(r.data.tags["leantune.trial_id"] for r in runs) == sorted(
        r.trial_id for r in result.records
    )


def test_an_ended_trial_that_lost_its_reports_runs_again_under_its_id(
    unrecordable_run, tmp_path, capsys
):
    run_dir, store = _copy(unrecordable_run, tmp_path)
    trial_id = sorted(_ended_trials(run_dir))[0]

    def without_reports(lines: list[str]) -> list[str]:
        for index, line in enumerate(lines):
            data = json.loads(line)
            if data["trial_id"] == trial_id and data["status"] != "running":  # its end
                del data["reports"]
                lines[index] = json.dumps(data) + "\n"
        return lines

    _rewrite_log(run_dir, without_reports)
    console = Console(stderr=True, width=400)
    result = resume_study(run_dir, console=console, show_progress=False)
    assert f"lacks 'reports'; trial {trial_id} runs again" in capsys.readouterr().err
    again = next(r for r in result.records if r.trial_id == trial_id)
    assert again.reports and again.session == 1
    assert len(result.records) == len(RATES)
    assert len(_trial_runs(store)) == len(RATES)  # its MLflow run is reused, not doubled


def test_a_deleted_trial_file_runs_again_into_its_mlflow_run(unrecordable_run, tmp_path, capsys):
    run_dir, store = _copy(unrecordable_run, tmp_path)
    trial_id = sorted(_ended_trials(run_dir))[0]
    _rewrite_log(
        run_dir, lambda lines: [line for line in lines if json.loads(line)["trial_id"] != trial_id]
    )
    result = resume_study(run_dir, console=Console(stderr=True, width=400), show_progress=False)
    said = capsys.readouterr().err
    assert f"trial {trial_id}: MLflow holds its run, but state/trials holds no record" in said
    assert "its config, read from MLflow, runs again under its id" in said
    assert sorted(r.config["learning_rate"] for r in result.records) == sorted(RATES)
    assert trial_id in {r.trial_id for r in result.records}
    assert len(_trial_runs(store)) == len(RATES)  # not one more than the study has trials


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("study-list", "state/study.json is not a study's state (a JSON object is expected"),
        ("sessions-missing", "'sessions' must be a list of objects"),
        ("trial-empty", "is not a trial record (it lacks 'trial_id'"),
        ("trial-list", "is not a trial record (a JSON object is expected; got list)"),
        ("spec-list", "spec.yaml must be the study as it ran, a mapping of keys"),
    ],
)
def test_damaged_state_is_refused_naming_the_file_before_anything_starts(
    unrecordable_run, tmp_path, damage, expected, monkeypatch
):
    run_dir, _ = _copy(unrecordable_run, tmp_path)
    study_json = run_dir / "state" / "study.json"
    if damage == "study-list":
        study_json.write_text("[]")
    elif damage == "sessions-missing":
        meta = json.loads(study_json.read_text())
        del meta["sessions"]
        study_json.write_text(json.dumps(meta))
    elif damage == "trial-empty":
        _rewrite_log(run_dir, lambda lines: ["{}\n", *lines[1:]])
    elif damage == "trial-list":
        _rewrite_log(run_dir, lambda lines: ["[1, 2]\n", *lines[1:]])
    else:
        (run_dir / "spec.yaml").write_text("- name: tiny\n")
    monkeypatch.setattr("leantune.study._runner.start_ray", _never)
    with pytest.raises(LeantuneError) as refused:
        resume_study(run_dir, show_progress=False)
    assert expected in str(refused.value)


def _never(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("Ray was started for a study that cannot resume")


def test_a_lost_default_store_is_refused_before_ray_starts(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    spec = leantune.load_spec(tiny_spec(output={"dir": str(run_dir), "report": False}))
    (run_dir / "spec.yaml").write_text(dump_spec(spec))
    from leantune.study._prepare import prepare_study
    from leantune.study._state import StudyState, dataset_fingerprint

    prepared = prepare_study(spec, resume=True)
    StudyState.create(
        run_dir,
        study="tiny",
        parent_run_id="abc123",
        tracking_uri=f"sqlite:///{run_dir / 'mlflow.db'}",
        cwd=str(tmp_path),
        dataset_fingerprint=dataset_fingerprint(prepared.dataset.X, prepared.dataset.y),
    )
    monkeypatch.setattr("leantune.study._runner.start_ray", _never)
    monkeypatch.setattr("leantune.study._runner.open_tracker", _never)
    with pytest.raises(LeantuneError, match=r"mlflow\.db is gone, but the study logs to it"):
        resume_study(run_dir, show_progress=False)
    assert not (run_dir / "mlflow.db").exists()


_HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from leantune.study._lock import own_run_dir
    with own_run_dir(Path(sys.argv[1])):
        print("held", flush=True)
        time.sleep(120)
    """
)


def test_a_second_driver_is_refused_with_the_holders_pid_and_a_dead_ones_lock_is_taken(
    unrecordable_run, tmp_path
):
    run_dir, store = _copy(unrecordable_run, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LeantuneError, match=f"another leantune process \\(PID {holder.pid}\\)"):
            resume_study(run_dir, show_progress=False)
        assert (
            json.loads((run_dir / "state" / "study.json").read_text())["sessions"][-1]["outcome"]
            != "killed"
        )  # the refused resume marked nothing
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The holder died without a word: its lock went with it, and the next driver takes over.
    result = resume_study(run_dir, show_progress=False)
    assert len(result.records) == len(RATES)
    assert len(_trial_runs(store)) == len(RATES)


def test_a_second_run_into_a_driven_directory_is_refused(tmp_path, ray_session):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        spec = _spec(run_dir, tmp_path / "store.db")
        with pytest.raises(LeantuneError, match=f"PID {holder.pid}"):
            run_study(spec, show_progress=False)
        assert [p.name for p in run_dir.iterdir()] == [".leantune.lock"]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def _immutable(path: Path, on: bool) -> bool:
    flag = "+i" if on else "-i"
    done = subprocess.run(["chattr", "-R", flag, str(path)], capture_output=True)
    return done.returncode == 0


@pytest.mark.system
def test_state_made_immutable_mid_run_stops_with_one_line_and_exit_2(tmp_path):
    """`chattr +i` on the run directory's state while trials run (root ignores permission
    bits; an immutable file it cannot write). One line, exit 2, and `leantune resume` finishes
    once the flag is gone. (The sqlite store is left writable: sqlite in WAL mode dies of
    SIGBUS when its shared-memory file turns immutable under it, which no handler can turn
    into a line.)"""
    probe = tmp_path / "probe"
    probe.mkdir()
    if not _immutable(probe, True):
        pytest.skip("chattr +i is not available here")
    _immutable(probe, False)
    study = tmp_path / "study.yaml"
    spec = tiny_spec(
        search={"space": {"batch_size": [1], "learning_rate": RATES, "alpha": [0.0001]}},
        training={"epochs": 3, "report_every": 20},
        resources={"max_concurrent": 1},
        output={"dir": "run", "report": False},
    )
    study.write_text(yaml.safe_dump(spec))
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "leantune", "run", str(study), "--quiet"]
    process = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        while not _ended_trials(run_dir) if (run_dir / "state" / "trials").is_dir() else True:
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.2)
        _immutable(run_dir / "state", True)
        _, stderr = process.communicate(timeout=300)
    finally:
        _immutable(run_dir / "state", False)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 2, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "could not be written" in errors[0]
    assert len(_ended_trials(run_dir)) < len(RATES)
    finish = subprocess.run(
        [sys.executable, "-m", "leantune", "resume", str(run_dir), "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finish.returncode == 0, finish.stderr
    assert len(_ended_trials(run_dir)) == len(RATES)
