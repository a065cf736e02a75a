"""Faults during training, concurrent inference and long-running processes, for every family.

A fit that diverges, is interrupted or fails while building its network leaves the
estimator as it was before the call (or unfitted); concurrent ``transform`` calls agree
with serial ones; many fits in one process leave neither traced graphs nor training data
behind and do not disturb other live estimators or the user's own Keras models
(benchmarks/soak.py measures the memory and time of 100 such fits).
"""

import gc
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.frozen import FrozenEstimator

from skae import (
    ConvolutionalAE,
    DenoisingAE,
    EncoderClassifier,
    SparseAE,
    StackedAE,
    VariationalAE,
)
from skae._layers import TiedDense

from .conftest import tiny

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Squared error everywhere, so that data scaled far outside [0, 1] is accepted and can
# make the loss overflow (binary cross-entropy and the Bernoulli likelihood refuse it).
FAMILIES = {
    "StackedAE": lambda **p: tiny(StackedAE, **p),
    "DenoisingAE": lambda **p: tiny(DenoisingAE, noise_level=0.1, **p),
    "SparseAE": lambda **p: tiny(SparseAE, n_components=3, **p),
    "VariationalAE": lambda **p: tiny(VariationalAE, **{"loss": "mse", **p}),
    "ConvolutionalAE": lambda **p: ConvolutionalAE(
        **{
            "image_shape": (8, 8, 1),
            "filters": (2,),
            "loss": "mse",
            "epochs": 2,
            "batch_size": 16,
            "random_state": 0,
            **p,
        }
    ),
}
AUTOENCODERS = list(FAMILIES)


def make(name, **params):
    if name == "EncoderClassifier":
        autoencoder = tiny(StackedAE, **params.pop("autoencoder_params", {}))
        return EncoderClassifier(
            autoencoder, **{"epochs": 2, "batch_size": 16, "random_state": 0, **params}
        )
    return FAMILIES[name](**params)


X = load_digits().data[:160] / 16.0
Y = load_digits().target[:160].copy()
Y[80:] = -1


