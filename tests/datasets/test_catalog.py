"""The catalogue behind `leantune datasets`: what is known without reading any data file."""

import shutil

import pandas as pd
import pmlb
import pytest

from leantune.datasets import THESIS_DATASETS, list_datasets, pmlb_shape


@pytest.fixture
def no_data_reads(monkeypatch):
    """Listing must never parse a data file (kddcup alone takes seconds and 500 MB)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a data file was read")

    monkeypatch.setattr(pmlb, "fetch_data", refuse)
    monkeypatch.setattr(pd, "read_csv", refuse)


def test_the_thesis_sets_and_the_builtins_are_listed_with_shape_and_cache_state(
    shared_pmlb, no_data_reads
):
    infos = {(i.source, i.name): i for i in list_datasets(shared_pmlb)}
    assert {name for source, name in infos if source == "pmlb"} == set(THESIS_DATASETS)
    assert {name for source, name in infos if source == "sklearn"} == {
        "breast_cancer",
        "diabetes",
        "digits",
        "iris",
        "wine",
    }
    expected = {
        "mnist": (False, 70_000, 784, "classification", 10),
        "kddcup": (True, 494_020, 41, "classification", 23),
        "diabetes": (True, 768, 8, "classification", 2),
        "1191_BNG_pbc": (False, 1_000_000, 18, "regression", None),
        "529_pollen": (True, 3_848, 4, "regression", None),
    }
    for name, (cached, rows, features, task, classes) in expected.items():
        info = infos["pmlb", name]
        assert (info.cached, info.rows, info.features, info.task, info.classes) == (
            cached,
            rows,
            features,
            task,
            classes,
        ), name
        assert info.shape_from == str(shared_pmlb / name / "summary_stats.tsv")
    assert infos["pmlb", "kddcup"].location == str(shared_pmlb / "kddcup" / "kddcup.tsv.gz")
    assert infos["sklearn", "iris"].rows == 150 and infos["sklearn", "iris"].classes == 3


def test_an_empty_cache_still_knows_every_thesis_set_from_pmlbs_table(tmp_path, no_data_reads):
    infos = [i for i in list_datasets(tmp_path / "nowhere") if i.source == "pmlb"]
    assert [i.name for i in infos] == list(THESIS_DATASETS)
    assert not any(i.cached for i in infos)
    assert all(i.rows and i.features and i.task for i in infos)
    assert infos[0].location == str(tmp_path / "nowhere" / "mnist" / "mnist.tsv.gz")


def test_a_cache_holding_the_upstream_diabetes_name_counts_as_cached(shared_pmlb, tmp_path):
    renamed = tmp_path / "_deprecated_diabetes"
    renamed.mkdir()
    for file in ("diabetes.tsv.gz", "summary_stats.tsv"):
        target = file.replace("diabetes", "_deprecated_diabetes", 1) if "tsv.gz" in file else file
        shutil.copy(shared_pmlb / "diabetes" / file, renamed / target)
    (info,) = [i for i in list_datasets(tmp_path) if i.name == "diabetes" and i.source == "pmlb"]
    assert info.cached and info.note == "stored as _deprecated_diabetes"
    assert info.rows == 768
    assert pmlb_shape("diabetes", tmp_path).location == str(renamed / "summary_stats.tsv")


def test_other_sets_in_the_cache_are_listed_too(tmp_path, shared_pmlb):
    shutil.copytree(shared_pmlb / "529_pollen", tmp_path / "my_set")
    (tmp_path / "my_set" / "529_pollen.tsv.gz").rename(tmp_path / "my_set" / "my_set.tsv.gz")
    names = [i.name for i in list_datasets(tmp_path) if i.source == "pmlb"]
    assert names == [*THESIS_DATASETS, "my_set"]
