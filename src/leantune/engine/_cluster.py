"""What the Ray cluster this driver joined can place: checked once Ray is up, before a trial
asks for more than any node has and waits, unplaced, for ever."""

from __future__ import annotations

import ray

from leantune.errors import LeantuneError


def require_cpus(cpus_per_trial: int, address: str | None) -> None:
    """Raise LeantuneError unless some node of the cluster has `cpus_per_trial` CPUs."""
    largest = max(
        (node.get("Resources", {}).get("CPU", 0.0) for node in ray.nodes() if node.get("Alive")),
        default=0.0,
    )
    if cpus_per_trial > largest:
        where = f"the Ray cluster at {address}" if address else "the local Ray"
        raise LeantuneError(
            f"resources.cpus_per_trial: must be at most the CPUs of one node of {where} "
            f"(the largest has {largest:g}), or no trial is ever placed; got {cpus_per_trial}"
        )
