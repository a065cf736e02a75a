"""SparseAE: the KL sparsity penalty holds the mean code activation at its target."""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

from skae import SparseAE


def _fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


# A larger learning rate than the default so that 40 epochs are enough: the penalty first
# drives every unit towards the target, and the code learns to carry the digits after that.
SETTINGS = dict(
    n_components=32,
    hidden_layer_sizes=(64,),
    learning_rate=1e-2,
    batch_size=32,
    epochs=40,
    random_state=0,
)


@pytest.fixture(scope="module")
def unpenalised(digits):
    X_train = digits[0]
    return _fit(SparseAE(**SETTINGS, sparsity_weight=0.0), X_train)


@pytest.mark.parametrize("sparsity_target", [0.05, 0.1])
def test_mean_code_activation_is_near_the_target(digits, unpenalised, sparsity_target):
    X_train, X_test, _, _ = digits
    sparse = _fit(SparseAE(**SETTINGS, sparsity_target=sparsity_target), X_train)
    mean_activation = sparse.transform(X_test).mean()
    assert abs(mean_activation - sparsity_target) <= 0.25 * sparsity_target
    assert mean_activation < 0.5 * unpenalised.transform(X_test).mean()
    # A sparse code, not a constant one: it still reconstructs the digits.
    mean_digit_error = ((X_test - X_train.mean(axis=0)) ** 2).mean()
    assert -sparse.score(X_test) < 0.5 * mean_digit_error


def test_activity_l1_shrinks_the_codes(digits, unpenalised):
    X_train, X_test, _, _ = digits
    l1 = _fit(SparseAE(**SETTINGS, sparsity_weight=0.0, activity_l1=1e-3), X_train)
    assert (
        l1.transform(X_test).sum(axis=1).mean()
        < 0.5 * unpenalised.transform(X_test).sum(axis=1).mean()
    )
