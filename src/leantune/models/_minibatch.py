"""True mini-batch SGD as scikit-learn estimators: the `minibatch` backend.

scikit-learn's SGD updates once per *sample*, so its batch size changes overhead, not what is
learned. These estimators update once per *batch*, with the gradient averaged over the batch,
so batch size changes what is learned. The same three losses (squared, log one-vs-rest, hinge),
L2 penalty `alpha`, a constant learning rate `eta0`, weights starting at zero.

Where the definitions agree, batch size 1 reproduces scikit-learn's per-sample update (the L2
shrink (1 − eta0·alpha)·w and the gradient at the old weights, in one step). Where they differ:
scikit-learn clips |∂loss/∂f| at 1e12, floors the shrink at 0 (eta0·alpha ≥ 1 zeroes the
weights) and approximates the log loss's slope for |margin| > 18 (relative error < 2e-8); it
keeps the weights as a vector times a scale (rounding differs at ~1e-15); and its `partial_fit`
is one pass over the rows, one update per row, where ours is one step on the rows as one batch.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from leantune.models._kernel import (
    HINGE,
    LOG,
    LOSS_NOT_FINITE,
    SQUARED,
    WEIGHTS_NOT_FINITE,
    run_steps,
    score_rows,
)

MAX_CLASSES = 1000
_KERNEL_LOSS = {"squared_error": SQUARED, "log_loss": LOG, "hinge": HINGE}


class TrainingDiverged(ValueError):
    """The loss or the weights stopped being finite (a ValueError, as in scikit-learn)."""

    def __init__(self, what: str, step: int, losses: np.ndarray):
        super().__init__(
            f"floating-point overflow: {what} at step {step} of the call; "
            "lower eta0 or scale the features"
        )
        self.what = what
        """What stopped being finite: 'the training loss is nan', 'the weights are not finite'."""
        self.step = step
        """The step (1-based, within the call) at which it happened."""
        self.losses = losses
        """Every step's loss up to and including that step."""


