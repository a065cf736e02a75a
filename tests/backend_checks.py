"""The subset of the suite that every Keras backend must pass.

Not collected by a plain ``pytest`` run (the name does not start with ``test_``):
``tests/test_backends.py`` runs it in a subprocess under ``KERAS_BACKEND=jax`` (and
``torch`` where PyTorch is installed), because Keras fixes its backend at import time.
Run it by hand with, e.g., ``KERAS_BACKEND=jax python -m pytest tests/backend_checks.py``.

For every public estimator it covers fit (same ``random_state``, same model), transform,
inverse_transform, score and score_samples, partial_fit (one pass per call), pickling and
``skae.save``/``skae.load``, ``VariationalAE.sample`` (reproducible), and
``EncoderClassifier``'s fit, predict, predict_proba, score, pickling and saving,
weighted fits (``sample_weight``), and, on JAX and PyTorch, that the rows' float32 copy is
trained on without a second copy.
"""

import os
import pickle
import warnings

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import skae
from skae import (
    ConvolutionalAE,
    DenoisingAE,
    EncoderClassifier,
    SparseAE,
    StackedAE,
    VariationalAE,
)

from .conftest import GREEDY_TIED_DROPOUT, tiny

# The networks of tests/test_common.py: each family, plus the options that change the
# network (tied weights, greedy pretraining, masking noise, a sparsity penalty).
AUTOENCODERS = {
    "StackedAE": tiny(StackedAE),
    "DenoisingAE-gaussian": tiny(DenoisingAE, noise_level=0.1),
    "DenoisingAE-dropout-tied-greedy": tiny(DenoisingAE, **GREEDY_TIED_DROPOUT),
    "SparseAE": tiny(SparseAE, n_components=3),
    "VariationalAE": tiny(VariationalAE),
    "ConvolutionalAE": ConvolutionalAE(
        image_shape=(8, 8), filters=(2,), epochs=2, batch_size=16, random_state=0
    ),
}


