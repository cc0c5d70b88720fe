"""P8 across a two-node Ray cluster on this machine: trial packing against one Tune trial a config.

Two Ray nodes are started with Ray's own `ray start --block` (one CPU each, each with its own
temp dir and ports), and every arm is a fresh `leantune run` (MLflow on) of the
same random search of tiny trials as benchmarks/scale.py: `backend: ray-pool` (one long-lived
actor per node's CPU pulling configs) and `backend: ray` (one Ray Tune trial per config), both
joining the head with `resources.ray_address`; beside them the process pool on one machine
(`backend: processes`, no Ray). For each: trials/s, the driver's CPU per trial and as a share
of the trials', its peak memory and growth, and how many trials each node ran (`node_id`).
At the end exactly these two nodes are stopped (their own process trees): `ray stop` would
stop every engineer's Ray on the machine.

    .venv/bin/python benchmarks/cluster.py --sizes 1000 --repeats 2
    .venv/bin/python benchmarks/cluster.py --smoke
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import yaml
from scale import _rss_at, _rss_samples, _search_wall, _spec, _trial_ends

from _harness import REPO, finish, markdown_table, spread

BIN = Path(sys.executable).parent
ARMS = ("ray-pool", "ray", "processes")
# Tune pays a round trip per trial (tenths of a second): its arm runs at most this many, so a
# repetition stays minutes; its rates are per trial like the others'.
TUNE_TRIALS = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def _node_command(temp_dir: Path, head_port: int, head: bool) -> list[str]:
    ports = {
        "--node-manager-port": _free_port(),
        "--object-manager-port": _free_port(),
        "--dashboard-agent-listen-port": _free_port(),
        "--dashboard-agent-grpc-port": _free_port(),
        "--runtime-env-agent-port": _free_port(),
        "--metrics-export-port": _free_port(),
    }
    command = [str(BIN / "ray"), "start", "--block", "--num-cpus", "1"]
    command += ["--node-ip-address", "127.0.0.1", "--temp-dir", str(temp_dir)]
    command += ["--object-store-memory", str(200 * 2**20), "--disable-usage-stats"]
    for option, port in ports.items():
        command += [option, str(port)]
    if head:
        command += ["--head", "--port", str(head_port), "--include-dashboard", "false"]
    else:
        command += ["--address", f"127.0.0.1:{head_port}"]
    return command


@contextlib.contextmanager
def two_nodes(root: Path) -> Iterator[str]:
    """A head and a worker node, one CPU each, on this machine; yields the head's address.
    Stops both (every process each `ray start` started) on the way out.

    Multi-node Ray on Linux listens on the machine's address, not the loopback one: the nodes,
    and every driver this script starts, share a token of this run's own (RAY_AUTH_TOKEN)."""
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(16))
    port = _free_port()
    starters: list[subprocess.Popen] = []
    try:
        for name, head in (("head", True), ("worker", False)):
            log = (root / f"{name}.log").open("w")
            starters.append(
                subprocess.Popen(
                    _node_command(root / name, port, head),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C of this script reaches them only via us
                )
            )
            if head:
                _wait_for_nodes(f"127.0.0.1:{port}", 1, starters)
        _wait_for_nodes(f"127.0.0.1:{port}", 2, starters)
        yield f"127.0.0.1:{port}"
    finally:
        for starter in starters:
            _stop_tree(starter.pid)


