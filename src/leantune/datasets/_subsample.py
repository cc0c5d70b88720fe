"""A seeded row subsample of a dataset, drawn before splitting, for studies on a budget.

Classification samples each class in proportion to its size, but keeps at least two rows of
every class (all of a class that has fewer): a class left with one row could not be split
into a stratified train and test part, and dropping it would change the task.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from leantune.datasets._dataset import Dataset


def subsample(data: Dataset, rows: int, seed: int = 0) -> Dataset:
    """`rows` rows of `data`, in their original order; `data` itself when it has no more."""
    if rows < 1:
        raise ValueError(f"subsample rows must be >= 1; got {rows}")
    if data.n_rows <= rows:
        # Every row is used; the provenance says a subsample was asked for and why it is not
        # one, so no output can read as if the set had been cut.
        asked = {"asked_rows": rows, "rows": data.n_rows, "seed": seed}
        return dataclasses.replace(
            data, provenance={**data.provenance, "subsample_not_needed": asked}
        )
    rng = np.random.default_rng(seed)
    stratified = data.task == "classification"
    if stratified:
        picked = _stratified(data.y, rows, rng)
    else:
        picked = rng.choice(data.n_rows, size=rows, replace=False)
    picked = np.sort(picked)
    provenance = {
        **data.provenance,
        "subsample": {
            "rows": len(picked),
            "of_rows": data.n_rows,
            "seed": seed,
            "stratified": stratified,
        },
    }
    return dataclasses.replace(
        data,
        X=np.ascontiguousarray(data.X[picked]),
        y=np.ascontiguousarray(data.y[picked]),
        provenance=provenance,
    )


def _stratified(y: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    counts = np.bincount(y)
    floor = np.minimum(counts, 2)
    share = counts * (rows / len(y))
    quota = np.maximum(np.floor(share).astype(np.int64), floor)
    # Hand out what is left (or take back what the floors overspent) one row at a time: the
    # largest remainders first, never above a class's size nor below its floor.
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    gap = rows - int(quota.sum())
    while gap > 0:
        for code in order:
            if gap and quota[code] < counts[code]:
                quota[code] += 1
                gap -= 1
    biggest = np.argsort(-quota, kind="stable")
    # With more classes than rows/2 the floors alone exceed `rows`: keep them, a few rows over.
    while gap < 0 and (quota > floor).any():
        for code in biggest:
            if gap and quota[code] > floor[code]:
                quota[code] -= 1
                gap += 1
    return np.concatenate(
        [
            rng.choice(np.flatnonzero(y == code), size=int(quota[code]), replace=False)
            for code in range(len(counts))
            if quota[code]
        ]
    )
