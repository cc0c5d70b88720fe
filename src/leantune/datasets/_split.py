"""Leakage-free splits: a held-out test part, K cross-validation folds, and per-fold scaling.

Splits are index arrays into the one shared feature matrix, so nothing here copies the data.
Each fold carries the StandardScaler statistics of its own training rows only.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from leantune.datasets._dataset import Dataset
from leantune.datasets._prepare import chunk_rows
from leantune.errors import DatasetError


@dataclass(frozen=True)
class Fold:
    """Rows to train on, rows to evaluate on, and the scaling fitted on the training rows."""

    train_idx: np.ndarray
    val_idx: np.ndarray
    mean: np.ndarray
    scale: np.ndarray


@dataclass(frozen=True)
class Splits:
    train_idx: np.ndarray
    test_idx: np.ndarray
    folds: list[Fold]
    refit: Fold
    """The whole training part against the test part, scaled on the training part only."""

    @property
    def min_fold_train_size(self) -> int:
        return min(len(fold.train_idx) for fold in self.folds)


def make_splits(
    data: Dataset, *, test_size: float, cv_folds: int, holdout_size: float, seed: int
) -> Splits:
    """Split 70/30 (by default), stratified for classification, then fold the training part."""
    # Here, not at the top: `leantune datasets` reads this package and loads no scikit-learn.
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    stratify = data.task == "classification"
    _check_sizes(data, test_size=test_size, cv_folds=cv_folds, stratify=stratify)
    rows = np.arange(data.n_rows)
    train_idx, test_idx = train_test_split(
        rows,
        test_size=test_size,
        random_state=seed,
        stratify=data.y if stratify else None,
    )
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    y_train = data.y[train_idx]
    if cv_folds == 1 and stratify:
        _check_holdout(data, y_train, holdout_size)
    if cv_folds == 1:
        fit_rows, val_rows = train_test_split(
            train_idx,
            test_size=holdout_size,
            random_state=seed,
            stratify=y_train if stratify else None,
        )
        pairs = [(np.sort(fit_rows), np.sort(val_rows))]
    else:
        splitter = (
            StratifiedKFold(cv_folds, shuffle=True, random_state=seed)
            if stratify
            else KFold(cv_folds, shuffle=True, random_state=seed)
        )
        with warnings.catch_warnings():
            # Rare classes with fewer members than folds are fine for us: they still land in
            # some folds' training rows, and every fold sees every class code via `classes`.
            warnings.simplefilter("ignore", UserWarning)
            pairs = [(train_idx[a], train_idx[b]) for a, b in splitter.split(train_idx, y_train)]
    folds = [_fold(data.X, fit, val) for fit, val in pairs]
    refit = _fold(data.X, train_idx, test_idx)
    _check_scaling(data, [*folds, refit])
    return Splits(train_idx, test_idx, folds, refit)


def fold_train_rows(
    data: Dataset, *, test_size: float, cv_folds: int, holdout_size: float, seed: int
) -> int:
    """The smallest training fold's rows that `make_splits` would give, after every check it
    makes, with no split built: `leantune validate` then loads no scikit-learn (most of a
    second). Sizes follow scikit-learn's rules: the test part holds ceil(test_size · n) rows,
    and a K-fold test fold, stratified or not, at most ceil(n_train / K). Where sizes alone
    cannot tell (a stratified holdout's class counts, values large enough that a fold's
    scaling might overflow), the splits are built."""
    stratify = data.task == "classification"
    if (cv_folds == 1 and stratify) or not _scaling_is_finite(data):
        splits = make_splits(
            data, test_size=test_size, cv_folds=cv_folds, holdout_size=holdout_size, seed=seed
        )
        return splits.min_fold_train_size
    _check_sizes(data, test_size=test_size, cv_folds=cv_folds, stratify=stratify)
    n_train = data.n_rows - math.ceil(test_size * data.n_rows)
    if cv_folds == 1:
        return n_train - math.ceil(holdout_size * n_train)
    return n_train - math.ceil(n_train / cv_folds)


def _scaling_is_finite(data: Dataset) -> bool:
    """Whether no fold's mean or variance can overflow: every deviation, square and sum of
    squares stays within float64 when |x| · 4n is below the square root of its largest value."""
    if data.n_rows == 0:
        return True
    largest = max(abs(float(data.X.max())), abs(float(data.X.min())))
    return largest * 4 * data.n_rows < math.sqrt(np.finfo(np.float64).max)


def _check_scaling(data: Dataset, folds: list[Fold]) -> None:
    """Finite values whose squares overflow (1e308) give an infinite or NaN scale: every trial
    would then train on NaN. Refuse them here, naming the columns."""
    bad = np.zeros(data.n_features, dtype=bool)
    for fold in folds:
        bad |= ~(np.isfinite(fold.mean) & np.isfinite(fold.scale))
    if bad.any():
        names = [data.feature_names[i] for i in np.flatnonzero(bad)]
        listed = ", ".join(repr(n) for n in names[:10]) + (
            f", … ({len(names)} in all)" if len(names) > 10 else ""
        )
        raise DatasetError(
            f"dataset {data.name!r}: features {listed} hold values too large to standardise "
            "(their variance overflows float64, e.g. values near 1e308); rescale them first, "
            "e.g. to a unit such that values stay below 1e150"
        )


def _check_holdout(data: Dataset, y_train: np.ndarray, holdout_size: float) -> None:
    counts = np.bincount(y_train, minlength=len(data.classes))
    n_val = math.ceil(len(y_train) * holdout_size)
    if counts.min() < 2:
        raise DatasetError(
            f"validation.cv_folds: 1 (a holdout split) is stratified and needs at least 2 "
            f"training rows per class; class {data.classes[int(np.argmin(counts))]!r} of "
            f"{data.name!r} has {counts.min()} after the test split. Use more rows or a "
            "smaller validation.test_size"
        )
    if not _fits_every_class(n_val, len(y_train), int(np.count_nonzero(counts))):
        raise DatasetError(
            f"validation.holdout_size: must leave at least one row per class ({len(counts)} "
            f"classes) on each side of the holdout split of {len(y_train)} training rows; got "
            f"{holdout_size}, which holds out {n_val}"
        )


def _fits_every_class(n_part: int, n_rows: int, n_classes: int) -> bool:
    """Whether a stratified split of `n_rows` into `n_part` and the rest can hold every class
    on both sides (scikit-learn's own condition)."""
    return n_classes <= n_part <= n_rows - n_classes


def _fold(X: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray) -> Fold:
    # Fitted a block of training rows at a time: `X[train_idx]` whole would copy most of the
    # dataset (130 MB of kddcup's 160) once per fold.
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    step = chunk_rows(X)
    with np.errstate(over="ignore", invalid="ignore"):  # overflowing columns are refused after
        for start in range(0, len(train_idx), step):
            scaler.partial_fit(X[train_idx[start : start + step]])
    return Fold(
        train_idx=train_idx.astype(np.int64),
        val_idx=val_idx.astype(np.int64),
        mean=scaler.mean_.copy(),
        scale=scaler.scale_.copy(),
    )


def _check_sizes(data: Dataset, *, test_size: float, cv_folds: int, stratify: bool) -> None:
    n_train = int(data.n_rows * (1 - test_size))
    if n_train < max(cv_folds, 2):
        raise DatasetError(
            f"validation.cv_folds: {cv_folds} folds need at least {max(cv_folds, 2)} training "
            f"rows, but {data.name!r} has {data.n_rows} rows and test_size={test_size} leaves "
            f"{n_train}"
        )
    if stratify:
        counts = np.bincount(data.y)
        if counts.min() < 2:
            rare = int(np.argmin(counts))
            raise DatasetError(
                f"dataset {data.name!r}: class {data.classes[rare]!r} has only "
                f"{counts.min()} row; a stratified train/test split needs at least 2 per class"
            )
        n_test = math.ceil(data.n_rows * test_size)
        if not _fits_every_class(n_test, data.n_rows, len(counts)):
            raise DatasetError(
                f"validation.test_size: must leave at least one row per class ({len(counts)} "
                f"classes) in both the test and the training part of {data.n_rows} rows of "
                f"{data.name!r}; got {test_size}, which holds out {n_test}"
            )
        if cv_folds > 1 and cv_folds > int(counts.max() * (1 - test_size)):
            raise DatasetError(
                f"validation.cv_folds: {cv_folds} stratified folds need more rows per class; "
                f"the largest class of {data.name!r} has {counts.max()} rows"
            )
