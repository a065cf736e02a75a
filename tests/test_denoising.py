"""DenoisingAE: corruption only while training, and clean reconstructions of noisy inputs."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skae import DenoisingAE


def _fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


def _mse(a, b):
    return float(np.mean((a - b) ** 2))


def test_denoises_gaussian_noise(digits):
    X_train, X_test, _, _ = digits
    rng = np.random.default_rng(1)
    noisy = np.clip(X_test + rng.normal(scale=0.5, size=X_test.shape), 0, 1)
    ae = _fit(
        DenoisingAE(
            n_components=16, hidden_layer_sizes=(64,), noise_level=0.5, epochs=40, random_state=0
        ),
        X_train,
    )
    denoised = ae.inverse_transform(ae.transform(noisy))
    assert _mse(denoised, X_test) <= 0.5 * _mse(noisy, X_test)


def test_denoises_masking_noise(digits):
    X_train, X_test, _, _ = digits
    keep = np.random.default_rng(1).uniform(size=X_test.shape) >= 0.3
    masked = np.where(keep, X_test, 0.0)
    ae = _fit(
        DenoisingAE(
            n_components=16,
            hidden_layer_sizes=(64,),
            noise="dropout",
            noise_level=0.3,
            epochs=40,
            random_state=0,
        ),
        X_train,
    )
    denoised = ae.inverse_transform(ae.transform(masked))
    assert _mse(denoised, X_test) <= 0.5 * _mse(masked, X_test)


@pytest.mark.parametrize("noise", ["gaussian", "dropout"])
def test_inference_uses_the_clean_path(small_digits, noise):
    X_train, X_test = small_digits
    ae = _fit(
        DenoisingAE(
            n_components=4,
            hidden_layer_sizes=(8,),
            noise=noise,
            noise_level=0.4,
            epochs=2,
            random_state=0,
        ),
        X_train,
    )
    codes = ae.transform(X_test)
    np.testing.assert_array_equal(ae.transform(X_test), codes)  # no noise in transform
    reconstructed = ae.inverse_transform(codes)
    np.testing.assert_array_equal(ae.inverse_transform(codes), reconstructed)
    # score sees the clean reconstruction inverse_transform(transform(X)).
    expected = -np.mean((reconstructed - X_test) ** 2, axis=1)
    np.testing.assert_allclose(ae.score_samples(X_test), expected, rtol=1e-5, atol=1e-7)
