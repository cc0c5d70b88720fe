"""A password in a tracking URI is never shown nor kept: not in an error line, not in any output
of a study, not in any file it writes (run directory, MLflow store). Connecting still uses it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from leantune._redact import redact
from leantune.testing import tiny_spec

PASSWORD = "S3cret-Pa55word"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("postgresql://alice:S3cret@host/db", "postgresql://alice:***@host/db"),
        ("http://alice:p@ss@127.0.0.1:5000/x", "http://alice:***@127.0.0.1:5000/x"),
        ("mysql+pymysql://bob:pw@h:3306/db", "mysql+pymysql://bob:***@h:3306/db"),
        (
            "got 'https://u:tok@h/' and 'http://v:w@k'",
            "got 'https://u:***@h/' and 'http://v:***@k'",
        ),
        ("mssql://h/db?user=a&password=pw&x=1", "mssql://h/db?user=a&password=***&x=1"),
        ("postgresql://alice@host/db", "postgresql://alice@host/db"),  # a user is no secret
        ("sqlite:///runs/mlflow.db", "sqlite:///runs/mlflow.db"),
    ],
)
def test_a_uri_loses_its_password_and_nothing_else(given, shown):
    assert redact(given) == shown


def _leantune(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leantune", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )


@pytest.mark.parametrize(
    "uri",
    [
        f"postgresql://alice:{PASSWORD}@127.0.0.1:1/db",
        f"http://alice:{PASSWORD}@127.0.0.1:1",
        f"mysql://alice:{PASSWORD}@127.0.0.1:1/db",
        f"ftp://alice:{PASSWORD}@host/store",
    ],
)
def test_validate_refuses_an_unreachable_store_without_printing_its_password(tmp_path, uri):
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(tiny_spec()))

    result = _leantune("validate", "study.yaml", "--set", f"tracking.uri={uri}", cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert "tracking.uri" in result.stderr and "alice:***@" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.yaml"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """`mlflow server` on a sqlite store, without authentication: it ignores the credentials,
    so a study can really connect with a URI that holds a password."""
    store = tmp_path / "server"
    store.mkdir()
    port = _free_port()
    log = (store / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
            "--artifacts-destination", (store / "artifacts").as_uri(),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.skip(f"mlflow server did not start: {(store / 'server.log').read_text()}")
            time.sleep(0.5)
    yield port, store
    server.terminate()
    server.wait(timeout=30)
    log.close()


@pytest.mark.slow
@pytest.mark.system  # a real MLflow server and a real `leantune run` (~45 s): `make test-system`
def test_a_study_on_a_store_with_a_password_keeps_it_nowhere(tmp_path, mlflow_server):
    port, store = mlflow_server
    work = tmp_path / "work"
    work.mkdir()
    spec = tiny_spec(output={"dir": "run", "report": True})
    (work / "study.yaml").write_text(yaml.safe_dump(spec))
    uri = f"http://alice:{PASSWORD}@127.0.0.1:{port}"

    ran = _leantune("run", "study.yaml", "--set", f"tracking.uri={uri}", cwd=work, timeout=300)

    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "alice:***@" in (work / "run" / "summary.json").read_text()  # it connected
    assert PASSWORD not in ran.stdout + ran.stderr
    leaked = [
        str(path)
        for path in [*work.rglob("*"), *store.rglob("*")]
        if path.is_file() and PASSWORD.encode() in path.read_bytes()
    ]
    assert leaked == []
