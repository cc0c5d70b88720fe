"""A new sqlite MLflow store starts as a copy of an empty, fully migrated one.

MLflow builds a new sqlite store by running every schema migration, one to two seconds of a
study's start-up. The result is the same file every time for one MLflow version, so it is made
once, kept in the user's cache, and copied. The copy holds no experiment: MLflow adds its
"Default" experiment itself on first open, with this store's own artifact location.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
from importlib.metadata import version
from pathlib import Path

_log = logging.getLogger("leantune")


def template_dir() -> Path:
    """$XDG_CACHE_HOME/leantune/mlflow, else ~/.cache/leantune/mlflow."""
    cache = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache) if cache else Path.home() / ".cache") / "leantune" / "mlflow"


def template_path() -> Path:
    # The schema is MLflow's migrations: one template per MLflow version.
    return template_dir() / f"empty-store-mlflow-{version('mlflow')}.db"


def seed_sqlite_store(uri: str) -> bool:
    """Copy the migrated template to a sqlite store that does not exist yet. True if copied.

    Anything in the way (another kind of store, an existing file, an unwritable cache) leaves
    the store to MLflow, which creates it as it always does.
    """
    if not uri.startswith("sqlite:///"):
        return False
    path = Path(uri.removeprefix("sqlite:///"))
    if path.exists():
        return False
    try:
        template = template_path()
        if not template.is_file():
            _make_template(template)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)
    except (OSError, sqlite3.Error):
        _log.debug("leantune: no store template; MLflow migrates the new store", exc_info=True)
        path.unlink(missing_ok=True)
        return False
    return True


def _make_template(template: Path) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    template.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=template.parent) as work:
        made = Path(work) / "store.db"
        store = SqlAlchemyStore(f"sqlite:///{made}", (Path(work) / "artifacts").as_uri())
        store.engine.dispose()
        with sqlite3.connect(made) as connection:
            # The Default experiment names this temporary directory: each copy makes its own.
            connection.execute("DELETE FROM experiment_tags WHERE experiment_id = 0")
            connection.execute("DELETE FROM experiments WHERE experiment_id = 0")
        connection.close()
        # Studies started side by side may each make one: the last rename wins, all are equal.
        os.replace(made, template)
