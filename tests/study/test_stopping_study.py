"""A real study where a memory limit stops the wide-batch trials and the divergence policy
catches the huge learning rate: trials.csv, ledger.json and MLflow all tell the same story."""

import json

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import leantune
from leantune.testing import tiny_spec

pytestmark = pytest.mark.slow

FEATURES = 2000


@pytest.fixture(scope="module")
def finished(ray_session, tmp_path_factory):
    root = tmp_path_factory.mktemp("stopping")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, FEATURES))
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(FEATURES)])
    frame["label"] = (X[:, 0] + 0.5 * rng.normal(size=3000) > 0).astype(int)
    frame.to_parquet(root / "wide.parquet")
    # A batch of 1,024 rows × 2,000 features is 16 MB that the trial holds while it trains;
    # a batch of 8 rows is 128 kB. A 10 MB limit on the memory a trial adds splits them.
    spec = leantune.load_spec(
        tiny_spec(
            dataset={"path": str(root / "wide.parquet"), "target": "label"},
            search={
                "space": {"batch_size": [8, 1024], "learning_rate": [0.01, 1e6], "alpha": [0.0001]}
            },
            constraints={"memory_rise_mb": 10},
            output={"dir": str(root / "run"), "report": False},
        )
    )
    return leantune.run(spec, show_progress=False), root / "run"


def test_each_trial_ends_for_its_own_reason(finished):
    _, run_dir = finished
    trials = pd.read_csv(run_dir / "trials.csv")
    by_config = {(r.batch_size, r.learning_rate): r for r in trials.itertuples()}
    assert by_config[(8, 0.01)].status == "feasible"
    memory = by_config[(1024, 0.01)]
    assert memory.status == "stopped"
    assert (memory.stop_rule, memory.stop_metric) == ("constraint", "memory_rise_mb")
    assert memory.stop_value > 10
    for batch_size in (8, 1024):
        assert by_config[(batch_size, 1e6)].status == "diverged"


def test_the_ledger_spends_and_saves_per_rule(finished):
    _, run_dir = finished
    ledger = json.loads((run_dir / "ledger.json").read_text())
    assert ledger["spent_cpu_s"] > 0
    assert "memory_rise_mb" in ledger["by_rule"]
    assert ledger["by_rule"]["memory_rise_mb"]["trials_stopped"] == 1
    assert 0 < ledger["share_of_full_grid_spent_estimate"] <= 1
    assert len(ledger["trials"]) == 4


def test_mlflow_tags_carry_status_and_reason(finished):
    result, _ = finished
    client = MlflowClient(result.summary["tracking_uri"])
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    tags = [r.data.tags for r in runs if r.data.tags.get("leantune.kind") == "trial"]
    statuses = sorted(t["leantune.status"] for t in tags)
    assert statuses == ["diverged", "diverged", "feasible", "stopped"]
    stopped = next(t for t in tags if t["leantune.status"] == "stopped")
    assert stopped["leantune.stop_metric"] == "memory_rise_mb"
    for diverged in (t for t in tags if t["leantune.status"] == "diverged"):
        assert "diverged" in diverged.get("leantune.error", "") or (
            diverged.get("leantune.stop_rule") == "divergence"
        )
    parent = next(r for r in runs if r.data.tags.get("leantune.kind") == "study")
    assert parent.data.metrics["ledger_spent_cpu_s"] > 0
    assert "ledger.json" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert result.summary["stopped_by"] == {"memory_rise_mb": 1}
