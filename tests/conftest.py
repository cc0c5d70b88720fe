"""Shared fixtures: one local Ray for the whole session, and the shared PMLB cache."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_PMLB = REPO.parent / "shared" / "datasets" / "pmlb"


@pytest.fixture(scope="session", autouse=True)
def _columns_cache_of_this_run(tmp_path_factory):
    """Parsed data files are cached under the run's temporary directory, not the user's home
    (subprocesses inherit it)."""
    import os

    previous = os.environ.get("LEANTUNE_COLUMNS_CACHE")
    os.environ["LEANTUNE_COLUMNS_CACHE"] = str(tmp_path_factory.mktemp("columns"))
    yield
    if previous is None:
        os.environ.pop("LEANTUNE_COLUMNS_CACHE", None)
    else:
        os.environ["LEANTUNE_COLUMNS_CACHE"] = previous


@pytest.fixture(scope="session", autouse=True)
def probe_cache(tmp_path_factory) -> Path:
    """The load probe's idle reference goes to a cache of the session's own, never the user's
    (~/.cache/leantune); set before Ray starts, so its workers inherit it."""
    import os

    cache = tmp_path_factory.mktemp("xdg-cache")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray with 2 CPUs, started once (about 4 s) and reused by every test."""
    import os

    import ray

    from leantune.engine._ray import RAY_ENVIRONMENT

    # As start_ray does: Ray's workers inherit Tune's output settings from this process.
    for key, value in RAY_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    if not ray.is_initialized():
        ray.init(
            address="local",  # never join another session's cluster
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def shared_pmlb() -> Path:
    """The read-only PMLB cache in ../shared; tests that need it skip on a user's clone."""
    if not (SHARED_PMLB / "diabetes").is_dir():
        pytest.skip(f"shared PMLB cache not found at {SHARED_PMLB}")
    return SHARED_PMLB


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    """Run the test from an empty directory, so default output paths land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def parsed():
    """Parse an HTML report, failing if it loads anything from the network."""
    from leantune.testing import parse_report

    return parse_report
