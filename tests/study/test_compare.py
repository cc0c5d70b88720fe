"""`leantune run --compare-stopping`: the study with and without stopping, on the same seeds."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from leantune.cli import app
from leantune.testing import tiny_spec

FEATURES = 2000


def _study_file(root, **sections):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, FEATURES))
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(FEATURES)])
    frame["label"] = (X[:, 0] + 0.5 * rng.normal(size=3000) > 0).astype(int)
    frame.to_parquet(root / "wide.parquet")
    # A batch of 1,024 rows × 2,000 features is 16 MB the trial holds while it trains; a batch
    # of 8 rows is 128 kB. A 10 MB limit on the memory a trial adds splits them.
    spec = tiny_spec(
        dataset={"path": str(root / "wide.parquet"), "target": "label"},
        search={"space": {"batch_size": [8, 1024], "learning_rate": [0.01], "alpha": [0.0001]}},
        constraints={"memory_rise_mb": 10},
        **{"output": {"report": True}, **sections},
    )
    path = root / "study.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
def test_both_arms_run_on_the_same_seeds_and_the_comparison_measures_the_savings(
    ray_session, tmp_path, parsed
):
    study = _study_file(tmp_path)
    out = tmp_path / "cmp"
    result = CliRunner().invoke(
        app, ["run", str(study), "--compare-stopping", "-q", "--set", f"output.dir={out}"]
    )
    assert result.exit_code == 0, result.output
    assert "Stopping saved" in result.output and "Regret of the stopped arm" in result.output
    stopped_spec = yaml.safe_load((out / "stopped" / "spec.yaml").read_text())
    unstopped_spec = yaml.safe_load((out / "unstopped" / "spec.yaml").read_text())
    assert stopped_spec["stopping"]["enabled"] is True
    assert unstopped_spec["stopping"]["enabled"] is False
    assert stopped_spec["training"] == unstopped_spec["training"]
    stopped = pd.read_csv(out / "stopped" / "trials.csv").set_index("batch_size")
    unstopped = pd.read_csv(out / "unstopped" / "trials.csv").set_index("batch_size")
    assert (stopped.loc[1024, "status"], unstopped.loc[1024, "status"]) == (
        "stopped",
        "infeasible",
    )
    assert unstopped.loc[1024, "steps_done"] == unstopped.loc[1024, "steps_planned"]
    assert stopped.loc[8, "status"] == unstopped.loc[8, "status"] == "feasible"

    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["regret"]["same_config"] is True
    assert comparison["regret"]["test_regret"] == 0
    assert comparison["estimates"]["trials_cut_short"] == 1
    assert comparison["estimates"]["matched_in_unstopped_arm"] == 1
    assert comparison["estimates"]["remaining_cpu_s_actual"] >= 0
    (rule,) = comparison["by_rule"]
    assert rule["rule"] == "memory_rise_mb" and rule["matched"] == 1

    report = parsed(out / "report.html")
    assert {"cmp-rq2_arms", "cmp-rq2_savings", "cmp-rq2_by_rule"} <= set(report.tables)
    assert {"cmp-rq2_arm_costs", "cmp-rq2_estimates"} <= set(report.figures)
    for arm in ("stopped", "unstopped"):
        assert (out / arm / "report.html").is_file()
    assert {"stopped/report.html", "unstopped/report.html"} <= set(report.links)

    # One MLflow store for both arms, each a parent run that also holds the comparison.
    from mlflow.tracking import MlflowClient

    summary = json.loads((out / "stopped" / "summary.json").read_text())
    client = MlflowClient(summary["tracking_uri"])
    assert summary["tracking_uri"].endswith(f"{out.resolve()}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    # Each arm's run is named after the study; its run directory's name is a tag.
    parents = {
        r.data.tags["leantune.run_name"]: r
        for r in runs
        if r.data.tags.get("leantune.kind") == "study"
    }
    assert set(parents) == {"stopped", "unstopped"}
    for parent in parents.values():
        paths = {a.path for a in client.list_artifacts(parent.info.run_id, "comparison")}
        assert "comparison/comparison.json" in paths and "comparison/report.html" in paths


def test_a_study_with_stopping_off_cannot_be_compared_and_creates_nothing(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump(tiny_spec(stopping={"enabled": False})))
    out = tmp_path / "cmp"
    result = CliRunner().invoke(
        app, ["run", str(study), "--compare-stopping", "--set", f"output.dir={out}"]
    )
    assert result.exit_code == 2
    assert "--compare-stopping: compares the study with its stopping policies" in result.output
    assert not out.exists()


def test_a_comparison_never_writes_into_a_directory_that_holds_files(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump(tiny_spec()))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    result = CliRunner().invoke(
        app,
        ["run", str(study), "--compare-stopping", "--set", f"output.dir={tmp_path / 'taken'}"],
    )
    assert result.exit_code == 2
    assert "output.dir:" in result.output and "not an empty directory" in result.output
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["keep.txt"]
