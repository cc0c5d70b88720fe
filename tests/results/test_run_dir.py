"""RunDir: every file of a run directory read and written through one typed owner, and a run
directory written by the previous leantune (main at 7841bb0) read back whole."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import leantune
from leantune.errors import LeantuneError
from leantune.report import load_run, write_run_report
from leantune.results import Ledger, RunDir, Summary
from leantune.spec import StudySpec, dump_spec, load_spec

# `leantune run examples/quickstart.yaml` (in-process backend, no report) at commit 7841bb0:
# summary.json, trials.csv/.parquet, reports.parquet, ledger.json, spec.yaml, state/, model/.
OLD_RUN = Path(__file__).parent / "data" / "run_7841bb0"


@pytest.fixture
def old_run(tmp_path) -> RunDir:
    return RunDir(shutil.copytree(OLD_RUN, tmp_path / "run"))


def test_a_run_directory_from_the_previous_version_reads_as_typed_files(old_run):
    summary = old_run.read_summary()
    assert isinstance(summary, Summary)
    assert summary.best is not None and summary.best.trial_id == "trial_0_00015"
    assert summary.status_counts["feasible"] >= 1
    ledger = old_run.read_ledger()
    assert isinstance(ledger, Ledger)
    assert ledger.trials and ledger.spent_cpu_s == pytest.approx(summary.ledger["spent_cpu_s"])
    spec = old_run.read_spec()
    assert isinstance(spec, StudySpec) and spec.name == "quickstart"
    trials = old_run.read_trials()
    assert len(trials) == summary.trials
    assert set(old_run.read_reports(["step"]).columns) == {"trial_id", "step"}
    assert old_run.is_run and not old_run.is_comparison and not old_run.is_thesis
    assert old_run.study_state_file.is_file()


def test_the_previous_versions_directory_loads_and_rebuilds_its_report(old_run):
    run = load_run(old_run.path)
    assert run.best is not None and run.best.trial_id == "trial_0_00015"
    assert run.seed == 0 and run.backend == "sklearn"
    written = write_run_report(old_run.path)
    assert written.html == old_run.report_html and old_run.report_html.is_file()
    loaded = leantune.load(old_run.path)
    assert loaded.final is not None and loaded.final.estimator is not None
    assert loaded.summary["best"]["trial_id"] == "trial_0_00015"


def test_the_trials_table_reads_back_to_one_schema_from_either_file(old_run, tmp_path):
    from_parquet = old_run.read_trials()
    csv_only = RunDir(tmp_path / "csv")
    csv_only.path.mkdir()
    shutil.copy(old_run.trials_csv, csv_only.trials_csv)
    from_csv = csv_only.read_trials()
    assert list(from_csv.columns) == list(from_parquet.columns)
    assert (from_csv["status"] == from_parquet["status"]).all()
    # Text columns never hold NaN, whichever file they came from.
    for frame in (from_csv, from_parquet):
        assert not frame["stop_label"].isna().any()


def test_a_summary_written_and_read_back_is_the_same_model(old_run, tmp_path):
    summary = old_run.read_summary()
    summary.sessions = 2  # set after it was built: checked again when written
    target = RunDir(tmp_path / "copy")
    target.path.mkdir()
    target.write_summary(summary)
    assert target.read_summary() == summary


def test_a_summary_missing_a_key_is_refused_with_the_key_named(old_run):
    text = old_run.summary_file.read_text().replace('"trials":', '"trials_renamed":', 1)
    old_run.summary_file.write_text(text)
    with pytest.raises(LeantuneError, match=r"summary\.json: trials: Field required"):
        old_run.read_summary()


def test_a_tampered_near_limit_entry_is_refused_with_the_field_named(old_run):
    """The CLI and the report read each entry's fields: a hand-edited summary gets one line
    per problem, not a KeyError from deep inside the report."""
    summary = json.loads(old_run.summary_file.read_text())
    summary["near_limits"] = [{"config": {}, "status": "feasible", "metric": "train_time_s"}]
    old_run.summary_file.write_text(json.dumps(summary))
    with pytest.raises(LeantuneError, match=r"near_limits\.0\.trial_id: Field required"):
        old_run.read_summary()


def test_a_stored_spec_with_max_steps_reads_back_old_and_new(tmp_path):
    spec = load_spec(
        {
            "name": "steps",
            "dataset": {"source": "sklearn", "name": "iris"},
            "model": "logistic",
            "training": {"max_steps": 3},
        }
    )
    run = RunDir(tmp_path)
    run.write_spec(dump_spec(spec))
    assert run.read_spec().training.max_steps == 3
    # The previous writer put epochs beside max_steps, a pair the model refuses.
    run.write_spec(dump_spec(spec).replace("max_steps: 3", "max_steps: 3\n  epochs: 1"))
    assert run.read_spec().training.max_steps == 3


def test_a_directory_with_no_ledger_reads_an_empty_one(tmp_path):
    assert RunDir(tmp_path).read_ledger() == Ledger()
    assert RunDir(tmp_path).read_spec() is None
    assert RunDir(tmp_path).read_reports(["step"]).empty


def test_every_path_lies_in_the_directory(tmp_path):
    run = RunDir(tmp_path)
    paths = [
        getattr(run, name)
        for name in dir(RunDir)
        if isinstance(getattr(RunDir, name), property) and isinstance(getattr(run, name), Path)
    ]
    assert len(paths) == len(set(paths)) >= 15
    assert all(tmp_path in p.parents for p in paths)
