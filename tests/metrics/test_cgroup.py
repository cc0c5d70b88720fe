"""Under a cgroup memory limit (a container, a slice), memory constraints and the reported
headroom use that limit, not the host's RAM. Tested against fake cgroup directories."""

from pathlib import Path

import psutil
import pytest

from leantune import load_spec
from leantune.metrics import SystemSampler, memory_limit
from leantune.stoppers import TrialHistory
from leantune.study._policies import build_policy, constraint_limits
from leantune.testing import tiny_spec

MB = 2**20
HOST_MB = psutil.virtual_memory().total / MB


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _v2(tmp_path, *, own="max", parent="max", current=300 * MB, inactive=100 * MB):
    """A cgroup v2 tree: the process sits in /pod/app; limits on both levels."""
    root = tmp_path / "cgroup"
    _write(root / "cgroup.controllers", "cpu memory pids\n")
    for directory, limit in ((root / "pod", parent), (root / "pod" / "app", own)):
        _write(directory / "memory.max", f"{limit}\n")
        _write(directory / "memory.current", f"{current}\n")
        _write(directory / "memory.stat", f"anon 123\ninactive_file {inactive}\nactive_file 5\n")
    proc = tmp_path / "proc_self_cgroup"
    _write(proc, "0::/pod/app\n")
    return root, proc


def test_a_cgroup_v2_limit_is_the_memory_limit(tmp_path):
    root, proc = _v2(tmp_path, own=str(512 * MB))
    limit = memory_limit(root, proc)
    assert limit.source == "cgroup v2" and limit.limit_mb == 512
    assert limit.limit_file == root / "pod" / "app" / "memory.max"
    # headroom: the limit less what is in use, not counting page cache the kernel can drop
    assert limit.used_mb() == 200
    assert limit.headroom_mb() == 312


def test_a_tighter_parent_cgroup_wins(tmp_path):
    root, proc = _v2(tmp_path, own=str(2048 * MB), parent=str(1024 * MB))
    limit = memory_limit(root, proc)
    assert limit.limit_mb == 1024 and limit.limit_file == root / "pod" / "memory.max"


def test_inside_a_container_the_root_of_the_namespace_holds_the_limit(tmp_path):
    root = tmp_path / "cgroup"
    _write(root / "cgroup.controllers", "memory\n")
    _write(root / "memory.max", f"{768 * MB}\n")
    _write(root / "memory.current", f"{68 * MB}\n")
    proc = tmp_path / "proc_self_cgroup"
    _write(proc, "0::/\n")
    limit = memory_limit(root, proc)
    assert (limit.limit_mb, limit.headroom_mb()) == (768, 700)  # no memory.stat: nothing dropped


def test_no_limit_means_the_hosts_ram(tmp_path):
    root, proc = _v2(tmp_path)  # "max" everywhere
    limit = memory_limit(root, proc)
    assert limit.source == "host" and limit.limit_mb == pytest.approx(HOST_MB)
    assert 0 < limit.headroom_mb() < HOST_MB


def test_a_cgroup_v1_limit_is_read_too(tmp_path):
    root = tmp_path / "cgroup"
    group = root / "memory" / "docker" / "abc"
    _write(group / "memory.limit_in_bytes", f"{256 * MB}\n")
    _write(group / "memory.usage_in_bytes", f"{96 * MB}\n")
    _write(group / "memory.stat", f"cache 1\ntotal_inactive_file {16 * MB}\n")
    proc = tmp_path / "proc_self_cgroup"
    _write(proc, "12:pids:/docker/abc\n4:memory:/docker/abc\n0::/\n")
    limit = memory_limit(root, proc)
    assert (limit.source, limit.limit_mb, limit.headroom_mb()) == ("cgroup v1", 256, 176)


def test_cgroup_v1_unlimited_is_the_hosts_ram(tmp_path):
    root = tmp_path / "cgroup"
    _write(root / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    proc = tmp_path / "proc_self_cgroup"
    _write(proc, "4:memory:/\n")
    assert memory_limit(root, proc).source == "host"


def test_every_report_carries_the_headroom_under_the_cgroup_limit(tmp_path):
    root, proc = _v2(tmp_path, own=str(512 * MB))
    sample = SystemSampler(memory_limit(root, proc)).sample()
    assert sample["memory_headroom_mb"] == 312


def test_memory_constraints_above_the_cgroup_limit_are_enforced_at_the_limit(tmp_path):
    root, proc = _v2(tmp_path, own=str(512 * MB))
    limit = memory_limit(root, proc)
    spec = load_spec(tiny_spec(constraints={"memory_mb": 4096, "train_time_s": 60}))
    limits, capped = constraint_limits(spec, limit)
    assert limits == {"memory_mb": 512, "train_time_s": 60}
    assert capped == {"memory_mb": (4096, 512)}
    # the policy stops a trial at the container's limit, before the OOM killer would
    policy = build_policy(spec, limit)
    report = {"step": 10, "memory_mb": 600.0, "train_time_s": 1.0}
    decision = policy.decide(TrialHistory([report]))
    assert decision.stop and decision.reason.metric == "memory_mb"
    assert decision.reason.threshold == 512
    # on the host (no cgroup limit) the same spec keeps its own 4,096 MB
    assert (
        not build_policy(spec, memory_limit(tmp_path / "none", proc))
        .decide(TrialHistory([report]))
        .stop
    )


def test_a_limit_below_the_cgroup_limit_is_left_as_given(tmp_path):
    root, proc = _v2(tmp_path, own=str(512 * MB))
    spec = load_spec(tiny_spec(constraints={"memory_mb": 256}))
    assert constraint_limits(spec, memory_limit(root, proc)) == ({"memory_mb": 256}, {})
