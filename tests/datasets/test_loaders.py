import numpy as np
import pytest

from leantune.datasets import THESIS_DATASETS, build_dataset, load_dataset, load_pmlb, pmlb_shape
from leantune.datasets._pmlb import _known_task, known_names, resolve_cache_dir
from leantune.errors import DatasetError
from leantune.spec import DatasetSpec


@pytest.mark.parametrize(
    ("name", "shape", "task", "classes"),
    [
        ("breast_cancer", (569, 30), "classification", 2),
        ("diabetes", (442, 10), "regression", None),
        ("iris", (150, 4), "classification", 3),
    ],
)
def test_sklearn_builtins(name, shape, task, classes):
    data = load_dataset(DatasetSpec(source="sklearn", name=name))
    assert data.X.shape == shape and data.task == task and data.n_classes == classes
    assert data.X.flags.c_contiguous and data.X.dtype == np.float64


def test_an_unknown_builtin_lists_the_known_ones():
    with pytest.raises(DatasetError, match="breast_cancer, diabetes, digits, iris, wine"):
        load_dataset(DatasetSpec(source="sklearn", name="mnist"))


@pytest.mark.parametrize(
    ("name", "shape", "task", "classes"),
    [
        ("diabetes", (768, 8), "classification", 2),
        ("529_pollen", (3848, 4), "regression", None),
        ("kddcup", (494020, 41), "classification", 23),
    ],
)
def test_pmlb_sets_load_from_the_shared_cache(shared_pmlb, name, shape, task, classes):
    data = load_pmlb(name, shared_pmlb)
    assert data.X.shape == shape and data.task == task and data.n_classes == classes
    assert data.provenance["source"] == "pmlb" and data.provenance["synthetic"] is False
    assert data.provenance["dropped_rows_with_nan"] == 0


def test_diabetes_is_found_under_its_upstream_name(shared_pmlb, tmp_path):
    renamed = tmp_path / "_deprecated_diabetes"
    renamed.mkdir()
    source = shared_pmlb / "diabetes" / "diabetes.tsv.gz"
    (renamed / "_deprecated_diabetes.tsv.gz").write_bytes(source.read_bytes())
    data = load_pmlb("diabetes", tmp_path)
    assert data.X.shape == (768, 8)
    assert data.provenance["stored_as"] == "_deprecated_diabetes"


def test_a_missing_set_offline_says_where_it_looked_and_how_to_fix_it(tmp_path, monkeypatch):
    # Port 9 on loopback refuses connections: the same path as a machine with no network.
    monkeypatch.setenv("LEANTUNE_PMLB_URL", "http://127.0.0.1:9")
    with pytest.raises(DatasetError) as error:
        load_pmlb("mnist", tmp_path)
    message = str(error.value)
    assert str(tmp_path / "mnist" / "mnist.tsv.gz") in message
    assert "place the PMLB file" in message
    assert not (tmp_path / "mnist").exists()


def test_an_unknown_pmlb_name_suggests_close_ones(tmp_path):
    with pytest.raises(DatasetError, match="did you mean 'kddcup'"):
        load_pmlb("kddcupp", tmp_path)


def test_nan_features_are_rejected_with_the_row():
    X = np.ones((10, 2))
    X[3, 1] = np.nan
    with pytest.raises(DatasetError, match="NaN or inf in 1 rows \\(first: row 3\\)"):
        build_dataset("bad", X, np.arange(10) % 2, task=None)


def test_one_class_only_is_rejected():
    with pytest.raises(DatasetError, match="at least 2 classes"):
        build_dataset("bad", np.ones((10, 2)), np.zeros(10), task="classification")


def test_an_empty_set_is_rejected():
    with pytest.raises(DatasetError, match="is empty"):
        build_dataset("bad", np.ones((0, 2)), np.zeros(0), task=None)


def test_labels_are_encoded_once_and_kept_in_code_order():
    data = build_dataset("labels", np.ones((4, 1)), np.array(["b", "a", "b", "c"]), task=None)
    assert data.task == "classification"
    assert data.y.tolist() == [1, 0, 1, 2]
    assert data.classes.tolist() == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("name", "task"),
    [
        ("mnist", "classification"),
        ("kddcup", "classification"),
        ("diabetes", "classification"),
        ("1191_BNG_pbc", "regression"),
        ("529_pollen", "regression"),
    ],
)
def test_the_five_thesis_sets_are_known_by_name(name, task):
    assert name in THESIS_DATASETS and name in known_names()
    assert _known_task(name) == task
    assert pmlb_shape(name, "/nonexistent").task == task  # known offline, from pmlb's table


def test_the_pmlb_cache_comes_from_the_spec_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LEANTUNE_PMLB_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir(None) == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "spec") == tmp_path / "spec"
    monkeypatch.delenv("LEANTUNE_PMLB_CACHE")
    assert str(resolve_cache_dir(None)).endswith(".cache/leantune/pmlb")


def test_a_pmlb_load_from_the_spec_uses_its_cache_dir(shared_pmlb):
    data = load_dataset(DatasetSpec(source="pmlb", name="529_pollen", cache_dir=shared_pmlb))
    assert data.X.shape == (3848, 4) and data.provenance["location"].startswith(str(shared_pmlb))


@pytest.mark.parametrize("name", ["breast_cancer", "diabetes", "digits", "iris", "wine"])
def test_a_builtins_known_shape_is_its_loaders(name):
    from leantune.datasets import BUILTINS, load_sklearn, sklearn_shape

    loaded, shape = load_sklearn(name), sklearn_shape(name)
    assert shape.X.shape == loaded.X.shape == (BUILTINS[name].rows, BUILTINS[name].features)
    assert shape.task == loaded.task == BUILTINS[name].task
    assert shape.n_classes == loaded.n_classes == BUILTINS[name].classes
    if loaded.task == "classification":
        np.testing.assert_array_equal(np.bincount(shape.y), np.bincount(loaded.y))
        assert tuple(np.bincount(loaded.y)) == BUILTINS[name].class_rows


def test_a_builtin_for_another_task_or_a_subsample_is_loaded_even_for_checks():
    from leantune.datasets import sklearn_shape

    assert sklearn_shape("iris", "regression") is None
    sampled = DatasetSpec(source="sklearn", name="digits", subsample={"rows": 500})
    data = load_dataset(sampled, shape_only=True)
    assert data.n_rows == 500 and not data.provenance.get("shape_only")
