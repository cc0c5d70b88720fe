import numpy as np
import pytest

from leantune.datasets import build_dataset, load_sklearn, make_splits
from leantune.errors import DatasetError


def _splits(data, folds=5):
    return make_splits(data, test_size=0.3, cv_folds=folds, holdout_size=0.2, seed=0)


def test_test_split_is_70_30_and_stratified():
    data = load_sklearn("breast_cancer")
    splits = _splits(data)
    assert len(splits.test_idx) == pytest.approx(0.3 * data.n_rows, abs=1)
    assert not set(splits.train_idx) & set(splits.test_idx)
    share = lambda idx: data.y[idx].mean()  # noqa: E731
    assert share(splits.train_idx) == pytest.approx(share(splits.test_idx), abs=0.02)


def test_folds_partition_the_training_part():
    splits = _splits(load_sklearn("breast_cancer"))
    validated = np.concatenate([fold.val_idx for fold in splits.folds])
    assert sorted(validated) == sorted(splits.train_idx)
    for fold in splits.folds:
        assert not set(fold.train_idx) & set(fold.val_idx)
        assert not set(fold.train_idx) & set(splits.test_idx)


def test_one_fold_means_a_single_holdout_split():
    splits = _splits(load_sklearn("breast_cancer"), folds=1)
    (fold,) = splits.folds
    assert len(fold.val_idx) == pytest.approx(0.2 * len(splits.train_idx), abs=1)


def test_no_statistic_of_validation_or_test_rows_leaks_into_a_fit():
    data = load_sklearn("breast_cancer")
    before = _splits(data)
    # Poison every row a fit must not see; the scaling of each fold must not move.
    poisoned_X = data.X.copy()
    poisoned_X[before.test_idx] = 1e6
    poisoned = build_dataset(data.name, poisoned_X, data.y, task=data.task)
    after = _splits(poisoned)
    for fold_before, fold_after in zip(before.folds, after.folds, strict=True):
        np.testing.assert_array_equal(fold_before.train_idx, fold_after.train_idx)
        np.testing.assert_allclose(fold_before.mean, fold_after.mean)
        np.testing.assert_allclose(fold_before.scale, fold_after.scale)
        train = data.X[fold_before.train_idx]
        np.testing.assert_allclose(fold_before.mean, train.mean(axis=0))
        np.testing.assert_allclose(fold_before.scale, train.std(axis=0))
    np.testing.assert_allclose(before.refit.mean, after.refit.mean)
    for fold in before.folds:
        poisoned_X = data.X.copy()
        poisoned_X[fold.val_idx] = -1e6
        again = _splits(build_dataset(data.name, poisoned_X, data.y, task=data.task))
        index = [f.val_idx.tolist() for f in again.folds].index(fold.val_idx.tolist())
        np.testing.assert_allclose(again.folds[index].mean, fold.mean)


def test_fewer_rows_than_folds_is_a_clear_error():
    data = build_dataset("small", np.arange(8.0).reshape(4, 2), np.arange(4.0), task="regression")
    with pytest.raises(DatasetError, match="validation.cv_folds: 5 folds need at least 5"):
        _splits(data)


def test_a_class_with_a_single_row_cannot_be_stratified():
    y = np.array([0] * 10 + [1] * 10 + [2])
    data = build_dataset("rare", np.random.default_rng(0).normal(size=(21, 2)), y, task=None)
    with pytest.raises(DatasetError, match="has only 1 row"):
        _splits(data, folds=2)


@pytest.mark.parametrize(
    ("rows", "task", "test_size", "folds", "holdout"),
    [
        (150, "classification", 0.3, 2, 0.2),
        (569, "classification", 0.3, 3, 0.2),
        (569, "classification", 0.25, 5, 0.2),
        (101, "classification", 0.33, 7, 0.2),
        (442, "regression", 0.3, 5, 0.2),
        (443, "regression", 0.17, 4, 0.2),
        (442, "regression", 0.3, 1, 0.25),
        (150, "classification", 0.3, 1, 0.2),
    ],
)
def test_fold_train_rows_is_what_the_splits_give(rows, task, test_size, folds, holdout):
    from leantune.datasets import fold_train_rows

    rng = np.random.default_rng(rows)
    # Uneven classes, so stratified folds differ from plain ones.
    y = (
        rng.choice(3, size=rows, p=[0.5, 0.3, 0.2])
        if task == "classification"
        else rng.random(rows)
    )
    data = build_dataset("d", rng.random((rows, 3)), y, task=task)
    options = dict(test_size=test_size, cv_folds=folds, holdout_size=holdout, seed=0)
    assert fold_train_rows(data, **options) == make_splits(data, **options).min_fold_train_size


def test_fold_train_rows_refuses_what_the_splits_refuse():
    from leantune.datasets import fold_train_rows

    few = build_dataset("few", np.zeros((6, 2)), [0, 0, 0, 1, 1, 1], task="classification")
    huge = build_dataset("huge", np.array([[1e300], [-1e300]] * 10), [0.0, 1.0] * 10, task=None)
    for data, message in ((few, "stratified folds"), (huge, "too large to standardise")):
        options = dict(test_size=0.3, cv_folds=4, holdout_size=0.2, seed=0)
        with pytest.raises(DatasetError, match=message):
            make_splits(data, **options)
        with pytest.raises(DatasetError, match=message):
            fold_train_rows(data, **options)
