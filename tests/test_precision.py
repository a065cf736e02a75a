"""The training options of issue 6: XLA compilation and mixed-precision dtype policies."""

import pickle
import warnings

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import skae._utils
from skae import EncoderClassifier, SparseAE, StackedAE, VariationalAE

from .conftest import optimizer_steps


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data / 16).astype(np.float32)


def fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_as_well_as_float32(digits, policy):
    settings = dict(n_components=8, epochs=15, random_state=0)
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


class _StopAfterFirstStep(keras.callbacks.Callback):
    """Ends the fit after its first step: what is checked is how the fit was compiled."""

    def on_train_batch_end(self, batch, logs=None):
        self.model.stop_training = True


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the CPU rule is skae's choice for TensorFlow; Keras on JAX always compiles",
)
def test_auto_jit_compile_chooses_xla_for_long_fits_of_big_networks_on_cpu():
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        pytest.skip("on a GPU Keras's own 'auto' decides")
    X = np.random.default_rng(0).random((80, 784))
    big = dict(hidden_layer_sizes=(4096,), batch_size=8, callbacks=[_StopAfterFirstStep()])
    # 10 steps per epoch of about 3e8 flop each: 100 epochs repay XLA's compilation, 5 do not.
    long_fit = fit(StackedAE(**big, epochs=100), X)
    short_fit = fit(StackedAE(**big, epochs=5), X)
    small_network = fit(
        StackedAE(hidden_layer_sizes=(8,), batch_size=8, epochs=100, callbacks=big["callbacks"]),
        X,
    )
    refused = fit(StackedAE(**big, epochs=100, jit_compile=False), X)
    # One step of about 3e10 flop per epoch: 200 such steps repay it too.
    few_large_steps = fit(StackedAE(**{**big, "batch_size": 800}, epochs=200), np.tile(X, (10, 1)))
    assert long_fit.model_.jit_compile is True
    assert few_large_steps.model_.jit_compile is True
    assert short_fit.model_.jit_compile is False
    assert small_network.model_.jit_compile is False
    assert refused.model_.jit_compile is False


needs_tensorflow_step_loop = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="skae runs its own XLA step loop on TensorFlow only; elsewhere Keras runs the steps",
)

# 1,000 rows in batches of 32: 32 steps per epoch, 8 per XLA call, and a last call of seven
# full batches and one of 8 rows, so every kind of call is checked.
LOOP_SETTINGS = dict(n_components=4, hidden_layer_sizes=(16,), batch_size=32, epochs=2)


def fits_with_and_without_step_loop(make_estimator, X, monkeypatch):
    looped = fit(make_estimator(), X)
    monkeypatch.setattr(skae._utils, "XLA_LOOP_MAX_STEPS", 1)  # one step per call
    stepwise = fit(make_estimator(), X)
    return looped, stepwise


@needs_tensorflow_step_loop
@pytest.mark.parametrize(
    "make_estimator",
    [
        # The pretrained case ends with the plain end-to-end fit of a StackedAE.
        lambda: StackedAE(
            **LOOP_SETTINGS, pretrain="greedy", pretrain_epochs=2, jit_compile=True, random_state=0
        ),
        lambda: VariationalAE(**LOOP_SETTINGS, jit_compile=True, random_state=0),
    ],
    ids=["pretrained", "variational"],
)
def test_xla_step_loop_trains_exactly_as_one_step_per_call(digits, monkeypatch, make_estimator):
    X = digits[:1000]
    looped, stepwise = fits_with_and_without_step_loop(make_estimator, X, monkeypatch)
    assert looped.model_._skae_step_loop.shape == (32, 8)  # the loop ran the fit
    assert not hasattr(stepwise.model_, "_skae_step_loop")
    assert optimizer_steps(looped) == optimizer_steps(stepwise) == 2 * 32
    np.testing.assert_allclose(looped.loss_curve_, stepwise.loss_curve_, rtol=1e-5)
    for phase, stepwise_phase in zip(
        getattr(looped, "pretrain_loss_curves_", None) or [],
        getattr(stepwise, "pretrain_loss_curves_", None) or [],
        strict=True,
    ):
        np.testing.assert_allclose(phase, stepwise_phase, rtol=1e-5)
    np.testing.assert_allclose(looped.transform(X), stepwise.transform(X), rtol=1e-4, atol=1e-6)


@needs_tensorflow_step_loop
def test_xla_step_loop_fine_tunes_a_classifier_as_one_step_per_call(digits, monkeypatch):
    y = load_digits().target[:1000]

    def make_classifier():
        autoencoder = StackedAE(**LOOP_SETTINGS, jit_compile=True, random_state=0)
        return EncoderClassifier(autoencoder, batch_size=32, epochs=2, random_state=0)

    def fit_classifier(classifier):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return classifier.fit(digits[:1000], y)

    looped = fit_classifier(make_classifier())
    monkeypatch.setattr(skae._utils, "XLA_LOOP_MAX_STEPS", 1)
    stepwise = fit_classifier(make_classifier())
    assert looped.model_._skae_step_loop.shape == (32, 8)
    assert optimizer_steps(looped) == optimizer_steps(stepwise) == 2 * 32
    np.testing.assert_allclose(looped.loss_curve_, stepwise.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(
        looped.predict_proba(digits[:100]), stepwise.predict_proba(digits[:100]), atol=1e-5
    )


@needs_tensorflow_step_loop
def test_xla_step_loop_is_kept_across_partial_fits_and_keras_fits_take_one_step_per_batch(digits):
    X = digits[:1000]
    ae = StackedAE(**LOOP_SETTINGS, jit_compile=True, random_state=0)
    ae.partial_fit(X)
    loop = ae.model_._skae_step_loop
    ae.partial_fit(X)
    assert ae.model_._skae_step_loop is loop  # traced and compiled once, as Keras keeps its own
    assert optimizer_steps(ae) == 2 * 32 and len(ae.loss_curve_) == 2
    # The user's own Keras calls on model_ take one step per batch of theirs, as in Keras.
    ae.model_.train_on_batch(X[:100], X[:100])
    assert optimizer_steps(ae) == 2 * 32 + 1
    ae.model_.fit(X, X, batch_size=250, epochs=1, verbose=0)
    assert optimizer_steps(ae) == 2 * 32 + 1 + 4
