"""A study on a synthetic stand-in says so everywhere: summary.json, MLflow tags, the CLI."""

import json

import pytest
from mlflow.tracking import MlflowClient
from rich.console import Console

import leantune
from leantune.cli._summary import print_summary
from leantune.testing import tiny_spec

pytestmark = pytest.mark.slow

SUMMARY = (
    "dataset\tn_instances\tn_features\tn_binary_features\tn_categorical_features\t"
    "n_continuous_features\tendpoint_type\tn_classes\timbalance\ttask\n"
    "tiny_set\t600\t5\t0\t0\t5\tcategorical\t3.0\t0.0\tclassification\n"
)


def test_every_output_labels_the_stand_in_synthetic(ray_session, tmp_path):
    (tmp_path / "cache" / "tiny_set").mkdir(parents=True)
    (tmp_path / "cache" / "tiny_set" / "summary_stats.tsv").write_text(SUMMARY)
    spec = tiny_spec(
        dataset={"synthetic_like": "tiny_set", "cache_dir": str(tmp_path / "cache"), "seed": 7},
        search={"space": {"batch_size": [64], "learning_rate": [0.01], "alpha": [0.0001]}},
        output={"dir": str(tmp_path / "run"), "report": False},
    )
    result = leantune.run(spec, show_progress=False)

    dataset = json.loads((tmp_path / "run" / "summary.json").read_text())["dataset"]
    assert dataset["name"] == "tiny_set-synthetic"
    assert (dataset["rows"], dataset["features"], dataset["classes"]) == (600, 5, 3)
    assert dataset["synthetic"] is True and dataset["source"] == "synthetic"
    assert dataset["synthetic_like"] == "tiny_set" and dataset["seed"] == 7

    client = MlflowClient(result.summary["tracking_uri"])
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("leantune.kind") == "study"]
    assert parent.data.tags["leantune.dataset_synthetic"] == "true"
    assert parent.data.tags["leantune.dataset_source"] == "synthetic"
    assert parent.data.params["dataset.synthetic_like"] == "tiny_set"

    console = Console(record=True, width=200)
    print_summary(result.summary, console)
    assert "Dataset is a SYNTHETIC stand-in for tiny_set (seed 7)" in console.export_text()
