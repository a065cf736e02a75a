import os
from pathlib import Path

# Quiet TensorFlow's C++ start-up logging; set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

# 10,000 real MNIST digits, shared beside the repository (see its README).
MNIST10K = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist10k.npz"
needs_mnist = pytest.mark.skipif(
    not MNIST10K.exists(),
    reason=f"no {MNIST10K}: the claim is measured on real MNIST digits",
)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits scaled to [0, 1], split 75/25 with a fixed seed."""
    data = load_digits()
    X = data.data / 16.0
    return train_test_split(X, data.target, test_size=0.25, random_state=0)


@pytest.fixture(scope="session")
def small_digits(digits):
    """A few hundred digits for fast behavioural tests."""
    X_train, X_test, y_train, y_test = digits
    return X_train[:300], X_test[:100]


# The options that change the network's structure, in one DenoisingAE: masking noise, tied
# weights and greedy pretraining (the common checks, the backend subset and the weight tests).
GREEDY_TIED_DROPOUT = dict(
    noise="dropout", noise_level=0.2, tied_weights=True, pretrain="greedy", pretrain_epochs=1
)


def tiny(estimator_class, **params):
    """An estimator with settings small enough for the common checks."""
    settings = dict(
        n_components=2, hidden_layer_sizes=(4,), epochs=2, batch_size=16, random_state=0
    )
    settings.update(params)
    return estimator_class(**settings)


# sklearn's checks that compare a fit with integer weights against one on the rows repeated
# that many times. Minibatch SGD sees other batches (and batch_size='auto' another batch size)
# in the two, so the networks differ: the weighted loss is the repeated data's loss only in
# expectation. Zero weights remove rows exactly and equal weights give the unweighted fit
# exactly: tests/test_sample_weight.py asserts both, and that weights pull the fit.
_WEIGHTS_AS_REPEATS = (
    "minibatch training: weight k equals k repeated rows in expectation, not exactly; "
    "zero and equal weights are exact (tests/test_sample_weight.py)"
)
# The networks compute in float32. A row's outputs can differ in the last float32 bit
# (relative 1e-7 to 2e-7) depending on where the row sits in a batch, and these two checks
# demand rtol=1e-7. tests/test_stacked.py::test_outputs_do_not_depend_on_batch_composition asserts
# the same invariance at float32 precision instead.
FLOAT32_ROUNDING = (
    "float32 network: invariant to batch order and subsets to float32 precision (rtol 1e-6), "
    "not to the 1e-7 this check demands"
)


STOCHASTIC_WEIGHTS = {
    "check_sample_weight_equivalence_on_dense_data": _WEIGHTS_AS_REPEATS,
    "check_sample_weight_equivalence_on_sparse_data": _WEIGHTS_AS_REPEATS,
}


def optimizer_steps(estimator):
    """Gradient steps taken so far: one per mini-batch."""
    import keras

    return int(keras.ops.convert_to_numpy(estimator.model_.optimizer.iterations))


@pytest.fixture
def no_convergence_warnings():
    """Small epoch budgets stop training before convergence on purpose: no warning noise."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def standardized_digits(digits):
    """The digits training images standardized per pixel (constant pixels stay 0)."""
    return StandardScaler().fit_transform(digits[0])


@pytest.fixture(scope="session")
def curved_sheet():
    """The classic 3-D to 2-D example: 500 points near a tilted plane, along a curved arc,
    with noise (the data set of Geron's Hands-On Machine Learning, chapters 8 and 17)."""
    rng = np.random.default_rng(0)
    n_samples, noise = 500, 0.1
    angles = rng.uniform(-0.5, 3 * np.pi / 2 - 0.5, n_samples)
    X = np.empty((n_samples, 3))
    X[:, 0] = np.cos(angles) + np.sin(angles) / 2 + noise * rng.normal(size=n_samples) / 2
    X[:, 1] = np.sin(angles) * 0.7 + noise * rng.normal(size=n_samples) / 2
    X[:, 2] = X[:, 0] * 0.1 + X[:, 1] * 0.3 + noise * rng.normal(size=n_samples)
    return X
