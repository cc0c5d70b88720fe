"""A local Ray kept running between studies (`leantune ray start | stop`).

`ray.init` and `ray.shutdown` are seconds of every study. A persistent local Ray is one started
once, by a small background process that owns it; a study started while it runs joins it
(`start_ray` without an address) and only disconnects at its end. Its address and owner are in
one file, so `leantune ray stop` stops exactly that Ray and nothing else on the machine.

Both a study's private Ray and this one listen on the loopback address only (`loopback_only`):
they serve this machine's drivers, and a port open to the network is a way in. A Ray other
machines join is a cluster head the user starts with Ray's own `ray start --head`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

STATE_FILE = "ray.json"

LOOPBACK = "127.0.0.1"
# Ray's single-machine mode: its node address is the loopback one, and its servers (GCS,
# raylet, workers, agents) bind that address instead of every interface. Ray reads the
# variable on import (its started processes inherit it) and again for the node's address.
_SINGLE_MACHINE = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """While a private Ray starts: it and every process it starts listen on 127.0.0.1 only."""
    added = [key for key in _SINGLE_MACHINE if key not in os.environ]
    os.environ.update({key: _SINGLE_MACHINE[key] for key in added})
    constants = sys.modules.get("ray._private.ray_constants")
    # Ray imported before the variable was set keeps its first reading; give it this one.
    before = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    if constants is not None:
        constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if constants is not None:
            constants.ENABLE_RAY_CLUSTER = before
        for key in added:
            os.environ.pop(key, None)


def state_path() -> Path:
    """$XDG_CACHE_HOME/leantune/ray.json, else ~/.cache/leantune/ray.json."""
    cache = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache) if cache else Path.home() / ".cache") / "leantune" / STATE_FILE


def running() -> dict | None:
    """The persistent Ray's {"address", "pid", "node_id", "cpus", "token"}, if its owner is
    alive."""
    path = state_path()
    try:
        state = json.loads(path.read_text())
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state


def start(cpus: int | None = None, timeout_s: float = 120.0) -> dict:
    """Start the owner process and wait until its Ray is up. Returns its state."""
    found = running()
    if found is not None:
        return found
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "leantune.engine._persistent", str(cpus or os.cpu_count())]
    owner = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives the command that started it, ignores its Ctrl-C
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = running()
        if found is not None:
            return found
        if owner.poll() is not None:
            raise RuntimeError(f"the Ray owner process exited with {owner.returncode}")
        time.sleep(0.2)
    owner.terminate()
    raise RuntimeError(f"Ray did not start within {timeout_s:.0f} s")


def prepare_to_join() -> None:
    """Give this process the persistent Ray's token, if one runs. Ray reads it on import, so
    this runs before any Ray import (leantune.engine's own import)."""
    state = running()
    if state is not None and "RAY_AUTH_TOKEN" not in os.environ:
        os.environ.setdefault("RAY_AUTH_MODE", "token")
        os.environ["RAY_AUTH_TOKEN"] = state["token"]


def stop(timeout_s: float = 60.0) -> bool:
    """Stop the persistent Ray, if one runs. True if one was stopped."""
    found = running()
    if found is None:
        state_path().unlink(missing_ok=True)
        return False
    pid = int(found["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.2)
    state_path().unlink(missing_ok=True)
    return True


def _own(cpus: int) -> None:
    # Ray's local clusters require a token from whoever joins: this one's own, kept in the
    # state file that only this user can read. Ray reads it when it is imported.
    token = secrets.token_hex(32)
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    # Run as `python -m`, so leantune.engine (Ray's output settings) is already imported.
    import ray

    with loopback_only():
        ray.init(
            address="local",
            num_cpus=cpus,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            _node_ip_address=LOOPBACK,
        )
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    context = ray.get_runtime_context()
    state = {
        "address": context.gcs_address,
        "pid": os.getpid(),
        "node_id": context.get_node_id(),
        "cpus": cpus,
        "token": token,
    }
    path = state_path()
    written = path.with_suffix(".tmp")
    written.touch(mode=0o600)
    written.write_text(json.dumps(state))
    os.replace(written, path)
    while not stopping:
        time.sleep(0.5)
    ray.shutdown()
    path.unlink(missing_ok=True)


if __name__ == "__main__":
    _own(int(sys.argv[1]))
