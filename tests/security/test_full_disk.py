"""A run directory on a full disk (a 3 MiB tmpfs): the study ends with one error line naming the
directory, exit code 2; once there is room, `leantune resume` finishes it with every config once.
Needs root (to mount the tmpfs); skipped otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from leantune.testing import tiny_spec

# A whole-system scenario (a mounted filesystem, `leantune run` then `leantune resume` as real
# processes, ~35 s): `make test-system` and CI run it.
pytestmark = [pytest.mark.slow, pytest.mark.system]

SPACE = {"batch_size": [1, 2, 4, 8, 16, 32], "learning_rate": [0.1, 0.01, 0.001], "alpha": [1e-4]}


def _mount(point: Path, size: str, *, remount: bool = False) -> bool:
    options = f"remount,size={size}" if remount else f"size={size}"
    command = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)]
    return subprocess.run(command, capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    point = tmp_path_factory.mktemp("disk")
    if not _mount(point, "3m"):
        pytest.skip("cannot mount a tmpfs here (a container without CAP_SYS_ADMIN?)")
    work = tmp_path_factory.mktemp("work")
    spec = tiny_spec(output={"dir": str(point / "run"), "report": False})
    spec["search"]["space"] = SPACE
    (work / "study.yaml").write_text(yaml.safe_dump(spec))
    ran = _leantune(work, "run", "study.yaml")
    _mount(point, "200m", remount=True)
    resumed = _leantune(work, "resume", str(point / "run"))
    yield point / "run", ran, resumed
    subprocess.run(["umount", str(point)], capture_output=True)


def _leantune(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leantune", *args, "-q"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "300"},
    )


def test_a_full_disk_ends_the_study_with_a_line_naming_the_directory(full_disk):
    run_dir, ran, _ = full_disk
    assert ran.returncode == 2, ran.stderr[-3000:]
    last = ran.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: RUN_DIR: '{run_dir}' could not be written")
    assert "No space left on device" in last and "leantune resume" in last


def test_once_there_is_room_the_study_resumes_with_every_config_once(full_disk):
    run_dir, _, resumed = full_disk
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    trials = pd.read_csv(run_dir / "trials.csv")
    configs = trials[["batch_size", "learning_rate"]].drop_duplicates()
    assert len(trials) == len(configs) == 18


def test_a_full_disk_prints_no_traceback(full_disk):
    _, ran, _ = full_disk
    assert "Traceback" not in ran.stderr
