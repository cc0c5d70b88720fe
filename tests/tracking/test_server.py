"""The team setup of docs/tracking.md, for real on localhost: PostgreSQL as MLflow's backend
store, `mlflow server` in front of it, and a study logging to `tracking.uri: http://...`.

PostgreSQL comes from the system (Debian's `postgresql`; .ci/run installs it when missing).
Without its binaries the test is skipped and says how to get them.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.system]


def _postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; as root, run it as the `postgres` system user."""
    if os.geteuid() != 0:
        return command
    import pwd

    runuser = shutil.which("runuser")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        runuser = None
    if runuser is None:
        pytest.skip(
            "running as root without `runuser` or a `postgres` user (Debian's package makes "
            "one): PostgreSQL refuses to run as root"
        )
    return [runuser, "-u", "postgres", "--", *command]


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL cluster on 127.0.0.1; yields its SQLAlchemy URI for MLflow."""
    pytest.importorskip(
        "psycopg2", reason="install the postgres extra: pip install leantune[postgres]"
    )
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL is not installed (no pg_ctl on PATH or in /usr/lib/postgresql/*/bin); "
            "`apt-get install postgresql` (what .ci/run does) to run this test"
        )
    # Not under pytest's tmp_path: as root, the postgres user must be able to enter it.
    base = Path(tempfile.mkdtemp(prefix="leantune-pg-"))
    base.chmod(0o777)
    data, log = base / "data", base / "postgres.log"
    port = _free_port()
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "leantune", "--auth=trust"]
    made = subprocess.run(
        _as_postgres_user([*initdb, "-E", "UTF8"]), capture_output=True, text=True
    )
    if made.returncode != 0:
        pytest.fail(f"initdb failed: {made.stderr}")
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
    start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w"]
    started = subprocess.run(_as_postgres_user([*start, "start"]), capture_output=True, text=True)
    if started.returncode != 0:
        pytest.fail(f"PostgreSQL did not start: {started.stderr}\n{log.read_text()}")
    try:
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=port, user="leantune", dbname="postgres"
        )
        connection.autocommit = True
        connection.cursor().execute("CREATE DATABASE mlflow")
        connection.close()
        # +psycopg2 names the driver: SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3.
        yield f"postgresql+psycopg2://leantune@127.0.0.1:{port}/mlflow"
    finally:
        stop = [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(_as_postgres_user(stop), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def mlflow_server(postgres, tmp_path_factory):
    """`mlflow server` on PostgreSQL, serving artifacts from a local directory."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    port = _free_port()
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            postgres,
            "--artifacts-destination",
            artifacts.as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # the first start creates MLflow's tables
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            log.close()
            pytest.fail(f"mlflow server did not come up: {Path(log.name).read_text()[-3000:]}")
        time.sleep(0.5)
    yield uri
    server.terminate()
    server.wait(timeout=30)
    log.close()


def test_a_study_logs_to_a_tracking_server_backed_by_postgresql(
    ray_session, mlflow_server, postgres, in_tmp
):
    import psycopg2
    from mlflow.tracking import MlflowClient

    import leantune
    from leantune.testing import tiny_spec

    spec = leantune.load_spec(tiny_spec(tracking={"uri": mlflow_server, "experiment": "team"}))
    result = leantune.run(spec, show_progress=False)
    assert result.summary["tracking_uri"] == mlflow_server
    assert not list(in_tmp.rglob("mlflow.db"))  # nothing went to a local store

    client = MlflowClient(mlflow_server)
    runs = client.search_runs([client.get_experiment_by_name("team").experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("leantune.kind") == "study"]
    children = [r for r in runs if r is not parent]
    assert len(children) == 2 and parent.info.status == "FINISHED"
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert client.get_metric_history(child.info.run_id, "val_loss")
    assert {"spec.yaml", "summary.json", "trials.csv"} <= {
        a.path for a in client.list_artifacts(parent.info.run_id)
    }
    # the points are in PostgreSQL, not in a file next to the server
    dsn = postgres.replace("postgresql+psycopg2://", "postgresql://")
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM metrics WHERE key = 'val_loss'")
        (stored,) = cursor.fetchone()
    reports = sum(len(record.reports) for record in result.records)
    assert stored == reports