def _wait_for_nodes(
    address: str, count: int, starters: list[subprocess.Popen], timeout_s: float = 120.0
) -> None:
    probe = (
        "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
        "print(sum(1 for n in ray.nodes() if n['Alive']))"
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(starter.poll() is not None for starter in starters):
            raise RuntimeError("a `ray start` exited: see its log next to the nodes' temp dirs")
        with contextlib.suppress(subprocess.TimeoutExpired):
            done = subprocess.run(
                [sys.executable, "-c", probe, address], capture_output=True, text=True, timeout=30
            )
            if done.returncode == 0 and int(done.stdout.split()[-1]) >= count:
                return
        time.sleep(1)
    raise RuntimeError(f"the cluster at {address} did not reach {count} nodes")


def _stop_tree(pid: int) -> None:
    """End `pid` and everything it started (a node's GCS, raylet, agents, workers)."""
    try:
        root = psutil.Process(pid)
        tree = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for process in tree:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(tree, timeout=15)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()


class _NodesCpu:
    """CPU seconds used by the nodes' processes (GCS, raylets, agents, workers: the trials'
    actors and the pool's inbox) while a study runs, read every half second: a Ray worker
    is not always a child of its raylet, so they are found by this run's token in their
    environment. A process that ends loses its last half second; children's times are not
    added (a reaped worker's would count twice)."""

    def __init__(self, driver: int):
        self.driver, self.token = driver, os.environ["RAY_AUTH_TOKEN"]
        self.ours: dict[int, bool] = {}
        self.used: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> _NodesCpu:
        self._read()
        self.before = sum(self.used.values())
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()
        self._read()

    @property
    def spent_s(self) -> float:
        return sum(self.used.values()) - self.before

    def _watch(self) -> None:
        while not self.stop.wait(0.5):
            self._read()

    def _read(self) -> None:
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if process.pid not in self.ours:
                    token = process.environ().get("RAY_AUTH_TOKEN")
                    self.ours[process.pid] = token == self.token and process.pid != self.driver
                if self.ours[process.pid]:
                    times = process.cpu_times()
                    self.used[process.pid] = times.user + times.system


def _study(n: int, backend: str, address: str | None) -> dict[str, Any]:
    """One `leantune run` in a fresh process; its rates, the driver's memory, trials by node."""
    import pandas as pd

    work = Path(tempfile.mkdtemp(prefix="p8-cluster-"))
    spec = _spec(n, "tiny", backend, work / "run")
    if address:
        spec["resources"]["ray_address"] = address
    study = work / "study.yaml"
    study.write_text(yaml.safe_dump(spec))
    # A cache of its own: never join the persistent Ray another engineer may have started.
    env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
    process = subprocess.Popen(
        [str(BIN / "leantune"), "run", str(study)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "stderr.log").open("w"),
    )
    with _NodesCpu(process.pid) as nodes:
        samples = _rss_samples(process)
    if process.returncode != 0:
        raise RuntimeError(f"leantune run failed for {backend} N={n}: see {work}/stderr.log")
    run = work / "run"
    summary = json.loads((run / "summary.json").read_text())
    wall, ends = _search_wall(run), _trial_ends(run)
    trials = pd.read_parquet(run / "trials.parquet")
    by_node = trials.node_id.fillna("").replace("", "this machine").value_counts()
    return {
        "trials_per_s": n / wall,
        "trial_cpu_s": summary["trial_cpu_s"] / n,
        "driver_cpu_per_trial_s": summary["driver_cpu_s"] / n,
        "driver_share": summary["driver_cpu_s"] / max(summary["trial_cpu_s"], 1e-9),
        # The nodes' CPU besides the trials' own: Ray's processes, the actors' idle time and
        # messages, the pool's inbox (the process pool's arm uses no node: NaN).
        "ray_cpu_per_trial_s": (nodes.spent_s - summary["trial_cpu_s"]) / n
        if address
        else float("nan"),
        "driver_peak_mb": max(rss for _, rss in samples),
        "driver_growth_mb_per_10k": (_rss_at(samples, ends[-1]) - _rss_at(samples, ends[n // 10]))
        * 10_000
        / max(1, n - n // 10),
        "trials_by_node": sorted(by_node.tolist(), reverse=True),
        "load": os.getloadavg()[0],
    }


def main() -> None:
    from _harness import parser

    options = parser(__doc__.split("\n\n")[0])
    options.add_argument("--sizes", default="1000", help="trial counts (default 1000)")
    options.add_argument("--arms", default=",".join(ARMS), help=f"arms ({','.join(ARMS)})")
    args = options.parse_args()
    counts = [20] if args.smoke else [int(v) for v in args.sizes.split(",")]
    repeats = 1 if args.smoke else args.repeats
    arms = [arm for arm in ARMS if arm in args.arms.split(",")]
    load = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="p8-two-nodes-"))
    rows, data = [], {}
    with two_nodes(root) as address:
        for n in counts:
            runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
            for repetition in range(repeats):
                shift = repetition % len(arms)
                for arm in arms[shift:] + arms[:shift]:
                    trials = min(n, TUNE_TRIALS) if arm == "ray" else n
                    where = None if arm == "processes" else address
                    runs[arm].append(_study(trials, arm, where))
                    print(arm, trials, runs[arm][-1], flush=True)
            for arm, readings in runs.items():
                data[f"{n}-{arm}"] = readings

                def column(key: str, digits: int = 3, readings: list = readings) -> str:
                    return spread([r[key] for r in readings], digits)

                rows.append(
                    [
                        min(n, TUNE_TRIALS) if arm == "ray" else n,
                        arm + ("" if arm == "processes" else ", two nodes"),
                        column("trials_per_s", 1),
                        column("trial_cpu_s", 4),
                        column("driver_cpu_per_trial_s", 4),
                        column("driver_share", 2),
                        column("ray_cpu_per_trial_s", 4),
                        column("driver_peak_mb", 0),
                        column("driver_growth_mb_per_10k", 0),
                        " / ".join("+".join(map(str, r["trials_by_node"])) for r in readings),
                        " / ".join(f"{r['load']:.1f}" for r in readings),
                    ]
                )
    import pandas as pd

    table = pd.DataFrame(
        rows,
        columns=[
            "N",
            "backend",
            "trials/s",
            "CPU-s a trial",
            "driver CPU-s a trial",
            "driver ÷ trial CPU",
            "nodes' CPU-s a trial besides the trial",
            "driver peak MB",
            "driver MB growth per 10,000 trials",
            "trials per node (each run)",
            "load at each run's end",
        ],
    )
    section = "\n".join(
        [
            "### Across a two-node Ray cluster",
            "",
            "Two `ray start` nodes on this machine, one CPU each; random search of N tiny "
            "trials (logistic on breast_cancer, batch 128, 1 epoch, 2 folds), each arm a fresh "
            "`leantune run` with MLflow on. Median (min–max) of "
            f"{repeats} repetition(s), arms rotating; load average {load:.1f} when it started "
            f"({os.cpu_count()} cores).",
            "",
            *markdown_table(table),
        ]
    )
    finish(args, section, data)


if __name__ == "__main__":
    main()
