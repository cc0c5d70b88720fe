"""The pre-flight shared by `validate` and `run`: every check is bounded in time and writes
nothing. (The refusals themselves are in tests/spec/refused, run through the CLI.)"""

from __future__ import annotations

import socket
import threading

import pytest

import leantune
from leantune.errors import SpecError
from leantune.study import _preflight
from leantune.study._preflight import preflight
from leantune.testing import tiny_spec


def _spec(**sections):
    return leantune.load_spec(tiny_spec(**sections))


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers: the case a timeout is for."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_a_tracking_server_that_never_answers_is_an_error_not_a_hang(
    silent_server, tmp_path, monkeypatch
):
    monkeypatch.setattr(_preflight, "PROBE_TIMEOUT_S", 0.5)
    uri = f"http://127.0.0.1:{silent_server}"
    with pytest.raises(SpecError) as refused:
        preflight(_spec(tracking={"uri": uri}), tmp_path / "run")
    assert "tracking.uri: the MLflow server does not answer" in str(refused.value)
    assert "timed out" in str(refused.value)
    assert not (tmp_path / "run").exists()


def test_a_port_that_accepts_but_is_no_ray_cluster_is_refused_in_bounded_time(
    silent_server, tmp_path, monkeypatch
):
    # ray.init itself would wait for minutes here.
    monkeypatch.setattr(_preflight, "PROBE_TIMEOUT_S", 0.5)
    spec = _spec(resources={"ray_address": f"127.0.0.1:{silent_server}"})
    with pytest.raises(SpecError, match="but it does not answer as a Ray cluster"):
        preflight(spec, tmp_path / "run")


def test_a_running_ray_cluster_passes(ray_session, tmp_path):
    address = ray_session.get_runtime_context().gcs_address
    preflight(_spec(resources={"ray_address": address}), tmp_path / "run")


def test_auto_without_a_running_cluster_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(_preflight, "_current_cluster", lambda: None)
    with pytest.raises(SpecError, match="'auto' joins the Ray cluster running on this machine"):
        preflight(_spec(resources={"ray_address": "auto"}), tmp_path / "run")


def test_auto_probes_the_address_it_stands_for(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")
    with pytest.raises(SpecError, match=r"no Ray cluster answers there \(tried 127.0.0.1:9"):
        preflight(_spec(resources={"ray_address": "auto"}), tmp_path / "run")


def test_every_problem_is_one_line_and_all_are_named_together(tmp_path):
    spec = _spec(
        output={"dir": str(tmp_path / "a\nb")},
        tracking={"uri": "htp://x"},
        resources={"ray_address": "nowhere"},
    )
    with pytest.raises(SpecError) as refused:
        preflight(spec, spec.output.dir)
    fields = [line.split(":")[0] for line in refused.value.problems]
    assert fields == ["output.dir", "tracking.uri", "resources.ray_address"]
    assert all("\n" not in line for line in refused.value.problems)


def test_a_creatable_directory_passes_and_is_not_left_behind(tmp_path):
    target = tmp_path / "deep" / "er" / "run"
    preflight(_spec(), target)
    assert list(tmp_path.iterdir()) == []


def test_resume_needs_a_writable_run_directory(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(SpecError, match="RUN_DIR: .* cannot be written"):
        preflight(_spec(), tmp_path / "file", resume=True)
