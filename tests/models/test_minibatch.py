"""The minibatch backend: true mini-batch SGD in a compiled kernel, as scikit-learn estimators."""

import math
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from leantune.metrics import Targets, batch_loss
from leantune.models import (
    BACKENDS,
    MODELS,
    MiniBatchSGDClassifier,
    MiniBatchSGDRegressor,
    TrainingDiverged,
    get_model,
)

# (model, number of classes; None for regression)
CASES = [("linear", None), ("logistic", 2), ("logistic", 4), ("svm", 2), ("svm", 4)]


def _problem(n_classes, rows=40, features=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    if n_classes is None:
        y = X @ rng.normal(size=features) + 0.1 * rng.normal(size=rows)
    else:
        y = rng.integers(0, n_classes, rows)
    return X, y


def _estimator(model, n_classes, features, **options):
    estimator = get_model(model).make(
        learning_rate=options.pop("learning_rate", 0.05),
        alpha=options.pop("alpha", 1e-2),
        seed=0,
        backend="minibatch",
        batch_size=options.pop("batch_size", 8),
    )
    classes = None if n_classes is None else np.arange(n_classes)
    return estimator.start(features, classes)


def _objective(model, n_classes, X, y, coef, intercept, alpha):
    """mean loss over the batch (and one-vs-rest outputs) + alpha/2 · |w|², in plain numpy."""
    outputs = 1 if n_classes in (None, 2) else n_classes
    targets = Targets("regression" if n_classes is None else "classification", outputs)
    loss = batch_loss(X, y, (coef, intercept), MODELS[model].loss, targets)
    return loss + 0.5 * alpha * float((coef**2).sum())


# (rows, features, batch size): small batches run plain loops, large ones BLAS; a batch of
# fewer rows than outputs scales its rows, a larger one folds the scaling into the weights;
# 300 rows are a whole block of 256 (BLAS) and a part (loops).
SHAPES = [(40, 5, 2), (40, 5, 8), (64, 20, 64), (600, 6, 300)]


@pytest.mark.parametrize(("rows", "features", "batch_size"), SHAPES)
@pytest.mark.parametrize(("model", "n_classes"), CASES)
def test_one_step_follows_the_finite_difference_gradient_of_the_batch_objective(
    model, n_classes, rows, features, batch_size
):
    X, y = _problem(n_classes, rows=rows, features=features)
    rng = np.random.default_rng(1)
    mean, scale = rng.normal(size=features), rng.uniform(0.5, 2.0, size=features)
    X = X * scale + mean  # stored unscaled: the step scales it
    rate, alpha = 0.05, 1e-2
    estimator = _estimator(
        model, n_classes, features, learning_rate=rate, alpha=alpha, batch_size=batch_size
    )
    coef = np.atleast_2d(estimator.coef_)
    coef[:] = 0.3 * rng.normal(size=coef.shape)
    estimator.intercept_[:] = 0.3 * rng.normal(size=estimator.intercept_.shape)
    before = coef.copy(), estimator.intercept_.copy()

    losses = estimator.train_steps(
        X, y, np.arange(len(X)), start=0, steps=1, mean=mean, inv_scale=1 / scale
    )
    batch = (X[:batch_size] - mean) / scale, y[:batch_size]

    # Central differences of the objective on the step's batch, at the weights before it.
    h = 1e-6
    gradient_coef = np.zeros_like(before[0])
    for index in np.ndindex(*before[0].shape):
        up, down = before[0].copy(), before[0].copy()
        up[index] += h
        down[index] -= h
        gradient_coef[index] = (
            _objective(model, n_classes, *batch, up, before[1], alpha)
            - _objective(model, n_classes, *batch, down, before[1], alpha)
        ) / (2 * h)
    gradient_intercept = np.zeros_like(before[1])
    for k in range(len(before[1])):
        up, down = before[1].copy(), before[1].copy()
        up[k] += h
        down[k] -= h
        gradient_intercept[k] = (
            _objective(model, n_classes, *batch, before[0], up, alpha)
            - _objective(model, n_classes, *batch, before[0], down, alpha)
        ) / (2 * h)
    # The objective's mean runs over one-vs-rest outputs too; the update's over rows only.
    outputs = len(before[1])
    fd_coef = outputs * (gradient_coef - alpha * before[0]) + alpha * before[0]
    fd_intercept = outputs * gradient_intercept

    np.testing.assert_allclose(
        np.atleast_2d(estimator.coef_), before[0] - rate * fd_coef, atol=1e-8
    )
    np.testing.assert_allclose(estimator.intercept_, before[1] - rate * fd_intercept, atol=1e-8)
    # The progressive loss: the batch's loss under the weights before the update.
    expected = _objective(model, n_classes, *batch, *before, 0.0)
    assert losses[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("model", "n_classes"), CASES)
def test_batch_size_1_matches_scikit_learns_per_sample_update(model, n_classes):
    """Where the definitions agree (constant rate, L2 shrink then the gradient at the old
    weights, dense rows) the two agree to rounding. They differ where this data never goes:
    scikit-learn clips |∂loss/∂f| at 1e12, floors the shrink at 0 and approximates the log
    loss's slope beyond |margin| 18; and it stores the weights as a vector times a scale."""
    X, y = _problem(n_classes, rows=200)
    rate, alpha = 0.02, 1e-3
    ours = _estimator(model, n_classes, X.shape[1], learning_rate=rate, alpha=alpha, batch_size=1)
    ours.train_steps(X, y, np.arange(len(X)), start=0, steps=len(X))
    options = dict(penalty="l2", alpha=alpha, learning_rate="constant", eta0=rate, shuffle=False)
    if n_classes is None:
        theirs = SGDRegressor(**options).partial_fit(X, y)
    else:
        loss = MODELS[model].sklearn_loss
        theirs = SGDClassifier(loss=loss, **options).partial_fit(X, y, classes=np.arange(n_classes))
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("model", "n_classes"), CASES)
def test_batch_size_changes_what_is_learned(model, n_classes):
    X, y = _problem(n_classes, rows=64)
    learned = []
    for batch_size in (1, 8, 64):
        estimator = _estimator(model, n_classes, X.shape[1], batch_size=batch_size)
        estimator.train_steps(X, y, np.arange(len(X)), start=0, steps=-(-64 // batch_size))
        learned.append(np.atleast_2d(estimator.coef_).copy())
    assert not np.allclose(learned[0], learned[1])
    assert not np.allclose(learned[1], learned[2])


def test_a_window_in_one_call_equals_its_steps_one_call_at_a_time():
    """Rows are gathered and scaled inside the call; the epoch's last batch may be short."""
    X, y = _problem(3, rows=50)
    order = np.random.default_rng(2).permutation(len(X))
    mean, inv_scale = X.mean(axis=0), 1 / X.std(axis=0)
    whole = _estimator("logistic", 3, X.shape[1], batch_size=8)
    losses = whole.train_steps(X, y, order, start=0, steps=7, mean=mean, inv_scale=inv_scale)
    single = _estimator("logistic", 3, X.shape[1], batch_size=8)
    one_by_one = [
        single.train_steps(X, y, order, start=8 * s, steps=1, mean=mean, inv_scale=inv_scale)[0]
        for s in range(7)
    ]
    np.testing.assert_allclose(losses, one_by_one, rtol=1e-13)
    np.testing.assert_allclose(whole.coef_, single.coef_, rtol=1e-13)
    # The same as training on the rows scaled up front, in that order.
    scaled = _estimator("logistic", 3, X.shape[1], batch_size=8)
    scaled.train_steps((X - mean) * inv_scale, y, order, start=0, steps=7)
    np.testing.assert_allclose(whole.coef_, scaled.coef_, rtol=1e-12)


@pytest.mark.parametrize(("model", "n_classes"), CASES)
def test_overflow_is_caught_and_says_where(model, n_classes):
    X, y = _problem(n_classes)
    estimator = _estimator(model, n_classes, X.shape[1], learning_rate=1e300)
    with pytest.raises(TrainingDiverged) as caught:
        estimator.train_steps(X * 1e200, y, np.arange(len(X)), start=0, steps=5)
    assert 1 <= caught.value.step <= 5
    assert len(caught.value.losses) == caught.value.step
    assert "not finite" in caught.value.what or "training loss is" in caught.value.what
    assert "overflow" in str(caught.value)  # a ValueError worded as scikit-learn words it


@pytest.mark.parametrize(("model", "n_classes"), CASES)
@pytest.mark.parametrize("batch_size", [2, 300])  # plain loops, and BLAS
def test_a_decision_that_is_not_a_number_is_divergence(model, n_classes, batch_size):
    """Finite weights of both signs on huge rows give inf − inf: a NaN decision fails every
    comparison in the branch-free loss passes, and must still end training."""
    X, y = _problem(n_classes, rows=600, features=4)
    estimator = _estimator(model, n_classes, 4, batch_size=batch_size)
    coef = np.atleast_2d(estimator.coef_)
    coef[:] = [1e298, -1e298, 1e298, -1e298]
    with pytest.raises(TrainingDiverged) as caught:
        estimator.train_steps(np.abs(X) * 1e301 + 1e301, y, np.arange(600), start=0, steps=1)
    assert caught.value.step == 1


def test_weights_that_blow_up_under_a_finite_hinge_loss_are_caught():
    """Hinge loss can stay 0 while the weights run off to infinity: the weights are checked."""
    X, y = _problem(2)
    estimator = _estimator("svm", 2, X.shape[1], learning_rate=1e308, alpha=0.0)
    with pytest.raises(TrainingDiverged, match="weights are not finite"):
        estimator.train_steps(X * 1e10, y, np.arange(len(X)), start=0, steps=5)


def test_fit_learns_a_separable_problem_in_a_pipeline_and_pickles(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4)) * [1, 10, 100, 1000] + 50
    y = np.where(X[:, 0] + X[:, 1] / 10 > 55, "yes", "no")
    pipeline = make_pipeline(
        StandardScaler(), MiniBatchSGDClassifier("log_loss", eta0=0.1, batch_size=16, max_iter=20)
    )
    pipeline.fit(X, y)
    assert pipeline.score(X, y) > 0.95
    assert set(pipeline.predict(X)) <= {"yes", "no"}
    copy = pickle.loads(pickle.dumps(pipeline))
    np.testing.assert_array_equal(copy.predict(X), pipeline.predict(X))
    np.testing.assert_array_equal(copy.decision_function(X), pipeline.decision_function(X))
    # The copy trains on as the original does (coef_ is the kernel's, not a stale view).
    model, twin = pipeline[-1], copy[-1]
    Xs = pipeline[0].transform(X)
    codes = np.searchsorted(model.classes_, y)
    for estimator in (model, twin):
        estimator.train_steps(Xs, codes, np.arange(len(X)), start=0, steps=3)
    np.testing.assert_array_equal(model.coef_, twin.coef_)


def test_parameters_are_scikit_learns_and_checked_with_its_sentence():
    estimator = MiniBatchSGDRegressor(eta0=0.5, batch_size=4, random_state=3)
    params = estimator.get_params()
    assert params["eta0"] == 0.5 and params["batch_size"] == 4 and params["loss"] == "squared_error"
    assert clone(estimator).get_params() == params
    X, y = _problem(None)
    with pytest.raises(
        ValueError,
        match=r"The 'batch_size' parameter of MiniBatchSGDRegressor "
        r"must be an int in the range \[1, inf\)\. Got 0 instead\.",
    ):
        MiniBatchSGDRegressor(batch_size=0).fit(X, y)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MiniBatchSGDClassifier().partial_fit(X, np.zeros(len(X)))


def test_partial_fit_is_one_step_on_the_rows_given_as_one_batch():
    X, y = _problem(2, rows=12)
    stepped = MiniBatchSGDClassifier("hinge", eta0=0.1).partial_fit(X, y, classes=[0, 1])
    windowed = _estimator("svm", 2, X.shape[1], learning_rate=0.1, alpha=1e-4, batch_size=12)
    windowed.train_steps(X, y, np.arange(12), start=0, steps=1)
    np.testing.assert_allclose(stepped.coef_, windowed.coef_, rtol=1e-13)
    regressor = MiniBatchSGDRegressor(eta0=0.01).fit(*_problem(None, rows=100))
    assert regressor.coef_.shape == (5,) and regressor.intercept_.shape == (1,)
    assert regressor.predict(np.zeros((2, 5))).shape == (2,)


def test_the_mlflow_sklearn_flavour_saves_and_loads_it(tmp_path):
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    X, y = _problem(3, rows=90)
    model = MiniBatchSGDClassifier("log_loss", eta0=0.1, batch_size=8).fit(X, y)
    # MLflow's default (skops) format loads only the types it is told to trust.
    trusted = [f"{type(model).__module__}.{type(model).__qualname__}"]
    mlflow_sklearn.save_model(model, tmp_path / "model", skops_trusted_types=trusted)
    loaded = mlflow_sklearn.load_model(str(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_the_spec_offers_every_backend_the_models_have():
    from typing import get_args

    from leantune.spec._model import BackendName

    assert get_args(BackendName) == BACKENDS


def test_a_window_past_the_end_of_the_rows_is_refused():
    X, y = _problem(2, rows=20)
    estimator = _estimator("svm", 2, X.shape[1], batch_size=8)
    estimator.train_steps(X, y, np.arange(20), start=0, steps=3)  # 8 + 8 + 4 rows
    with pytest.raises(ValueError, match="4 steps of 8 rows from position 0 need more than"):
        estimator.train_steps(X, y, np.arange(20), start=0, steps=4)


@pytest.mark.parametrize(("model", "n_classes"), CASES)
def test_the_compiled_scorer_gives_the_numpy_metrics(model, n_classes):
    from leantune.metrics import evaluate, quality_from_sums

    X, y = _problem(n_classes, rows=600, features=7, seed=3)
    X = 3.0 * X + 1.0  # stored unscaled: the scorer folds the scaling into the weights
    mean, scale = X.mean(axis=0), X.std(axis=0)
    estimator = _estimator(model, n_classes, 7, learning_rate=0.5, batch_size=16)
    codes = y if n_classes is None else y.astype(np.int64)
    estimator.train_steps(
        X, codes, np.arange(600), start=0, steps=30, mean=mean, inv_scale=1 / scale
    )
    rows = np.sort(np.random.default_rng(0).choice(600, size=300, replace=False))  # > a block
    outputs = 1 if n_classes in (None, 2) else n_classes
    targets = Targets("regression" if n_classes is None else "classification", outputs)
    weights = (np.atleast_2d(estimator.coef_), estimator.intercept_)
    expected = evaluate(X, codes, rows, mean, scale, weights, get_model(model).loss, targets)
    sums = estimator.score_rows(X, codes, rows, mean=mean, inv_scale=1 / scale)
    assert quality_from_sums(*sums, len(rows), targets) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("x", [0.0, -1e-300, -0.3465, -1.0, -50.0, -599.9, -600.1, -1e5])
def test_the_vectorizable_exp_is_maths_exp_to_rounding_and_zero_far_out(x):
    from leantune.models._kernel import _exp_parts

    mantissa, bits = _exp_parts(x)
    value = mantissa * np.array([bits], dtype=np.int64).view(np.float64)[0]
    expected = math.exp(x) if x >= -600 else 0.0  # far out: no subnormal slopes
    assert value == pytest.approx(expected, rel=1e-15, abs=0.0)
