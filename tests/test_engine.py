"""skae's training engine (skae/_engine.py): the same training as a plain loop, reproducible,
the same for resident and streamed data, and every fit feature running through it."""

import logging
import warnings

import keras
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import skae._data
from skae import EncoderClassifier, StackedAE, VariationalAE
from skae._data import TrainingRows
from skae._engine import Trainer

from .conftest import optimizer_steps


@pytest.fixture(scope="module")
def X():
    return (load_digits().data[:300] / 16).astype(np.float32)


def fit(estimator, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X) if y is None else estimator.fit(X, y)


def small_model(seed=0):
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(
                8, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed)
            ),
            keras.layers.Dense(64, kernel_initializer=keras.initializers.GlorotUniform(seed + 1)),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the reference loop is written with TensorFlow's GradientTape",
)
def test_engine_trains_exactly_as_a_one_step_per_batch_loop(X):
    import tensorflow as tf

    # 300 rows in batches of 32: nine full batches and a last one of 12 rows.
    engine_model, reference = small_model(), small_model()
    trainer = Trainer(engine_model, loss="mean_squared_error", batch_size=32)
    curve = trainer.fit(TrainingRows(X, np.arange(300), 32), epochs=3, seed=0).loss_curve

    optimizer = reference.optimizer
    expected = []
    for _ in range(3):
        total = 0.0
        for start in range(0, 300, 32):
            batch = X[start : start + 32]
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(reference(batch, training=True) - batch))
            gradients = tape.gradient(loss, reference.trainable_variables)
            optimizer.apply(gradients, reference.trainable_variables)
            total += float(loss) * len(batch)
        expected.append(total / 300)
    np.testing.assert_allclose(curve, expected, rtol=1e-5)
    for got, want in zip(engine_model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert int(keras.ops.convert_to_numpy(engine_model.optimizer.iterations)) == 30


@pytest.mark.parametrize("loss", ["mean_squared_error", "binary_crossentropy"])
@pytest.mark.parametrize("weighted", [False, True])
def test_batch_loss_is_the_keras_loss_averaged_over_rows(loss, weighted):
    # The engine computes these losses value by value for speed: it must give Keras's value.
    rng = np.random.default_rng(0)
    targets = rng.random((7, 5)).astype(np.float32)
    outputs = rng.uniform(0.01, 0.99, (7, 5)).astype(np.float32)
    weights = rng.uniform(0.1, 3.0, 7).astype(np.float32) if weighted else None
    trainer = Trainer(small_model(), loss=loss, batch_size=7)
    got = keras.ops.convert_to_numpy(trainer.compute_loss(targets, outputs, [], weights))
    per_row = keras.ops.convert_to_numpy(keras.losses.get(loss)(targets, outputs))
    expected = np.mean(per_row * (1.0 if weights is None else weights))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_same_random_state_gives_identical_training(X):
    settings = dict(n_components=4, hidden_layer_sizes=(16,), epochs=3, random_state=5)
    first, second = fit(StackedAE(**settings), X), fit(StackedAE(**settings), X)
    assert first.loss_curve_ == second.loss_curve_
    np.testing.assert_array_equal(first.transform(X), second.transform(X))
    other = fit(StackedAE(**{**settings, "random_state": 6}), X)
    assert other.loss_curve_ != first.loss_curve_


def test_shuffling_does_not_touch_global_random_states(X):
    import random

    numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    fit(StackedAE(n_components=2, hidden_layer_sizes=(4,), epochs=2, random_state=0), X)
    assert random.getstate() == python_state
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state[1])  # noqa: NPY002


@pytest.mark.parametrize("make_input", [np.asarray, sp.csr_matrix], ids=["dense", "sparse"])
def test_streamed_data_train_as_resident_data(X, monkeypatch, make_input):
    settings = dict(n_components=4, hidden_layer_sizes=(16,), epochs=2, batch_size=32)
    resident = fit(StackedAE(**settings, random_state=0), X)
    # Chunks of 64 rows (two batches): 300 rows stream in five chunks and one of 44 rows.
    monkeypatch.setattr(skae._data, "RESIDENT_BYTES", 0)
    monkeypatch.setattr(skae._data, "STREAM_CHUNK_BYTES", 64 * 64 * 4)
    data = TrainingRows(make_input(X), np.arange(300), 32)
    assert not data.resident and data.chunk_rows == 64
    streamed = fit(StackedAE(**settings, random_state=0), make_input(X))
    np.testing.assert_allclose(streamed.loss_curve_, resident.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(streamed.transform(X), resident.transform(X), rtol=1e-5, atol=1e-6)


def test_resident_copy_is_aligned_float32_of_the_rows(monkeypatch):
    # TensorFlow takes the host copy without copying it again, and aborts the process on a
    # buffer not aligned to 64 bytes; the copy is cast slice by slice (3 rows here).
    monkeypatch.setattr(skae._data, "CAST_SLICE_BYTES", 3 * 13 * 8)
    X = np.random.default_rng(0).normal(size=(50, 13))
    rows = np.array([7, 3, 49, 0, 11, 12, 30])
    copy = TrainingRows(X, rows, 4).inputs(aligned=True)
    assert copy.ctypes.data % 64 == 0 and copy.flags.c_contiguous and copy.dtype == np.float32
    np.testing.assert_array_equal(copy, X[rows].astype(np.float32))


def test_sparse_and_memory_mapped_data_stream(X, tmp_path):
    assert not TrainingRows(sp.csr_matrix(X), np.arange(300), 32).resident
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    assert not TrainingRows(mapped, np.arange(300), 32).resident
    assert not TrainingRows(np.asarray(mapped), np.arange(300), 32).resident  # a view of it
    assert TrainingRows(X, np.arange(300), 32).resident


class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch", epoch, sorted(logs)))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch", batch, sorted(logs)))


