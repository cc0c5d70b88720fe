"""Synthetic stand-ins: the declared shape, task and classes, seeded, learnable, and labelled."""

import tracemalloc

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from leantune.datasets import load_dataset, load_synthetic_like, make_splits, make_synthetic
from leantune.errors import DatasetError
from leantune.spec import DatasetSpec


@pytest.mark.parametrize(
    ("like", "shape", "task", "classes"),
    [
        ("mnist", (70_000, 784), "classification", 10),
        ("1191_BNG_pbc", (1_000_000, 18), "regression", None),
    ],
)
def test_a_stand_in_has_the_declared_shape_and_is_labelled_synthetic(
    shared_pmlb, like, shape, task, classes
):
    data = load_dataset(DatasetSpec(synthetic_like=like, cache_dir=shared_pmlb))
    assert data.X.shape == shape and data.task == task and data.n_classes == classes
    assert data.X.dtype == np.float64 and data.X.flags.c_contiguous
    assert data.name == f"{like}-synthetic"
    assert data.is_synthetic
    provenance = data.provenance
    assert provenance["source"] == "synthetic" and provenance["synthetic"] is True
    assert provenance["synthetic_like"] == like and provenance["seed"] == 0
    assert provenance["location"] == str(shared_pmlb / like / "summary_stats.tsv")
    assert f"[SYNTHETIC stand-in for {like}, seed 0]" in data.describe()


def test_without_a_cached_summary_pmlbs_own_table_gives_the_shape(tmp_path):
    data = load_synthetic_like("kddcup", tmp_path)
    assert data.X.shape == (494_020, 41) and data.n_classes == 23
    assert data.provenance["location"].startswith("pmlb ")


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    make = lambda seed: make_synthetic(  # noqa: E731
        "s", rows=500, features=6, task="classification", classes=3, seed=seed
    )
    first, again, other = make(1), make(1), make(2)
    np.testing.assert_array_equal(first.X, again.X)
    np.testing.assert_array_equal(first.y, again.y)
    assert not np.array_equal(first.X, other.X)


def test_every_class_is_there_in_balance_so_stratified_splits_work():
    data = make_synthetic("s", rows=1003, features=4, task="classification", classes=23)
    counts = np.bincount(data.y)
    assert len(counts) == 23 and counts.max() - counts.min() <= 1
    make_splits(data, test_size=0.3, cv_folds=5, holdout_size=0.2, seed=0)


def test_a_classification_stand_in_is_learnable_by_a_linear_model():
    data = make_synthetic("s", rows=4000, features=100, task="classification", classes=10)
    model = LogisticRegression(max_iter=300).fit(data.X[:3000], data.y[:3000])
    # Chance is 0.1; far from perfect too, since the classes overlap.
    assert 0.5 < model.score(data.X[3000:], data.y[3000:]) < 0.999


def test_a_regression_stand_in_is_learnable_by_a_linear_model():
    data = make_synthetic("s", rows=4000, features=18, task="regression")
    model = LinearRegression().fit(data.X[:3000], data.y[:3000])
    assert 0.6 < model.score(data.X[3000:], data.y[3000:]) < 0.95


def test_generation_allocates_little_beyond_the_matrix_itself():
    tracemalloc.start()
    try:
        data = make_synthetic("s", rows=200_000, features=50, task="classification", classes=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.25 * (data.X.nbytes + data.y.nbytes)


def test_an_unknown_name_says_where_the_summary_was_looked_for(tmp_path):
    with pytest.raises(DatasetError) as error:
        load_synthetic_like("no_such_set", tmp_path)
    message = str(error.value)
    assert message.startswith("dataset.synthetic_like: must name a PMLB set")
    assert str(tmp_path / "no_such_set" / "summary_stats.tsv") in message


def test_a_task_that_contradicts_the_set_is_an_error(shared_pmlb):
    with pytest.raises(DatasetError, match="dataset.task: a stand-in for 'mnist' has its task"):
        load_synthetic_like("mnist", shared_pmlb, task="regression")


def test_a_malformed_summary_is_a_clear_error(tmp_path):
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "summary_stats.tsv").write_text("dataset\tn_rows\nodd\t5\n")
    with pytest.raises(DatasetError, match="is not a PMLB summary_stats.tsv"):
        load_synthetic_like("odd", tmp_path)
