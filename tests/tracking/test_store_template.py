"""A new sqlite store copied from the migrated template is the store MLflow would have made."""

import sqlite3

import pytest
from mlflow.tracking import MlflowClient

from leantune.tracking import default_uri, open_tracker
from leantune.tracking._store_template import seed_sqlite_store, template_path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _schema(path):
    with sqlite3.connect(path) as connection:
        tables = connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
        head = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    connection.close()
    # MLflow's own migrations order a table's constraints differently from run to run.
    return {
        (kind, name, frozenset(line.strip(" ,") for line in (sql or "").splitlines()))
        for kind, name, sql in tables
    }, head


def test_a_seeded_store_has_the_schema_of_a_migrated_one_and_its_own_default_experiment(
    tmp_path, cache
):
    migrated, seeded = tmp_path / "migrated", tmp_path / "seeded"
    MlflowClient(default_uri(migrated)).search_experiments()  # MLflow runs every migration
    tracker = open_tracker(None, "exp", seeded)
    assert template_path().is_file() and template_path().is_relative_to(cache)
    assert _schema(migrated / "mlflow.db") == _schema(seeded / "mlflow.db")

    tracker.start_study("s", {"a": 1}, {}, "")
    tracker.end_study({"best": 1.0}, {}, [])
    client = MlflowClient(default_uri(seeded))
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert str(cache) not in default.artifact_location  # not the template's directory
    (run,) = client.search_runs([client.get_experiment_by_name("exp").experiment_id])
    assert run.data.metrics == {"best": 1.0}


def test_an_existing_store_or_another_kind_of_store_is_left_alone(tmp_path, cache):
    existing = tmp_path / "mlflow.db"
    existing.write_bytes(b"")
    assert not seed_sqlite_store(f"sqlite:///{existing}")
    assert existing.read_bytes() == b""
    assert not seed_sqlite_store("postgresql://user@localhost/db")
    assert not seed_sqlite_store(f"file://{tmp_path / 'mlruns'}")


def test_an_unwritable_cache_falls_back_to_migrations(tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache directory would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert not seed_sqlite_store(default_uri(tmp_path / "run"))
    open_tracker(None, "exp", tmp_path / "run")  # MLflow creates it as it always did
    assert MlflowClient(default_uri(tmp_path / "run")).get_experiment_by_name("exp")
