"""Ctrl-C and SIGTERM end a study gracefully: what ended is saved, nothing is left RUNNING."""

import json
import signal
import subprocess
import sys
import time

import pytest
import yaml
from mlflow.tracking import MlflowClient

from leantune.testing import tiny_spec

pytestmark = [pytest.mark.slow, pytest.mark.system]


# SIGTERM to a driver that started its own local Ray: Ray installs a SIGTERM handler of its
# own, which the engine must replace. SIGINT, and SIGTERM to a driver that joined a running Ray,
# are sent in tests/study/test_resume.py, which then resumes the study.
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM])
def test_an_interrupted_study_saves_what_ended_and_exits_130(tmp_path, stop_signal):
    spec = tiny_spec(
        search={
            "space": {
                "batch_size": [1],
                "learning_rate": [0.1, 0.01, 0.001, 0.0001],
                "alpha": [0.0001],
            }
        },
        training={"epochs": 30, "report_every": 200, "seed": 0},
        resources={"max_concurrent": 1},
        output={"dir": str(tmp_path / "run"), "report": False},
    )
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump(spec))
    process = subprocess.Popen(
        [sys.executable, "-m", "leantune", "run", str(study), "--quiet"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_dir = tmp_path / "run"
    deadline = time.monotonic() + 60
    while not (run_dir / "ray").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(4)  # Ray is up and the first trial is training
    process.send_signal(stop_signal)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["outcome"] == "interrupted" and summary["best"] is None
    assert summary["trials"] < 4
    assert (run_dir / "trials.csv").is_file()
    client = MlflowClient(summary["tracking_uri"])
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert runs and all(run.info.status != "RUNNING" for run in runs)
