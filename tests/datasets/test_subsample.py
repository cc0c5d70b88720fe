"""`dataset.subsample`: a seeded row sample drawn before the split, recorded in provenance."""

import numpy as np
import pytest

from leantune import SpecError, load_spec
from leantune.datasets import load_dataset, make_synthetic, subsample
from leantune.spec import dump_spec
from leantune.testing import tiny_spec


def test_a_count_is_short_for_rows_with_seed_0_and_dumps_to_a_spec_that_loads_again(tmp_path):
    spec = load_spec(tiny_spec(dataset={"name": "breast_cancer", "subsample": 100}))
    assert (spec.dataset.subsample.rows, spec.dataset.subsample.seed) == (100, 0)
    path = tmp_path / "again.yaml"
    path.write_text(dump_spec(spec))
    assert load_spec(path) == spec


@pytest.mark.parametrize("bad", [0, -5, "many", {"rows": 10, "sed": 1}])
def test_a_bad_subsample_names_the_field(bad):
    with pytest.raises(SpecError, match=r"dataset\.subsample"):
        load_spec(tiny_spec(dataset={"name": "breast_cancer", "subsample": bad}))


def test_the_sample_is_seeded_ordered_stratified_and_recorded():
    spec = load_spec(tiny_spec(dataset={"name": "breast_cancer", "subsample": 200}))
    whole = load_dataset(load_spec(tiny_spec()).dataset)
    first, again = load_dataset(spec.dataset), load_dataset(spec.dataset)
    np.testing.assert_array_equal(first.X, again.X)
    assert first.n_rows == 200
    assert first.provenance["subsample"] == {
        "rows": 200,
        "of_rows": whole.n_rows,
        "seed": 0,
        "stratified": True,
    }
    # Class shares are kept to within a row, and rows keep their original order.
    expected = np.bincount(whole.y) * 200 / whole.n_rows
    assert np.abs(np.bincount(first.y) - expected).max() <= 1
    positions = [int(np.flatnonzero((row == whole.X).all(axis=1))[0]) for row in first.X[:20]]
    assert positions == sorted(positions)
    assert "seeded subsample (seed 0) of 569 rows" in first.describe()
    other = load_dataset(
        load_spec(
            tiny_spec(dataset={"name": "breast_cancer", "subsample": {"rows": 200, "seed": 1}})
        ).dataset
    )
    assert not np.array_equal(other.X, first.X)


def test_every_class_keeps_two_rows_so_a_stratified_split_still_works():
    y = np.array([0] * 990 + [1] * 8 + [2] * 2)
    data = make_synthetic("rare", rows=1000, features=3, task="classification", classes=3)
    data = type(data)(**{**data.__dict__, "y": y})
    sample = subsample(data, 50, seed=3)
    assert sample.n_rows == 50
    assert np.bincount(sample.y).tolist()[1:] == [2, 2]


def test_more_classes_than_rows_allow_keeps_the_floors_a_few_rows_over():
    y = np.repeat(np.arange(10), 10)
    data = make_synthetic("many", rows=100, features=2, task="classification", classes=10)
    data = type(data)(**{**data.__dict__, "y": y})
    assert np.bincount(subsample(data, 5).y).tolist() == [2] * 10


def test_regression_samples_uniformly_and_a_small_set_is_used_whole():
    data = make_synthetic("reg", rows=500, features=2, task="regression")
    sample = subsample(data, 100, seed=0)
    assert sample.n_rows == 100 and sample.provenance["subsample"]["stratified"] is False
    for rows in (500, 10_000):
        whole = subsample(data, rows)
        assert whole.X is data.X and "subsample" not in whole.provenance
        assert whole.provenance["subsample_not_needed"] == {
            "asked_rows": rows,
            "rows": 500,
            "seed": 0,
        }
