"""The minibatch backend's compiled kernel: many mini-batch SGD steps in one call.

One call runs a whole report window: it gathers and scales each batch's rows itself (no
per-step numpy temporaries), records the batch's progressive loss (under the weights before
its update) and updates the weights in place. Python's cost is paid once per call.

numba compiles it on first use and caches the machine code next to this file (or in
NUMBA_CACHE_DIR), so a machine compiles it once and every later process only loads it.
"""

from __future__ import annotations

import math

import numpy as np

# numba's np.dot calls scipy's BLAS. Loading it now, at import, lets a trial's
# threadpool_limits (entered later) see it and hold it to the trial's CPUs.
import scipy.linalg  # noqa: F401
from numba import njit

SQUARED, LOG, HINGE = 0, 1, 2

# How run_steps ended: every step done, or stopped at a step whose loss or update was not finite.
DONE, LOSS_NOT_FINITE, WEIGHTS_NOT_FINITE = 0, 1, 2

# From this many multiply-adds a batch (rows × outputs × features) the forward and backward
# passes go to BLAS; below it, plain loops win (a BLAS call costs ~1 µs before any arithmetic).
# Measured on kddcup's and diabetes' shapes: BLAS is ahead from a few hundred.
_BLAS_FROM = 1 << 9

# Reassociation lets LLVM vectorize the dot products. No "nnan"/"ninf": divergence must show.
_FAST = {"reassoc", "contract"}


@njit(cache=True, nogil=True, fastmath=_FAST)
def _loss_and_slope(kind: int, decision: float, target: float) -> tuple[float, float]:
    """One row and output: (loss, d loss / d decision). `target` is y (squared) or ±1."""
    if kind == SQUARED:
        residual = decision - target
        return 0.5 * residual * residual, residual
    margin = target * decision
    if kind == HINGE:
        if margin <= 1.0:  # scikit-learn's Hinge: the slope is -y at the threshold too
            return 1.0 - margin, -target
        return 0.0, 0.0
    # log(1 + exp(-margin)) and its slope from one exp, stable for large |margin|. log(1 + t)
    # rather than log1p(t): glibc's log is the faster, and it loses at most 1.1e-16 of a loss.
    tail = math.exp(-abs(margin))
    if margin > 0.0:
        return math.log(1.0 + tail), -target * tail / (1.0 + tail)
    return -margin + math.log(1.0 + tail), -target / (1.0 + tail)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _log_parts(decision: float, target: float) -> tuple[float, float, float]:
    """The log loss of one row and output split as max(−m, 0) + log(factor), and its slope
    (as _loss_and_slope's): the caller multiplies a row's factors and takes one log a row."""
    margin = target * decision
    tail = math.exp(-abs(margin))
    if margin > 0.0:
        return 0.0, 1.0 + tail, -target * tail / (1.0 + tail)
    return -margin, 1.0 + tail, -target / (1.0 + tail)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _target(kind: int, label: float, output: int, n_outputs: int) -> float:
    """y for regression; ±1 for a binary model (class 1 positive) or a one-vs-rest output."""
    if kind == SQUARED:
        return label
    if n_outputs == 1:
        return 1.0 if label == 1 else -1.0
    return 1.0 if label == output else -1.0


