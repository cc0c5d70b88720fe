"""A study on a two-node Ray cluster spreads its trials over both nodes and stores every result,
with one Tune trial a config (backend ray) and packed (ray-pool: one actor per node's CPU).

The cluster (ray.cluster_utils.Cluster: two raylets on this machine) runs in a subprocess, so it
does not clash with the test session's local Ray. docs/cluster.md covers a real cluster.
"""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

pytestmark = [pytest.mark.slow, pytest.mark.system]

SCRIPT = Path(__file__).with_name("two_node_study.py")


@pytest.mark.parametrize("backend", ["ray", "ray-pool"])
def test_trials_run_on_both_nodes_and_every_result_is_stored(tmp_path, backend):
    run_dir = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(run_dir), backend],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    nodes = set(json.loads(done.stdout.strip().splitlines()[-1])["nodes"])
    assert len(nodes) == 2

    trials = pd.read_csv(run_dir / "trials.csv")
    assert len(trials) == 6 and set(trials["status"]) == {"feasible"}
    assert set(trials["node_id"]) == nodes  # both nodes trained trials

    reports = pd.read_parquet(run_dir / "reports.parquet")
    assert set(reports["trial_id"]) == set(trials["trial_id"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["outcome"] == "completed" and summary["best"] is not None
    client = MlflowClient(summary["tracking_uri"])
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    children = [r for r in runs if r.data.tags.get("leantune.kind") == "trial"]
    assert {r.data.tags["leantune.node_id"] for r in children} == nodes
    for run in children:
        trial_id = run.data.tags["leantune.trial_id"]
        expected = sorted(reports.loc[reports["trial_id"] == trial_id, "step"])
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")]
        assert sorted(steps) == expected  # every report of every trial, once
