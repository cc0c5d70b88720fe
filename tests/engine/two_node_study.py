"""Run a tiny study on a two-node Ray cluster on this machine (ray.cluster_utils.Cluster).

Run as a script (`python two_node_study.py RUN_DIR [BACKEND]`, BACKEND ray (default) or
ray-pool) by tests/engine/test_cluster.py, in its own
process: the test session's local Ray cannot share a process with another cluster. Prints the
two nodes' ids as JSON; the results are in RUN_DIR.
"""

from __future__ import annotations

import json
import sys

from ray.cluster_utils import Cluster

import leantune
from leantune.testing import tiny_spec


def main(run_dir: str, backend: str = "ray") -> None:
    # One CPU a node and one a trial: two trials at once can only run on different nodes.
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        # Trials of a few seconds (batch 1 and 2): long enough that the second node's worker
        # is up before the first node's could take every trial in turn.
        spec = tiny_spec(
            search={
                "space": {
                    "batch_size": [1, 2],
                    "learning_rate": [0.1, 0.01, 0.001],
                    "alpha": [0.0001],
                }
            },
            training={"epochs": 3, "report_every": 50, "seed": 0},
            resources={"backend": backend, "ray_address": cluster.address, "max_concurrent": 2},
            output={"dir": run_dir, "report": False},
        )
        leantune.run(spec, show_progress=False)
        print(json.dumps({"nodes": [cluster.head_node.node_id, worker.node_id]}))
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:])