def test_callbacks_see_epochs_and_one_batch_per_compiled_call(X):
    recorder = _Recorder()
    ae = StackedAE(
        n_components=2,
        hidden_layer_sizes=(4,),
        epochs=3,
        early_stopping=True,
        callbacks=[recorder],
        random_state=0,
    )
    fit(ae, X)
    epochs = [e for e in recorder.events if e[0] == "epoch"]
    assert [e[1] for e in epochs] == [0, 1, 2]
    assert epochs[0][2] == ["loss", "val_loss"]
    assert [e for e in recorder.events if e[0] == "batch"] == [("batch", 0, ["loss"])] * 3
    assert ae.validation_loss_curve_ is not None and len(ae.loss_curve_) == 3


def test_a_users_early_stopping_ends_the_fit_without_a_convergence_warning(X):
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    ae = StackedAE(
        n_components=2, hidden_layer_sizes=(4,), epochs=50, callbacks=[stop], random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ae.fit(X)
    assert ae.n_iter_ == 2  # the second epoch did not improve by min_delta


def test_verbose_prints_one_line_per_epoch_with_pretraining_labelled(X, capsys):
    fit(
        StackedAE(
            n_components=2,
            hidden_layer_sizes=(4,),
            epochs=2,
            pretrain="greedy",
            pretrain_epochs=1,
            early_stopping=True,
            verbose=1,
            random_state=0,
        ),
        X,
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Pretraining layer 0: Epoch 1/1, loss = ")
    assert lines[1].startswith("Pretraining layer 1: Epoch 1/1, loss = ")
    assert lines[2].startswith("Epoch 1/2, loss = ") and "validation loss = " in lines[2]
    assert lines[3].startswith("Epoch 2/2, ") and lines[3].endswith(" s")
    assert len(lines) == 4
    fit(StackedAE(n_components=2, hidden_layer_sizes=(4,), epochs=2, random_state=0), X)
    assert capsys.readouterr().out == ""  # quiet by default


def test_partial_fit_reuses_the_traced_epoch(X):
    ae = StackedAE(n_components=2, hidden_layer_sizes=(4,), batch_size=32, random_state=0)
    ae.partial_fit(X[:100])
    trainer = ae._trainer
    for size in (120, 140, 160, 200):
        ae.partial_fit(X[:size])
    assert ae._trainer is trainer
    assert optimizer_steps(ae) == 4 + 4 + 5 + 5 + 7
    assert len(ae.loss_curve_) == 5


def test_a_grid_of_fits_logs_no_retracing_warning(X, caplog):
    with caplog.at_level(logging.WARNING):
        for seed in range(6):
            ae = fit(
                StackedAE(n_components=2, hidden_layer_sizes=(4,), epochs=2, random_state=seed),
                X,
            )
            ae.transform(X)
            ae.inverse_transform(ae.transform(X))
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


def test_added_losses_train_through_the_engine(X):
    # The VAE's loss is all added by its loss layer; training must lower it.
    vae = fit(VariationalAE(n_components=2, hidden_layer_sizes=(16,), epochs=5, random_state=0), X)
    assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    # L2 weight decay is part of the objective: the same fit with it reports a larger loss.
    settings = dict(n_components=2, hidden_layer_sizes=(16,), epochs=1, random_state=0)
    plain, decayed = fit(StackedAE(**settings), X), fit(StackedAE(**settings, l2=1.0), X)
    assert decayed.loss_curve_[0] > plain.loss_curve_[0] + 0.1


def test_classifier_fine_tunes_through_the_engine(X):
    y = load_digits().target[:300]
    clf = EncoderClassifier(
        # 5 epochs at a constant 1e-3: the cosine default's few-epoch encoder of these
        # 300 rows starts fine-tuning from larger codes and needs more than 20 epochs.
        StackedAE(
            n_components=8,
            hidden_layer_sizes=(32,),
            epochs=5,
            learning_rate=1e-3,
            learning_rate_schedule="constant",
            random_state=0,
        ),
        epochs=20,
        early_stopping=True,
        random_state=0,
    )
    fit(clf, X, y)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] and clf.validation_loss_curve_
    assert clf.score(X, y) > 0.8


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.distribute strategies exist on the TensorFlow backend only",
)
def test_fit_under_a_distribution_strategy_trains(X):
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    settings = dict(n_components=4, hidden_layer_sizes=(16,), epochs=2, batch_size=32)
    with strategy.scope():
        distributed = fit(StackedAE(**settings, random_state=0), X)
    plain = fit(StackedAE(**settings, random_state=0), X)
    np.testing.assert_allclose(distributed.loss_curve_, plain.loss_curve_, rtol=1e-4)
