import numpy as np
import pytest
from sklearn.metrics import hinge_loss as sk_hinge
from sklearn.metrics import log_loss as sk_log_loss

from leantune.datasets import load_sklearn, make_splits
from leantune.engine import TrainingPlan, TrialData, train_trial
from leantune.metrics import Targets, batch_loss
from leantune.models import MODELS, get_model, model_size_bytes, weights


@pytest.fixture
def binary_batch():
    rng = np.random.default_rng(0)
    return (
        rng.normal(size=(50, 3)),
        rng.integers(0, 2, 50),
        rng.normal(size=(1, 3)),
        rng.normal(size=1),
    )


def test_log_loss_matches_scikit_learn(binary_batch):
    X, y, coef, intercept = binary_batch
    ours = batch_loss(
        X, y, (coef, intercept), MODELS["logistic"].loss, Targets("classification", 1)
    )
    decision = X @ coef[0] + intercept[0]
    assert ours == pytest.approx(sk_log_loss(y, 1 / (1 + np.exp(-decision))))


def test_hinge_loss_matches_scikit_learn(binary_batch):
    X, y, coef, intercept = binary_batch
    ours = batch_loss(X, y, (coef, intercept), MODELS["svm"].loss, Targets("classification", 1))
    assert ours == pytest.approx(sk_hinge(y, X @ coef[0] + intercept[0]))


def test_squared_loss_is_half_the_mean_squared_error():
    X, y = np.eye(2), np.array([1.0, 3.0])
    value = batch_loss(
        X, y, (np.zeros((1, 2)), np.zeros(1)), MODELS["linear"].loss, Targets("regression", 1)
    )
    assert value == pytest.approx(0.5 * (1 + 9) / 2)


def test_before_the_first_update_the_loss_is_that_of_zero_weights():
    y = np.array([0, 1, 1])
    value = batch_loss(
        np.ones((3, 2)), y, None, MODELS["logistic"].loss, Targets("classification", 1)
    )
    assert value == pytest.approx(np.log(2))


def test_multiclass_loss_averages_one_vs_rest_classes():
    y = np.array([0, 2])
    coef = np.zeros((3, 2))
    value = batch_loss(
        np.ones((2, 2)), y, (coef, np.zeros(3)), MODELS["svm"].loss, Targets("classification", 3)
    )
    assert value == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("model", "dataset"),
    [("logistic", "breast_cancer"), ("svm", "breast_cancer"), ("linear", "diabetes")],
)
@pytest.mark.parametrize(
    "plan",
    [
        TrainingPlan(shuffle=False, report_every=1000),
        # leantune's seeded shuffle gives every batch size the same row order, epoch by epoch;
        # the study report relies on this when it reads batch-size effects as cost only.
        TrainingPlan(shuffle=True, epochs=2, report_every=1000),
    ],
    ids=["shuffle-off", "shuffled-2-epochs"],
)
def test_batch_size_does_not_change_what_is_learned(model, dataset, plan):
    """partial_fit updates once per sample: with the same row order, any batch size gives the
    same weights. Batch size changes overhead and step time only."""
    data = load_sklearn(dataset)
    splits = make_splits(data, test_size=0.3, cv_folds=1, holdout_size=0.2, seed=0)
    trial_data = TrialData(data.X, data.y, data.task, data.n_classes, splits.folds)
    coefs = []
    for batch_size in (1, 2, 7, 64, 256):
        config = {"model": model, "batch_size": batch_size, "learning_rate": 0.01, "alpha": 1e-4}
        outcome = train_trial(config, trial_data, plan, lambda report: None)
        coefs.append(
            np.concatenate([np.ravel(outcome.estimator.coef_), outcome.estimator.intercept_])
        )
    for other in coefs[1:]:
        np.testing.assert_allclose(other, coefs[0], rtol=0, atol=1e-10)


def test_unknown_model_names_are_refused():
    with pytest.raises(ValueError, match="linear, logistic, svm"):
        get_model("lasso")


def test_weights_before_and_after_a_fit():
    estimator = MODELS["linear"].make(learning_rate=0.01, alpha=0.0, seed=0)
    assert weights(estimator) is None
    estimator.partial_fit(np.ones((4, 3)), np.ones(4))
    coef, intercept = weights(estimator)
    assert coef.shape == (1, 3) and intercept.shape == (1,)
    assert model_size_bytes(estimator) > 0
