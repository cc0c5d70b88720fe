"""`leantune ui`: a bad or busy port is refused before the server starts, and stopping the
command ends the whole server (mlflow, uvicorn and its workers), not only its first process."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest
from typer.testing import CliRunner

from leantune.cli import app
from leantune.tracking import open_tracker


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ui")
    open_tracker(None, "ui", directory)  # a real, empty sqlite store: RUN_DIR/mlflow.db
    return directory


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_a_port_out_of_range_is_refused(run_dir, port):
    result = CliRunner().invoke(app, ["ui", str(run_dir), "--port", port])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.replace("│", " ").split())
    assert "Invalid value for '--port'" in said and "Traceback" not in said
    assert "Traceback" not in result.output


def test_a_busy_port_is_refused_before_the_server_starts(run_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["ui", str(run_dir), "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert f"--port: must be a free port on 127.0.0.1; got {port}, which is taken" in (
        " ".join(result.output.split())
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.system
@pytest.mark.slow
def test_sigterm_ends_the_whole_server(run_dir):
    port = _free_port()
    command = [sys.executable, "-m", "leantune", "ui", str(run_dir), "--port", str(port)]
    # Started as a background job of a non-interactive shell is (nohup, CI runners): with
    # SIGINT ignored, which Python then leaves ignored. SIGTERM must stop it all the same.
    ui = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        # MLflow's server took ~90 s to answer on a busy 2-core machine.
        deadline = time.monotonic() + 240
        while True:
            assert ui.poll() is None, "leantune ui exited before serving"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the MLflow UI never answered"
                time.sleep(0.5)
        server = psutil.Process(ui.pid).children(recursive=True)
        assert server, "the MLflow UI runs in child processes"
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=180)  # MLflow's workers take a while to stop under load
        _, alive = psutil.wait_procs(server, timeout=30)
        assert not alive, f"still serving after SIGTERM: {alive}"
    finally:
        if ui.poll() is None:
            ui.kill()


def test_the_ui_opens_on_the_study_run_in_the_model_training_view(tmp_path):
    import json

    from leantune.cli._app import _study_run_id
    from leantune.tracking import default_uri, ui_page

    tracker = open_tracker(None, "ui", tmp_path)
    tracker.start_study("s", {}, {}, "")
    run_id = tracker.parent_run_id
    tracker.close()
    assert _study_run_id(tmp_path) is None
    # while the study runs, its state names the run; once it ended, its summary does
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "study.json").write_text(json.dumps({"parent_run_id": run_id}))
    assert _study_run_id(tmp_path) == run_id
    page = ui_page(default_uri(tmp_path), run_id)
    assert page.startswith("#/experiments/") and page.endswith(
        f"/runs/{run_id}?workflowType=machine_learning"
    )
    assert ui_page(default_uri(tmp_path), "no-such-run") == (
        "#/experiments?workflowType=machine_learning"
    )
