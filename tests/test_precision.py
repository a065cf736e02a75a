"""Training options: XLA compilation and mixed-precision dtype policies."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skae import SparseAE, StackedAE, VariationalAE


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data / 16).astype(np.float32)


def fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_as_well_as_float32(digits, policy):
    # 256 rows: float16 arithmetic is emulated on CPUs, 20x slower than float32.
    settings = dict(n_components=8, epochs=15, random_state=0)
    digits = digits[:256]
    reference = fit(StackedAE(**settings), digits)
    mixed = fit(StackedAE(**settings, dtype_policy=policy), digits)
    assert mixed.model_.get_layer("encoder_0").dtype_policy.name == policy
    assert mixed.model_.get_layer("encoder_0").kernel.dtype == "float32"  # float32 weights
    # 16-bit arithmetic changes the loss by about 1% here; it must not change it by 10%.
    assert mixed.score(digits) == pytest.approx(reference.score(digits), rel=0.1)
    codes = mixed.transform(digits[:5])
    assert codes.dtype == np.float32 and np.isfinite(codes).all()
    restored = pickle.loads(pickle.dumps(mixed))
    assert restored.model_.get_layer("encoder_0").dtype_policy.name == policy
    np.testing.assert_allclose(restored.transform(digits[:5]), codes, atol=1e-2)


@pytest.mark.parametrize("cls", [SparseAE, VariationalAE])
def test_loss_layers_stay_float32(digits, cls):
    ae = fit(cls(n_components=4, epochs=2, random_state=0, dtype_policy="mixed_bfloat16"), digits)
    assert np.isfinite(ae.loss_curve_).all()


def test_jit_compile_gives_the_same_training(digits):
    settings = dict(n_components=8, epochs=3, random_state=0)
    plain = fit(StackedAE(**settings, jit_compile=False), digits)
    compiled = fit(StackedAE(**settings, jit_compile=True), digits)
    np.testing.assert_allclose(compiled.loss_curve_, plain.loss_curve_, rtol=1e-3)


def test_unknown_dtype_policy_is_refused(digits):
    with pytest.raises(ValueError, match="dtype_policy"):
        StackedAE(dtype_policy="float8").fit(digits)


def test_jit_compile_is_deterministic(digits):
    settings = dict(n_components=4, hidden_layer_sizes=(16,), epochs=2, random_state=3)
    first = fit(StackedAE(**settings, jit_compile=True), digits)
    second = fit(StackedAE(**settings, jit_compile=True), digits)
    np.testing.assert_array_equal(first.transform(digits), second.transform(digits))
