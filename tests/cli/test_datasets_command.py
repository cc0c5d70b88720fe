"""`leantune datasets`, and the dataset lines other commands print."""

import json

from rich.console import Console
from typer.testing import CliRunner

from leantune.cli import _app
from leantune.cli._summary import print_summary
from leantune.testing import tiny_summary

runner = CliRunner()


def test_datasets_lists_the_known_sets_and_whether_they_are_cached(shared_pmlb):
    result = runner.invoke(_app.app, ["datasets", "--cache-dir", str(shared_pmlb)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"PMLB cache: {shared_pmlb}"
    assert lines[1].split() == ["name", "source", "cached", "rows", "features", "task", "classes"]
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in lines[2:] if line[:1] != "N"}
    assert rows["kddcup", "pmlb"] == ["yes", "494,020", "41", "classification", "23"]
    assert rows["mnist", "pmlb"] == ["no", "70,000", "784", "classification", "10"]
    assert rows["1191_BNG_pbc", "pmlb"] == ["no", "1,000,000", "18", "regression", "-"]
    assert rows["diabetes", "sklearn"] == ["built-in", "442", "10", "regression", "-"]
    assert "synthetic_like" in lines[-1]


def test_datasets_as_json(tmp_path):
    result = runner.invoke(_app.app, ["datasets", "--json", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    mnist = next(d for d in listed if d["name"] == "mnist")
    assert mnist["cached"] is False and mnist["rows"] == 70_000
    assert mnist["location"] == str(tmp_path / "mnist" / "mnist.tsv.gz")


def test_validate_rejects_bad_data_before_anything_starts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("a,b,y\n1,2,0\n3,,1\n5,6,0\n7,8,1\n")
    (tmp_path / "study.yaml").write_text(
        "name: s\ndataset: {path: data.csv, target: y}\nmodel: logistic\n"
    )
    result = runner.invoke(_app.app, ["validate", "study.yaml"])
    assert result.exit_code == 2
    assert "error: dataset 'data.csv': features have missing values in 1 rows" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "study.yaml"]


def test_validate_names_a_synthetic_stand_in(shared_pmlb, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "study.yaml").write_text(
        f"name: s\ndataset: {{synthetic_like: 529_pollen, cache_dir: {shared_pmlb}}}\n"
        "model: linear\n"
    )
    result = runner.invoke(_app.app, ["validate", "study.yaml"])
    assert result.exit_code == 0, result.output
    assert "529_pollen-synthetic (synthetic): 3,848 rows × 4 features, regression" in result.stdout
    assert "[SYNTHETIC stand-in for 529_pollen, seed 0]" in result.stdout


def _summary(**dataset):
    return tiny_summary(dataset=dataset, status_counts={"feasible": 0})


def _printed(summary):
    console = Console(record=True, width=200)
    print_summary(summary, console)
    return console.export_text()


def test_the_summary_warns_of_a_stand_in_and_of_dropped_rows():
    text = _printed(_summary(synthetic=True, synthetic_like="mnist", seed=3))
    assert "Dataset is a SYNTHETIC stand-in for mnist (seed 3), not real data" in text
    text = _printed(_summary(synthetic=False, dropped_rows_with_nan=10))
    assert "Dataset: 10 of 100 rows held NaN and were dropped on load." in text
    assert "Dataset" not in _printed(_summary(synthetic=False, dropped_rows_with_nan=0))