def fit(estimator, X=X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if isinstance(estimator, EncoderClassifier):
            return estimator.fit(X, Y[: len(X)])
        return estimator.fit(X)


def outputs(estimator):
    if isinstance(estimator, EncoderClassifier):
        return [estimator.predict_proba(X)]
    codes = estimator.transform(X)
    return [codes, estimator.inverse_transform(codes), estimator.score_samples(X)]


def state(estimator):
    """Everything a fit may change: weights and seed-generator states, optimizer state,
    bookkeeping, outputs."""
    model = estimator.model_
    variables = [keras.ops.convert_to_numpy(v) for v in model.variables]
    optimizer = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
    bookkeeping = {
        key: value
        for key, value in vars(estimator).items()
        if key.endswith("_") and not isinstance(value, (keras.Model, BaseEstimator))
    }
    return variables, optimizer, repr(bookkeeping), outputs(estimator)


def assert_same_state(before, after):
    weights, optimizer, bookkeeping, results = before
    for expected, got in zip(weights, after[0], strict=True):
        np.testing.assert_array_equal(expected, got)
    for expected, got in zip(optimizer, after[1], strict=True):
        np.testing.assert_array_equal(expected, got)
    assert bookkeeping == after[2]
    for expected, got in zip(results, after[3], strict=True):
        np.testing.assert_array_equal(expected, got)


@pytest.fixture(scope="module")
def fitted():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = fit(make(name))
        return cache[name]

    return get


# ---------------------------------------------------------------- divergence


class EpochCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


# Plain SGD with an absurd step on data scaled by 1e3: the loss overflows within an epoch.
DIVERGING = dict(optimizer="sgd", learning_rate=1e12, epochs=20)


@pytest.mark.parametrize("name", AUTOENCODERS)
def test_divergence_stops_at_once_and_leaves_no_fitted_state(name):
    counter = EpochCounter()
    estimator = make(name, callbacks=[counter], **DIVERGING)
    with pytest.raises(ValueError, match="diverged.*non-finite.*learning_rate"):
        fit(estimator, X * 1e3)
    assert counter.epochs <= 2  # stopped at the first non-finite epoch loss, not after 20
    assert [key for key in vars(estimator) if key.endswith("_")] == []
    with pytest.raises(NotFittedError):
        estimator.transform(X)


@pytest.mark.parametrize("name", AUTOENCODERS)
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_divergence_of_a_fitted_estimator_keeps_its_state(name, how, fitted):
    # Squared errors of data scaled by 1e20 overflow float32: the loss is infinite.
    estimator = fitted(name)
    before = state(estimator)
    estimator.set_params(warm_start=how == "warm_start")
    try:
        with pytest.raises(ValueError, match="diverged.*non-finite"):
            estimator.partial_fit(X * 1e20) if how == "partial_fit" else fit(estimator, X * 1e20)
    finally:
        estimator.set_params(warm_start=False)
    assert_same_state(before, state(estimator))


def test_divergence_of_the_classifier_fine_tuning_leaves_no_fitted_state():
    # A frozen, already fitted autoencoder skips pretraining, so the error must come from
    # fine-tuning. One step at 1e30 makes the encoder's weights huge and the next forward
    # pass overflow on every backend (a saturated softmax alone stops learning on JAX, whose
    # clipped cross-entropy then has no gradient, instead of diverging).
    autoencoder = FrozenEstimator(fit(tiny(StackedAE)))
    estimator = EncoderClassifier(
        autoencoder, optimizer="sgd", learning_rate=1e30, epochs=20, batch_size=16, random_state=0
    )
    with pytest.raises(ValueError, match="Fine-tuning diverged"):
        fit(estimator)
    assert not hasattr(estimator, "classes_") and not hasattr(estimator, "model_")


# ---------------------------------------------------------------- interrupted fits


class Interrupt(keras.callbacks.Callback):
    """Raises after the first compiled call of training: the weights have changed by then.

    skae's engine trains a whole epoch per call, so this is as far into an epoch as a
    callback can reach (a Ctrl-C lands between calls too)."""

    def on_train_batch_end(self, batch, logs=None):
        raise KeyboardInterrupt("interrupted mid-fit")


@pytest.mark.parametrize("name", AUTOENCODERS)
def test_interrupted_fit_of_an_unfitted_estimator_leaves_it_unfitted(name):
    estimator = make(name, callbacks=[Interrupt()])
    params = estimator.get_params(deep=False)
    with pytest.raises(KeyboardInterrupt):
        fit(estimator)
    assert estimator.get_params(deep=False) == params
    assert [key for key in vars(estimator) if key.endswith("_")] == []
    with pytest.raises(NotFittedError):
        estimator.transform(X)


@pytest.mark.parametrize("name", AUTOENCODERS)
@pytest.mark.parametrize("how", ["fit", "warm_start", "partial_fit"])
def test_interrupted_fit_leaves_a_fitted_estimator_as_it_was(name, how, fitted):
    estimator = fitted(name)
    before = state(estimator)
    estimator.set_params(callbacks=[Interrupt()], warm_start=how == "warm_start")
    try:
        with pytest.raises(KeyboardInterrupt):
            estimator.partial_fit(X) if how == "partial_fit" else fit(estimator)
    finally:
        estimator.set_params(callbacks=None, warm_start=False)
    assert_same_state(before, state(estimator))
    # Training continues from the restored state.
    n_iter = estimator.n_iter_
    estimator.partial_fit(X)
    assert estimator.n_iter_ == len(estimator.loss_curve_) == n_iter + 1


def test_interrupted_pretraining_of_the_classifier_leaves_it_as_it_was(fitted):
    estimator = fitted("EncoderClassifier")
    before = [w.copy() for w in estimator.model_.get_weights()], outputs(estimator)
    previous = estimator.autoencoder
    estimator.set_params(autoencoder=tiny(StackedAE, callbacks=[Interrupt()]))
    try:
        with pytest.raises(KeyboardInterrupt):
            fit(estimator)
    finally:
        estimator.set_params(autoencoder=previous)
    for expected, got in zip(before[0], estimator.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(expected, got)
    for expected, got in zip(before[1], outputs(estimator), strict=True):
        np.testing.assert_array_equal(expected, got)


# ---------------------------------------------------------------- failures while building


class BuildFailure(RuntimeError):
    pass


@pytest.mark.parametrize("name", AUTOENCODERS)
def test_failure_while_building_the_network_leaves_no_stray_state(name, fitted, monkeypatch):
    # StackedAE's tied layers (its default) are skae's TiedDense; every other layer is Keras's.
    layers = [keras.layers.Conv2D] if name == "ConvolutionalAE" else [keras.layers.Dense, TiedDense]
    calls = []

    def failing(original_build):
        def failing_build(self, input_shape):
            calls.append(self.name)
            if len(calls) == 2:  # the first layer is built: fail half-way through the network
                raise BuildFailure("simulated failure while building the network")
            return original_build(self, input_shape)

        return failing_build

    # An unfitted estimator stays unfitted.
    for layer in layers:
        monkeypatch.setattr(layer, "build", failing(layer.build))
    estimator = make(name)
    with pytest.raises(BuildFailure):
        fit(estimator)
    assert [key for key in vars(estimator) if key.endswith("_")] == []
    # A fitted estimator refitted from scratch keeps its previous network.
    estimator = fitted(name)
    before = state(estimator)
    calls.clear()
    with pytest.raises(BuildFailure):
        fit(estimator)
    monkeypatch.undo()
    assert_same_state(before, state(estimator))
    fit(make(name)).transform(X)  # nothing left behind stops a later fit


def test_classifier_whose_encoder_cannot_take_the_input_leaves_no_state(fitted):
    # The autoencoder is fitted on 8x8 images, the classifier is given 64 + 1 features.
    estimator = fitted("EncoderClassifier")
    before = outputs(estimator)
    previous = estimator.autoencoder
    estimator.set_params(autoencoder=FAMILIES["ConvolutionalAE"](image_shape=(8, 8, 1)))
    try:
        with pytest.raises(ValueError, match="image_shape|features"):
            fit(estimator, np.hstack([X, X[:, :1]]))
    finally:
        estimator.set_params(autoencoder=previous)
    assert estimator.n_features_in_ == 64
    for expected, got in zip(before, outputs(estimator), strict=True):
        np.testing.assert_array_equal(expected, got)


# ---------------------------------------------------------------- concurrency


@pytest.mark.parametrize("name", [*AUTOENCODERS, "EncoderClassifier"])
def test_concurrent_calls_from_eight_threads_match_serial_ones(name, fitted):
    estimator = fitted(name)
    method = (
        estimator.predict_proba if isinstance(estimator, EncoderClassifier) else estimator.transform
    )
    chunks = [X[i::8] for i in range(8)] * 3
    serial = [method(chunk) for chunk in chunks]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(method, chunks))
    for expected, got in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(expected, got)


# ---------------------------------------------------------------- long-running processes


def _live_traced_graphs():
    from tensorflow.python.framework.func_graph import FuncGraph

    gc.collect()
    return sum(isinstance(o, FuncGraph) for o in gc.get_objects())


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="guards a leak in TensorFlow's global registries, which other backends lack",
)
def test_repeated_fits_leave_no_traced_graphs_and_other_models_keep_working(fitted):
    # A model the user owns and a fitted estimator, alive while other estimators come and go.
    user = keras.Sequential([keras.Input((64,)), keras.layers.Dense(3)])
    user.compile(optimizer="adam", loss="mse")
    user.fit(X, X[:, :3], epochs=1, verbose=0)
    user_before = user.predict(X, verbose=0)
    live = fitted("StackedAE")
    live_before = outputs(live)

    def cycle(seed):
        estimator = fit(make("StackedAE", random_state=seed))
        estimator.transform(X)

    cycle(0)  # warm-up: Keras and TensorFlow cache a few graphs of their own once
    baseline = _live_traced_graphs()
    for seed in range(1, 6):
        cycle(seed)
    # Before the fix each fit left its traced training graph (and ~7 MB) in TensorFlow's
    # gradient registry through Keras's single-replica all-reduce.
    assert _live_traced_graphs() <= baseline + 10
    np.testing.assert_array_equal(user.predict(X, verbose=0), user_before)
    for expected, got in zip(live_before, outputs(live), strict=True):
        np.testing.assert_array_equal(expected, got)
    user.fit(X, X[:, :3], epochs=1, verbose=0)  # the user's model still trains
    live.partial_fit(X)  # and so does the live estimator


@pytest.mark.parametrize(
    "estimator",
    [
        tiny(StackedAE, epochs=1),
        tiny(StackedAE, epochs=1, pretrain="greedy", pretrain_epochs=1),
        EncoderClassifier(tiny(StackedAE, epochs=1), epochs=1, random_state=0),
    ],
    ids=["fit", "greedy pretraining", "classifier fine-tuning"],
)
def test_training_data_is_not_kept_after_fit(estimator):
    # Keras feeds batch sequences through a py_func that TensorFlow's global graph keeps
    # for good: before the fix each fit kept its training array alive.
    data = X.copy()
    alive = weakref.ref(data)
    fit(estimator, data)
    del data
    gc.collect()
    assert alive() is None
