"""A private Ray (a study's own, and the one `leantune ray start` keeps) listens on the loopback
address only: no socket of its processes is open to the network."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys

import psutil
import pytest

pytestmark = pytest.mark.slow


def _listening(pids: set[int]) -> list[tuple[str, int, str]]:
    found = []
    for connection in psutil.net_connections(kind="inet"):
        if connection.status == psutil.CONN_LISTEN and connection.pid in pids:
            name = psutil.Process(connection.pid).name()
            found.append((connection.laddr.ip, connection.laddr.port, name))
    return found


def _open_to_the_network(listening: list[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
    def loopback(ip: str) -> bool:
        address = ipaddress.ip_address(ip)
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
        return (mapped or address).is_loopback

    return [entry for entry in listening if not loopback(entry[0])]


def _ray_processes(session_dir: str) -> set[int]:
    """Every process of the Ray whose session directory is `session_dir`."""
    session = os.path.basename(session_dir)
    pids = set()
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(session in part for part in process.info["cmdline"] or []):
                pids.add(process.pid)
                pids |= {child.pid for child in process.children(recursive=True)}
        except psutil.Error:
            continue
    return pids


# leantune.engine first: it hands a joining driver the persistent Ray's token before Ray loads.
_PROBE = """
import leantune.engine
import os, sys, ray
{start}
@ray.remote
def touch():
    return os.getpid()
ray.get([touch.remote() for _ in range(2)])  # workers up, with their own servers
node = ray._private.worker._global_node  # None for a driver that joined a running Ray
print(node.get_session_dir_path() if node else "joined", flush=True)
sys.stdin.read()  # hold Ray until the test has read the sockets
{stop}
"""


def _probe(start: str, stop: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _PROBE.format(start=start, stop=stop)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    session = process.stdout.readline().strip()
    assert session, "Ray did not start"
    return process, session


def test_a_studys_private_ray_listens_on_loopback_only(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}  # no persistent Ray to join
    process, session = _probe(
        "from leantune.engine import start_ray, stop_ray\nstart_ray(None)", "stop_ray()", env
    )
    try:
        listening = _listening(_ray_processes(session) | {process.pid})
        assert listening, "found none of Ray's sockets: the probe is broken"
        assert _open_to_the_network(listening) == []
    finally:
        process.communicate("", timeout=60)


def test_the_persistent_ray_listens_on_loopback_only(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    started = subprocess.run(
        [sys.executable, "-m", "leantune", "ray", "start", "--cpus", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert started.returncode == 0, started.stderr
    try:
        owner = _owner_pid(tmp_path)
        pids = {owner, *(child.pid for child in psutil.Process(owner).children(recursive=True))}
        listening = _listening(pids)
        assert listening, "found none of Ray's sockets: the probe is broken"
        assert _open_to_the_network(listening) == []
        # A study still joins it through the loopback address.
        process, _ = _probe("import leantune.engine as e\ne.start_ray(None)", "e.stop_ray()", env)
        process.communicate("", timeout=60)
        assert process.returncode == 0
    finally:
        subprocess.run(
            [sys.executable, "-m", "leantune", "ray", "stop"], env=env, timeout=120, check=False
        )


def _owner_pid(cache: os.PathLike[str]) -> int:
    import json
    from pathlib import Path

    return int(json.loads((Path(cache) / "leantune" / "ray.json").read_text())["pid"])
