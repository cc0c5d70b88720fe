"""The minibatch backend's compiled kernel: many mini-batch SGD steps in one call.

One call runs a whole report window: it gathers each batch's rows itself (no per-step numpy
temporaries), records the batch's progressive loss (under the weights before its update) and
updates the weights in place. Python's cost is paid once per call. The per-value work (the
loss, its slope, the exp of the log loss) runs in flat, branch-free passes that LLVM
vectorizes; the two products a step needs go to BLAS, a cache-sized block of rows at a time.

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

# exp(x) for x ≤ 0, written so that LLVM vectorizes a loop of it (glibc's exp is a call per
# element, ~4.5 ns; this is ~1.1 ns with AVX-512): x = n·ln2 + r with |r| ≤ ln2/2 (Cody and
# Waite's two-part ln2), exp(r) by its Taylor polynomial to r^12 (relative error ≤ 4e-16), and
# 2^n from the exponent bits. Below -600 it is 0: exp(-600) = 2.7e-261 changes no loss and
# no weight, and below it the slopes (times 1/batch) would reach subnormal numbers, which x86
# computes with slowly in the products that follow.
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_LOG2_E = 1.4426950408889634
_EXP_ZERO_BELOW = -600.0
# A step (and a scoring pass) works through its rows a block at a time: the block's rows,
# decisions and slopes stay in the L2 cache from one product to the next, where a whole
# batch of thousands of rows (and the lines of X it was gathered from) would not.
_BLOCK = 256
_EXP_TAYLOR = tuple(1.0 / math.factorial(n) for n in range(12, -1, -1))


@njit(cache=True, nogil=True, fastmath=_FAST)
def _exp_parts(x: float) -> tuple[float, int]:
    """exp(x) = mantissa · 2^power, for x ≤ 0: the caller makes 2^power from exponent bits."""
    zero = x < _EXP_ZERO_BELOW
    x = max(x, _EXP_ZERO_BELOW)  # keeps 2^n in the normal range
    power = math.floor(x * _LOG2_E + 0.5)
    r = (x - power * _LN2_HI) - power * _LN2_LO
    mantissa = 0.0
    for coefficient in _EXP_TAYLOR:  # Horner; unrolled, the tuple being constant
        mantissa = mantissa * r + coefficient
    return 0.0 if zero else mantissa, (np.int64(power) + 1023) << 52


@njit(cache=True, nogil=True, fastmath=_FAST)
def _to_slopes(
    kind: int,
    values: np.ndarray,
    targets: np.ndarray,
    size: int,
    slope_scale: float,
    scratch: tuple,
) -> float:
    """Turn a batch's decisions (values[:size], rows × outputs, C-ordered) into its loss
    slopes times `slope_scale`, in place; return the loss summed over rows and outputs.

    targets[i] is y (squared loss, one output) or the output whose one-vs-rest target is +1
    (−1: none; a binary model's one output is positive for class 1). One flat pass over
    every value takes each output as negative, branch-free, so that LLVM vectorizes it
    whatever the number of outputs; a pass over rows then mends each row's positive output.
    The log loss is max(−m, 0) + log(1 + exp(−|m|)), its exp by _exp_parts, with one log a
    row: log Π (1 + exp(−|m|)) (each factor lies in (1, 2], so the product of a row's outputs
    cannot overflow below 1,024 outputs; the estimators take at most 1,000 classes).
    """
    flat, tails, bits, powers, positives = scratch
    n_outputs = values.shape[1]
    count = size * n_outputs
    total = 0.0
    if kind == SQUARED:  # one output: a flat index is a row
        for i in range(size):
            residual = flat[i] - targets[i]
            total += 0.5 * residual * residual
            flat[i] = residual * slope_scale
        return total
    # The sum of the decisions: a NaN one fails no comparison in the branch-free passes, so
    # the loss carries 0 · this sum, which is NaN exactly when a decision is NaN or infinite.
    decisions = 0.0
    # The positive outputs' decisions, before the flat pass writes slopes over them.
    for i in range(size):
        positives[i] = values[i, max(np.int64(targets[i]), 0)]
    if kind == HINGE:
        # scikit-learn's Hinge: max(0, 1 − m), its slope −y where m ≤ 1 (the threshold too).
        for index in range(count):  # negative target: m = −v
            inside = flat[index] >= -1.0
            total += 1.0 + flat[index] if inside else 0.0
            decisions += flat[index]
            flat[index] = slope_scale if inside else 0.0
        for i in range(size):  # branch-free: a binary model's rows are positive at random
            k = np.int64(targets[i])
            decision, at = positives[i], max(k, 0)
            inside = decision <= 1.0
            mended = (1.0 - decision if inside else 0.0) - (
                1.0 + decision if decision >= -1.0 else 0.0
            )
            total += mended if k >= 0 else 0.0
            values[i, at] = (-slope_scale if inside else 0.0) if k >= 0 else values[i, at]
        return total + 0.0 * decisions
    for index in range(count):
        tails[index], bits[index] = _exp_parts(-abs(flat[index]))
        decisions += flat[index]
    for index in range(count):  # negative target: m = −v, loss max(v, 0) + log(1 + tail)
        decision = flat[index]
        tail = tails[index] * powers[index]
        tails[index] = tail
        total += max(decision, 0.0)
        flat[index] = (1.0 if decision > 0.0 else tail) / (1.0 + tail) * slope_scale
    for i in range(size):
        product = 1.0
        for k in range(n_outputs):
            product *= 1.0 + tails[i * n_outputs + k]
        total += math.log(product)
        k = np.int64(targets[i])
        decision, at = positives[i], max(k, 0)
        tail = tails[i * n_outputs + at]
        total += max(-decision, 0.0) - max(decision, 0.0) if k >= 0 else 0.0
        mended = -(tail if decision > 0.0 else 1.0) / (1.0 + tail) * slope_scale
        values[i, at] = mended if k >= 0 else values[i, at]
    return total + 0.0 * decisions


@njit(cache=True, nogil=True, fastmath=_FAST)
def _target_of(kind: int, label: float, n_outputs: int) -> float:
    """What _to_slopes reads for a row: y, or the output whose target is +1 (−1: none)."""
    if kind == SQUARED or n_outputs > 1:
        return label
    return 0.0 if label == 1 else -1.0


@njit(cache=True, nogil=True)
def _scratch(values: np.ndarray) -> tuple:
    """_to_slopes' views and buffers for a block of `values` (made once a call: a view made
    in a step costs reference counting there): values flat, tails, exponent bits, the same
    bits as floats, positive decisions."""
    rows, n_outputs = values.shape
    bits = np.empty(rows * n_outputs, dtype=np.int64)
    return (
        values.reshape(-1),
        np.empty(rows * n_outputs),
        bits,
        bits.view(np.float64),
        (np.empty(rows)),
    )


@njit(cache=True, nogil=True, fastmath=_FAST)
def _augmented(coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """The weights of a row with a last column of 1s: coef (outputs × features) with the
    intercept as a last column. The gradient has the same layout, so an update runs along
    contiguous memory."""
    n_outputs, n_features = coef.shape
    weights = np.empty((n_outputs, n_features + 1))
    weights[:, :n_features] = coef
    weights[:, n_features] = intercept
    return weights


@njit(cache=True, nogil=True, fastmath=_FAST)
def _fold(weights: np.ndarray, mean: np.ndarray, inv_scale: np.ndarray, folded: np.ndarray):
    """folded ← the augmented `weights` of scaled rows, for rows read as stored:
    weights · inv_scale, and the intercept shifted by the mean."""
    n_features = weights.shape[1] - 1
    for k in range(weights.shape[0]):
        shift = 0.0
        for j in range(n_features):
            folded[k, j] = weights[k, j] * inv_scale[j]
            shift += folded[k, j] * mean[j]
        folded[k, n_features] = weights[k, n_features] - shift


@njit(cache=True, nogil=True, fastmath=_FAST)
def _gather(
    X: np.ndarray,
    rows_of: np.ndarray,
    first: int,
    size: int,
    mean: np.ndarray,
    inv_scale: np.ndarray,
    scaled: bool,
    rows: np.ndarray,
) -> None:
    """rows[:size] ← X[rows_of[first:first + size]], scaled when `scaled`, and a last
    column of 1s (so one product gives decisions with their intercepts, and gradients with
    their bias slopes)."""
    n_features = X.shape[1]
    for i in range(size):
        r = rows_of[first + i]
        if scaled:
            for j in range(n_features):
                rows[i, j] = (X[r, j] - mean[j]) * inv_scale[j]
        else:
            for j in range(n_features):
                rows[i, j] = X[r, j]
        rows[i, n_features] = 1.0


@njit(cache=True, nogil=True, fastmath=_FAST)
def _decide(rows: np.ndarray, folded: np.ndarray, size: int, blas: bool, values: np.ndarray):
    """values[:size] ← rows[:size] · foldedᵀ: BLAS (into the buffer when it is whole), or
    plain loops for a small problem."""
    if blas and size == rows.shape[0]:
        np.dot(rows, folded.T, values)
        return
    if blas:
        values[:size] = np.dot(rows[:size], folded.T)
        return
    for i in range(size):
        for k in range(folded.shape[0]):
            decision = 0.0
            for j in range(rows.shape[1]):
                decision += rows[i, j] * folded[k, j]
            values[i, k] = decision


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

    A step: gather the batch's rows with a column of 1s, decisions = rows · W (BLAS from
    _BLAS_FROM multiply-adds, plain loops below), slopes in place of the decisions,
    gradient = slopesᵀ · rows (its last column: the bias slopes). From a batch of as many
    rows as outputs on, the scaling is folded into the weights (outputs × features a step)
    instead of applied to the rows (rows × features a step), and the gradient of the raw rows
    is turned into the scaled rows' one.
    """
    n_outputs, n_features = coef.shape
    n_rows = order.shape[0]
    scaled = batch_size < n_outputs
    block = min(batch_size, _BLOCK)
    blas = block * n_outputs * n_features >= _BLAS_FROM
    # Buffers made once a call (a fresh array a step costs page faults at large batch sizes,
    # and allocation at small ones). The weights are held augmented for the call (outputs ×
    # features, the intercept as a last column, as the gradient is), so that the update runs
    # along contiguous rows; written back at the end.
    weights = _augmented(coef, intercept)
    folded = weights if scaled else np.empty((n_outputs, n_features + 1))
    rows = np.empty((block, n_features + 1))
    targets = np.empty(block)
    values = np.empty((block, n_outputs))
    scratch = _scratch(values)
    gradient = np.empty((n_outputs, n_features + 1))
    part = np.empty((n_outputs, n_features + 1))
    shrink = 1.0 - learning_rate * alpha
    position, done, status = start, steps, DONE
    for step in range(steps):
        size = min(batch_size, n_rows - position)
        if not scaled:
            _fold(weights, mean, inv_scale, folded)
        # A step of one whole block (batch ≤ _BLOCK): its product is the gradient itself.
        whole = blas and size == block
        if not whole:
            gradient[:, :] = 0.0
        total = 0.0
        for first in range(position, position + size, block):
            count = min(block, position + size - first)
            _gather(X, order, first, count, mean, inv_scale, scaled, rows)
            for i in range(count):
                targets[i] = _target_of(kind, y[order[first + i]], n_outputs)
            _decide(rows, folded, count, blas, values)
            total += _to_slopes(kind, values, targets, count, 1.0 / size, scratch)
            # slopesᵀ · rows: BLAS is ~2× faster this way round than rowsᵀ · slopes.
            if whole:
                np.dot(values.T, rows, gradient)
            elif blas and count == block:
                np.dot(values.T, rows, part)
                gradient += part
            elif blas:  # a block cut short by the end of the rows
                gradient += np.dot(values[:count].T, rows[:count])
            else:
                for i in range(count):
                    for k in range(n_outputs):
                        for j in range(n_features + 1):
                            gradient[k, j] += values[i, k] * rows[i, j]
        losses[step] = total / (size * n_outputs)
        if not math.isfinite(losses[step]):
            done, status = step + 1, LOSS_NOT_FINITE
            break
        check = 0.0
        for k in range(n_outputs):
            bias_slope = gradient[k, n_features]
            weights[k, n_features] -= learning_rate * bias_slope
            check += weights[k, n_features]
            if scaled:
                for j in range(n_features):
                    weights[k, j] = shrink * weights[k, j] - learning_rate * gradient[k, j]
                    check += weights[k, j]
            else:  # the scaled rows' gradient, from the raw rows' one
                for j in range(n_features):
                    slope = inv_scale[j] * (gradient[k, j] - mean[j] * bias_slope)
                    weights[k, j] = shrink * weights[k, j] - learning_rate * slope
                    check += weights[k, j]
        # A sum of finite and infinite or NaN values is never finite: one test for them all.
        if not math.isfinite(check):
            done, status = step + 1, WEIGHTS_NOT_FINITE
            break
        position += size
    coef[:, :] = weights[:, :n_features]
    intercept[:] = weights[:, n_features]
    return done, status


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

    The scaling is folded into the weights, so rows are read as stored; the loss is
    run_steps' (_to_slopes, its slopes unused).
    """
    n_outputs, n_features = coef.shape
    folded = np.empty((n_outputs, n_features + 1))
    _fold(_augmented(coef, intercept), mean, inv_scale, folded)
    block = np.empty((_BLOCK, n_features + 1))
    targets = np.empty(_BLOCK)
    decisions = np.empty((_BLOCK, n_outputs))
    scratch = _scratch(decisions)
    loss_sum, hits, squared = 0.0, 0.0, 0.0
    for first in range(0, rows.shape[0], _BLOCK):
        size = min(_BLOCK, rows.shape[0] - first)
        _gather(X, rows, first, size, mean, inv_scale, False, block)
        _decide(block, folded, size, True, decisions)
        for i in range(size):
            label = y[rows[first + i]]
            targets[i] = _target_of(kind, label, n_outputs)
            best, best_output = decisions[i, 0], 0
            for k in range(1, n_outputs):
                if decisions[i, k] > best:  # the first of equal maxima, as numpy's argmax
                    best, best_output = decisions[i, k], k
            if kind == SQUARED:
                squared += (best - label) * (best - label)
            elif n_outputs == 1:
                hits += 1.0 if (best > 0.0) == (label == 1) else 0.0
            else:
                hits += 1.0 if best_output == label else 0.0
        loss_sum += _to_slopes(kind, decisions, targets, size, 0.0, scratch)
    return loss_sum, hits, squared
