"""The study's sqlite MLflow store deleted while it runs: one line, and a resume that writes
every ended trial's run into a new store from the state files, so nothing is lost."""

import pytest

import leantune
from leantune.errors import LeantuneError
from leantune.study import resume_study
from leantune.study._observer import StudyObserver
from leantune.testing import tiny_spec


def test_a_deleted_store_stops_the_study_and_a_resume_rebuilds_it(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    spec = leantune.load_spec(
        tiny_spec(
            search={"space": {"batch_size": [16, 64], "learning_rate": [0.1, 0.01, 0.001]}},
            resources={"backend": "in-process"},
            output={"dir": str(run_dir), "report": False},
        )
    )
    # The store goes as the second trial ends (a user's `rm`, a cleaning job).
    ended = StudyObserver.trial_ended
    count = []

    def delete_the_store_then_end(observer, record):
        count.append(record.trial_id)
        if len(count) == 2:
            (run_dir / "mlflow.db").unlink()
        return ended(observer, record)

    monkeypatch.setattr(StudyObserver, "trial_ended", delete_the_store_then_end)
    with pytest.raises(LeantuneError) as refused:
        leantune.run(spec, show_progress=False)
    monkeypatch.setattr(StudyObserver, "trial_ended", ended)
    assert "deleted while the study ran" in str(refused.value)
    assert "--rebuild-store" in str(refused.value)
    with pytest.raises(LeantuneError, match="--rebuild-store"):
        resume_study(run_dir, show_progress=False)  # refuses to start an empty store silently
    result = resume_study(run_dir, show_progress=False, rebuild_store=True)
    assert result.summary["outcome"] == "completed" and len(result.trials) == 6

    import mlflow

    client = mlflow.MlflowClient(result.summary["tracking_uri"])
    (experiment,) = [e for e in client.search_experiments() if e.name == "tiny"]
    runs = client.search_runs([experiment.experiment_id])
    trial_runs = {r.data.tags.get("leantune.trial_id") for r in runs} - {None}
    assert trial_runs == set(result.trials.trial_id)  # every trial, the rebuilt ones too