class _MiniBatchSGD(BaseEstimator):
    _losses: tuple[str, ...] = ()

    def __init__(
        self,
        loss: str,
        *,
        alpha: float = 1e-4,
        eta0: float = 0.01,
        batch_size: int = 32,
        max_iter: int = 5,
        shuffle: bool = True,
        random_state: int | None = None,
    ):
        self.loss = loss
        self.alpha = alpha
        self.eta0 = eta0
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state

    # -- scikit-learn's interface ----------------------------------------------------------

    def fit(self, X: Any, y: Any) -> _MiniBatchSGD:
        """Train from zero: `max_iter` epochs of batches of `batch_size` rows."""
        X, y = self._check_data(X, y, reset=True)
        self._start(X.shape[1], y)  # a classifier's classes: those in y
        codes = self._codes(y)
        rng = np.random.default_rng(self.random_state)
        for _ in range(self.max_iter):
            order = rng.permutation(len(X)) if self.shuffle else np.arange(len(X))
            steps = -(-len(X) // self.batch_size)
            self.train_steps(X, codes, order, start=0, steps=steps)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> _MiniBatchSGD:
        """One step on the rows given, as one batch (the gradient averaged over all of them)."""
        first = not hasattr(self, "coef_")
        X, y = self._check_data(X, y, reset=first)
        if first:
            self._start(X.shape[1], classes)
        codes = self._codes(y)
        order = np.arange(len(X))
        self._run(X, codes, order, 0, 1, len(X), None, None)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        X = self._check_features(check_array(X, dtype=np.float64), reset=False)
        coef = np.atleast_2d(self.coef_)
        values = X @ coef.T + self.intercept_
        return values[:, 0] if values.shape[1] == 1 else values

    # -- leantune's fast path --------------------------------------------------------------

    def train_steps(
        self,
        X: np.ndarray,
        y: np.ndarray,
        order: np.ndarray,
        *,
        start: int,
        steps: int,
        mean: np.ndarray | None = None,
        inv_scale: np.ndarray | None = None,
    ) -> np.ndarray:
        """Run `steps` batches of `batch_size` rows of `order[start:]` in one compiled call,
        scaling each row as (X[r] − mean) · inv_scale on the fly; return each step's loss
        (under the weights before its update). No input checks: X is float64 and C-ordered,
        y holds targets (regression) or class codes 0..K−1 (`classes_[code]` is the label).
        Call `fit`, `partial_fit` or `start` once first to set the weights' shape.

        Raises TrainingDiverged when the loss or the weights stop being finite.
        """
        return self._run(X, y, order, start, steps, self.batch_size, mean, inv_scale)

    def score_rows(
        self,
        X: np.ndarray,
        y: np.ndarray,
        rows: np.ndarray,
        *,
        mean: np.ndarray,
        inv_scale: np.ndarray,
    ) -> tuple[float, float, float]:
        """Score `rows` of the unscaled X (scaled as in train_steps) in one compiled pass:
        (loss summed over rows and outputs, rows predicted right, squared error summed).
        No input checks, as in train_steps; `rows`, `mean` and `inv_scale` writable."""
        n_features = self.n_features_in_
        return score_rows(
            X,
            y,
            rows,
            mean,
            inv_scale,
            self.coef_.reshape(-1, n_features),
            self.intercept_,
            _KERNEL_LOSS[self.loss],
        )

    def start(self, n_features: int, classes: Any = None) -> _MiniBatchSGD:
        """Zero weights for `n_features` features (and `classes`, for a classifier)."""
        self._check_params()
        self._start(n_features, classes)
        self.n_features_in_ = n_features
        return self

    # -- internals -------------------------------------------------------------------------

    def _run(self, X, y, order, start, steps, batch_size, mean, inv_scale) -> np.ndarray:
        n_features = self.n_features_in_
        # Fresh writable copies (a few numbers): numba compiles, and caches, one machine code
        # per argument type, and a read-only array (as Ray hands out) is another type.
        mean = np.zeros(n_features) if mean is None else np.array(mean, dtype=np.float64)
        inv_scale = (
            np.ones(n_features) if inv_scale is None else np.array(inv_scale, dtype=np.float64)
        )
        if steps < 1 or start < 0 or start + (steps - 1) * batch_size >= len(order):
            raise ValueError(
                f"{steps} steps of {batch_size} rows from position {start} need more than "
                f"the {len(order)} rows in order"
            )
        losses = np.empty(steps)
        # A view, so the kernel's in-place update reaches coef_ (1-D for a regressor).
        coef = self.coef_.reshape(-1, n_features)
        done, status = run_steps(
            X,
            y,
            np.asarray(order, dtype=np.int64),
            start,
            steps,
            batch_size,
            mean,
            inv_scale,
            coef,
            self.intercept_,
            _KERNEL_LOSS[self.loss],
            float(self.eta0),
            float(self.alpha),
            losses,
        )
        self.t_ = getattr(self, "t_", 0) + done
        if status == LOSS_NOT_FINITE:
            what = f"the training loss is {losses[done - 1]}"
            raise TrainingDiverged(what, done, losses[:done])
        if status == WEIGHTS_NOT_FINITE:
            raise TrainingDiverged("the weights are not finite", done, losses[:done])
        return losses

    def _check_params(self) -> None:
        # One sentence per problem, in scikit-learn's words.
        checks = [
            ("loss", self.loss in self._losses, f"a str among {set(self._losses)}"),
            ("alpha", _real(self.alpha) and self.alpha >= 0, "a float in the range [0.0, inf)"),
            ("eta0", _real(self.eta0) and self.eta0 > 0, "a float in the range (0.0, inf)"),
            ("batch_size", _whole(self.batch_size), "an int in the range [1, inf)"),
            ("max_iter", _whole(self.max_iter), "an int in the range [1, inf)"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(
                    f"The {name!r} parameter of {type(self).__name__} must be {allowed}. "
                    f"Got {getattr(self, name)!r} instead."
                )

    def _check_data(self, X: Any, y: Any, *, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        self._check_params()
        # scikit-learn's own messages for bad shapes, NaNs and infinities.
        X, y = check_X_y(
            X, y, dtype=np.float64, order="C", y_numeric=self._losses[0] == "squared_error"
        )
        return self._check_features(X, reset=reset), y

    def _check_features(self, X: np.ndarray, *, reset: bool) -> np.ndarray:
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


class MiniBatchSGDClassifier(ClassifierMixin, _MiniBatchSGD):
    """Linear classifier trained by mini-batch SGD: log loss (logistic regression) or hinge
    (linear SVM), one-vs-rest for more than two classes, as scikit-learn's SGDClassifier."""

    _losses = ("log_loss", "hinge")

    def __init__(
        self,
        loss: str = "hinge",
        *,
        alpha: float = 1e-4,
        eta0: float = 0.01,
        batch_size: int = 32,
        max_iter: int = 5,
        shuffle: bool = True,
        random_state: int | None = None,
    ):
        super().__init__(
            loss,
            alpha=alpha,
            eta0=eta0,
            batch_size=batch_size,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
        )

    def predict(self, X: Any) -> np.ndarray:
        values = self.decision_function(X)
        codes = (values > 0).astype(int) if values.ndim == 1 else values.argmax(axis=1)
        return self.classes_[codes]

    def _start(self, n_features: int, classes: Any) -> None:
        if classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        self.classes_ = np.unique(np.asarray(classes))
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes; got {len(self.classes_)}"
            )
        if len(self.classes_) > MAX_CLASSES:
            # The kernels take one log per row of the product of its outputs' log-loss
            # factors, each at most 2: more than 1,023 of them could overflow.
            raise ValueError(
                f"{type(self).__name__} takes at most {MAX_CLASSES} classes; "
                f"got {len(self.classes_)}"
            )
        outputs = 1 if len(self.classes_) == 2 else len(self.classes_)
        self.coef_ = np.zeros((outputs, n_features))
        self.intercept_ = np.zeros(outputs)
        self.t_ = 0

    def _codes(self, y: np.ndarray) -> np.ndarray:
        codes = np.minimum(np.searchsorted(self.classes_, y), len(self.classes_) - 1)
        unknown = self.classes_[codes] != y
        if unknown.any():
            raise ValueError(
                f"y holds labels not among classes_ {self.classes_.tolist()}: "
                f"{np.unique(np.asarray(y)[unknown]).tolist()[:5]}"
            )
        return codes.astype(np.int64)


class MiniBatchSGDRegressor(RegressorMixin, _MiniBatchSGD):
    """Linear regression (squared loss) trained by mini-batch SGD."""

    _losses = ("squared_error",)

    def __init__(
        self,
        loss: str = "squared_error",
        *,
        alpha: float = 1e-4,
        eta0: float = 0.01,
        batch_size: int = 32,
        max_iter: int = 5,
        shuffle: bool = True,
        random_state: int | None = None,
    ):
        super().__init__(
            loss,
            alpha=alpha,
            eta0=eta0,
            batch_size=batch_size,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
        )

    def predict(self, X: Any) -> np.ndarray:
        return self.decision_function(X)

    def _start(self, n_features: int, classes: Any) -> None:
        self.coef_ = np.zeros(n_features)
        self.intercept_ = np.zeros(1)
        self.t_ = 0

    def _codes(self, y: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(y, dtype=np.float64)