@njit(cache=True, nogil=True, fastmath=_FAST)
def run_steps(
    X: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    start: int,
    steps: int,
    batch_size: int,
    mean: np.ndarray,
    inv_scale: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    kind: int,
    learning_rate: float,
    alpha: float,
    losses: np.ndarray,
) -> tuple[int, int]:
    """Run `steps` batches of `order[start:]` (the last one may be short at the end of
    `order`), updating `coef` (outputs × features) and `intercept` in place:

        w ← w − learning_rate · (mean over the batch of ∂loss/∂w + alpha · w)
        b ← b − learning_rate · mean over the batch of ∂loss/∂b

    Row r is (X[r] − mean) · inv_scale. y holds targets (squared loss) or class codes.
    losses[s] gets step s's mean loss over rows and outputs, before its update (the log
    loss with one log a row, as in score_rows; the slopes are exact).
    Returns (steps done, DONE | LOSS_NOT_FINITE | WEIGHTS_NOT_FINITE).
    """
    n_outputs, n_features = coef.shape
    n_rows = order.shape[0]
    rows = np.empty((batch_size, n_features))
    slopes_t = np.empty((n_outputs, batch_size))
    decisions = np.empty((batch_size, n_outputs))
    gradient = np.empty((n_outputs, n_features))
    bias_slopes = np.empty(n_outputs)
    blas = batch_size * n_outputs * n_features >= _BLAS_FROM
    shrink = 1.0 - learning_rate * alpha
    position = start
    for step in range(steps):
        size = min(batch_size, n_rows - position)
        for i in range(size):
            r = order[position + i]
            for j in range(n_features):
                rows[i, j] = (X[r, j] - mean[j]) * inv_scale[j]
        total = 0.0
        if blas and size == batch_size:
            # Into buffers made once a call: a fresh array a step costs page faults at large
            # batch sizes, and allocation at small ones.
            np.dot(rows, coef.T, decisions)
            per_row = 1.0 / size
            bias_slopes[:] = 0.0
            for i in range(size):
                label = y[order[position + i]]
                product = 1.0
                for k in range(n_outputs):
                    decision = decisions[i, k] + intercept[k]
                    target = _target(kind, label, k, n_outputs)
                    if kind == LOG:
                        value, factor, slope = _log_parts(decision, target)
                        product *= factor
                    else:
                        value, slope = _loss_and_slope(kind, decision, target)
                    total += value
                    slope *= per_row
                    slopes_t[k, i] = slope
                    bias_slopes[k] += slope
                total += math.log(product)
            np.dot(slopes_t, rows, gradient)
        else:
            gradient[:, :] = 0.0
            bias_slopes[:] = 0.0
            for i in range(size):
                label = y[order[position + i]]
                product = 1.0
                for k in range(n_outputs):
                    decision = intercept[k]
                    for j in range(n_features):
                        decision += rows[i, j] * coef[k, j]
                    target = _target(kind, label, k, n_outputs)
                    if kind == LOG:
                        value, factor, slope = _log_parts(decision, target)
                        product *= factor
                    else:
                        value, slope = _loss_and_slope(kind, decision, target)
                    total += value
                    slope /= size
                    bias_slopes[k] += slope
                    if slope != 0.0:
                        for j in range(n_features):
                            gradient[k, j] += slope * rows[i, j]
                total += math.log(product)
        losses[step] = total / (size * n_outputs)
        if not math.isfinite(losses[step]):
            return step + 1, LOSS_NOT_FINITE
        check = 0.0
        for k in range(n_outputs):
            intercept[k] -= learning_rate * bias_slopes[k]
            check += intercept[k]
            for j in range(n_features):
                coef[k, j] = shrink * coef[k, j] - learning_rate * gradient[k, j]
                check += coef[k, j]
        # A sum of finite and infinite or NaN values is never finite: one test for them all.
        if not math.isfinite(check):
            return step + 1, WEIGHTS_NOT_FINITE
        position += size
    return steps, DONE


# Rows a scoring pass gathers at a time: one BLAS product per block of rows.
_SCORE_BLOCK = 256


@njit(cache=True, nogil=True, fastmath=_FAST)
def score_rows(
    X: np.ndarray,
    y: np.ndarray,
    rows: np.ndarray,
    mean: np.ndarray,
    inv_scale: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    kind: int,
) -> tuple[float, float, float]:
    """Score `rows` of the unscaled X, as `leantune.metrics.evaluate` does with numpy:
    (the loss summed over rows and outputs, the rows predicted right (classifiers), the
    squared error summed over rows (regression)).

    The scaling is folded into the weights, so rows are read as stored. The log loss of a
    row's outputs is Σ max(−m, 0) + log Π (1 + exp(−|m|)): one log a row instead of one an
    output (each factor lies in (1, 2], so the product of a row's outputs cannot overflow
    below 1,024 outputs; the estimators take at most 1,000 classes), which halves the cost of
    scoring a 23-class row.
    """
    n_outputs, n_features = coef.shape
    folded = np.empty((n_outputs, n_features))
    shifted = np.empty(n_outputs)
    for k in range(n_outputs):
        shifted[k] = intercept[k]
        for j in range(n_features):
            folded[k, j] = coef[k, j] * inv_scale[j]
            shifted[k] -= folded[k, j] * mean[j]
    block = np.empty((_SCORE_BLOCK, n_features))
    loss_sum, hits, squared = 0.0, 0.0, 0.0
    for first in range(0, rows.shape[0], _SCORE_BLOCK):
        size = min(_SCORE_BLOCK, rows.shape[0] - first)
        for i in range(size):
            r = rows[first + i]
            for j in range(n_features):
                block[i, j] = X[r, j]
        decisions = np.dot(block[:size], folded.T)
        for i in range(size):
            label = y[rows[first + i]]
            best, best_output, decision = -math.inf, 0, 0.0
            product, excess = 1.0, 0.0
            for k in range(n_outputs):
                decision = decisions[i, k] + shifted[k]
                target = _target(kind, label, k, n_outputs)
                if kind == LOG:
                    extra, factor, _ = _log_parts(decision, target)
                    product *= factor
                    excess += extra
                else:
                    value, _ = _loss_and_slope(kind, decision, target)
                    loss_sum += value
                if decision > best:  # the first of equal maxima, as numpy's argmax
                    best, best_output = decision, k
            if kind == LOG:
                loss_sum += excess + math.log(product)
            if kind == SQUARED:
                squared += (decision - label) * (decision - label)
            elif n_outputs == 1:
                hits += 1.0 if (decision > 0.0) == (label == 1) else 0.0
            else:
                hits += 1.0 if best_output == label else 0.0
    return loss_sum, hits, squared