def fit_quietly(estimator, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def test_runs_on_the_requested_backend():
    assert keras.backend.backend() == os.environ.get("KERAS_BACKEND", "tensorflow")


@pytest.fixture(scope="module")
def data(small_digits):
    X_train, X_test = small_digits
    return X_train[:200], X_test[:50]


@pytest.fixture(scope="module", params=list(AUTOENCODERS))
def fitted_pair(request, data):
    """Two fits of the same autoencoder with the same random_state."""
    X = data[0]
    estimator = AUTOENCODERS[request.param]
    return fit_quietly(clone(estimator), X), fit_quietly(clone(estimator), X)


def test_same_random_state_gives_the_same_model(fitted_pair, data):
    first, second = fitted_pair
    X_test = data[1]
    np.testing.assert_array_equal(first.loss_curve_, second.loss_curve_)
    np.testing.assert_array_equal(first.transform(X_test), second.transform(X_test))


def test_transform_inverse_transform_and_score(fitted_pair, data):
    ae = fitted_pair[0]
    X_test = data[1]
    codes = ae.transform(X_test)
    assert codes.shape == (len(X_test), len(ae.get_feature_names_out()))
    assert codes.dtype == np.float64
    assert ae.transform(X_test.astype(np.float32)).dtype == np.float32
    assert np.all(np.isfinite(codes))
    reconstructions = ae.inverse_transform(codes)
    assert reconstructions.shape == X_test.shape and np.all(np.isfinite(reconstructions))
    # Any number of rows, one at a time or in a batch, gives the same codes.
    np.testing.assert_allclose(ae.transform(X_test[:1]), codes[:1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ae.transform(X_test[:9]), codes[:9], rtol=1e-5, atol=1e-6)
    scores = ae.score_samples(X_test)
    assert scores.shape == (len(X_test),) and np.all(np.isfinite(scores))
    assert np.isfinite(ae.score(X_test))
    if not isinstance(ae, VariationalAE):  # the VAE scores with its ELBO
        np.testing.assert_allclose(
            scores, -np.mean((ae.inverse_transform(codes) - X_test) ** 2, axis=1), rtol=1e-4
        )
        assert ae.score(X_test) == pytest.approx(np.mean(scores))
    else:
        samples = ae.sample(5, random_state=0)
        assert samples.shape == (5, X_test.shape[1]) and np.all(np.isfinite(samples))
        np.testing.assert_array_equal(ae.sample(5, random_state=0), samples)


@pytest.mark.parametrize("round_trip", ["pickle", "skae.save"])
def test_round_trip_gives_identical_outputs(fitted_pair, data, tmp_path, round_trip):
    ae = fitted_pair[0]
    X_test = data[1]
    if round_trip == "pickle":
        restored = pickle.loads(pickle.dumps(ae))
    else:
        skae.save(ae, tmp_path / "model.skae")
        restored = skae.load(tmp_path / "model.skae")
    codes = ae.transform(X_test)
    np.testing.assert_array_equal(restored.transform(X_test), codes)
    np.testing.assert_array_equal(restored.inverse_transform(codes), ae.inverse_transform(codes))
    np.testing.assert_array_equal(restored.score_samples(X_test), ae.score_samples(X_test))


def test_partial_fit_continues_with_one_pass_per_call(fitted_pair, data):
    X = data[0]
    ae = fitted_pair[1]  # the first fit's twin; continuing it reuses its compiled step
    n_iter, codes = ae.n_iter_, ae.transform(X)
    assert ae.partial_fit(X) is ae
    assert ae.n_iter_ == n_iter + 1 and np.all(np.isfinite(ae.loss_curve_))
    assert not np.array_equal(ae.transform(X), codes)  # the new weights are used


def test_partial_fit_from_scratch_and_after_unpickling(data):
    # Every family shares this code path (BaseAutoencoder._fit); one family is enough.
    X = data[0]
    ae = tiny(StackedAE)
    ae.partial_fit(X)
    assert ae.n_iter_ == 1 and len(ae.loss_curve_) == 1
    restored = pickle.loads(pickle.dumps(ae))
    restored.partial_fit(X)
    assert restored.n_iter_ == 2 and np.all(np.isfinite(restored.loss_curve_))


@pytest.mark.parametrize("name", ["StackedAE", "VariationalAE"])
def test_sample_weights_ones_zeros_and_others(data, name):
    # The weights ride with the data in each backend's runner; the ELBO is weighted per row.
    X = data[0][:60]
    estimator = AUTOENCODERS[name]
    mask = (np.arange(len(X)) % 3 > 0).astype(float)
    without = fit_quietly(clone(estimator), X[mask > 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        zeros = clone(estimator).fit(X, sample_weight=mask)
        varied = clone(estimator).fit(X, sample_weight=mask * np.linspace(0.5, 2, len(X)))
    np.testing.assert_array_equal(zeros.transform(X), without.transform(X))
    assert np.all(np.isfinite(varied.loss_curve_))
    assert not np.array_equal(varied.transform(X), without.transform(X))


def test_encoder_classifier_fit_predict_and_round_trips(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    X, y, X_test = X_train[:200], y_train[:200], X_test[:50]

    classifier = EncoderClassifier(
        tiny(StackedAE, n_components=8, hidden_layer_sizes=(16,)),
        epochs=2,
        batch_size=16,
        random_state=0,
    )
    # One fit (determinism is checked on the autoencoders above).
    fitted = fit_quietly(classifier, X, y)
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    predictions = fitted.predict(X_test)
    np.testing.assert_array_equal(predictions, fitted.classes_[np.argmax(proba, axis=1)])
    assert 0 <= fitted.score(X_test, y_test[:50]) <= 1
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X_test), proba)
    skae.save(fitted, tmp_path / "classifier.skae")
    np.testing.assert_array_equal(
        skae.load(tmp_path / "classifier.skae").predict(X_test), predictions
    )


@pytest.mark.skipif(
    keras.backend.backend() == "tensorflow",
    reason="JAX's and PyTorch's runners: tests/test_engine.py checks TensorFlow's placement",
)
def test_trains_on_the_host_copy_without_copying_it_again(monkeypatch):
    # On the CPU, jax.device_put aliases a page-aligned array and torch.as_tensor a float32
    # one: the float32 copy of the rows is the only one (a JAX fit of 60,000 x 784 float64
    # rows held 0.77 more copies with jnp.asarray).
    from skae._data import TrainingRows
    from skae._engine import Trainer

    built = []
    inputs = TrainingRows.inputs

    def recording(self, *args, **kwargs):
        built.append(inputs(self, *args, **kwargs))
        return built[-1]

    monkeypatch.setattr(TrainingRows, "inputs", recording)
    model = keras.Sequential([keras.Input((13,)), keras.layers.Dense(13)])
    model.compile(optimizer="adam", loss="mse")
    X = np.random.default_rng(0).normal(size=(50, 13))
    placed, _, _ = Trainer(model, loss="mean_squared_error", batch_size=8)._runner.place(
        TrainingRows(X, np.arange(50), 8)
    )
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(placed), X.astype(np.float32))
    if keras.backend.backend() == "jax":
        import jax

        if jax.default_backend() == "cpu":
            assert placed.unsafe_buffer_pointer() == built[-1].ctypes.data
    elif placed.device.type == "cpu":
        assert placed.data_ptr() == built[-1].ctypes.data
