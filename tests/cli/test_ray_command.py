"""`leantune ray start | stop`: a local Ray kept between studies, which studies join."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from leantune.study._state import read_trial_entries
from leantune.testing import tiny_spec

pytestmark = [pytest.mark.slow, pytest.mark.system]


def _leantune(*args, env, cwd):
    return subprocess.run(
        [sys.executable, "-m", "leantune", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_a_study_joins_the_started_ray_and_stop_ends_only_that_ray(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    state_file = tmp_path / "cache" / "leantune" / "ray.json"
    started = _leantune("ray", "start", "--cpus", "2", env=env, cwd=tmp_path)
    try:
        assert started.returncode == 0, started.stderr
        state = json.loads(state_file.read_text())
        assert state_file.stat().st_mode & 0o077 == 0  # the token is the user's alone
        study = tmp_path / "study.yaml"
        spec = tiny_spec(
            search={"space": {"batch_size": [64], "learning_rate": [0.01], "alpha": [0.0001]}},
            output={"dir": str(tmp_path / "run"), "report": False},
        )
        study.write_text(yaml.safe_dump(spec))
        ran = _leantune("run", "-q", str(study), env=env, cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        (trial,) = read_trial_entries(tmp_path / "run").values()
        assert trial["node_id"] == state["node_id"]
        # The study only disconnected: the Ray it joined still runs.
        os.kill(state["pid"], 0)
    finally:
        stopped = _leantune("ray", "stop", env=env, cwd=tmp_path)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not state_file.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(state["pid"], 0)
    again = _leantune("ray", "stop", env=env, cwd=tmp_path)
    assert again.returncode == 0 and "no Ray" in again.stdout
