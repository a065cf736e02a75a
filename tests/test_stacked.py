"""StackedAE: the behaviour a scikit-learn user relies on."""

import random
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skae import StackedAE

from .conftest import optimizer_steps

FAST = dict(hidden_layer_sizes=(32,), epochs=5, batch_size=32, random_state=0)


def fast(**params):
    return StackedAE(**{"n_components": 4, **FAST, **params})


@pytest.fixture(scope="module")
def fitted(small_digits):
    X_train, _ = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fast().fit(X_train)


def outputs(estimator, X):
    codes = estimator.transform(X)
    return codes, estimator.inverse_transform(codes), estimator.score_samples(X)


# ---------------------------------------------------------------- workflow


def test_pipeline_with_classifier_fits_and_scores_on_digits(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = Pipeline(
        [
            ("ae", StackedAE(n_components=16, epochs=30, random_state=0)),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X_train, y_train)
    # Ten classes: chance is 0.1; 16 learned features must carry most of the class information.
    assert pipe.score(X_test, y_test) > 0.85


def test_grid_search_over_n_components_in_two_processes(small_digits):
    X_train, _ = small_digits
    y = np.arange(len(X_train)) % 3  # labels only so the classifier has something to fit
    pipe = Pipeline([("ae", fast(epochs=2)), ("clf", LogisticRegression())])
    search = GridSearchCV(pipe, {"ae__n_components": [2, 4]}, cv=2, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X_train, y)
    assert search.best_params_["ae__n_components"] in (2, 4)
    assert (
        search.best_estimator_.named_steps["ae"].transform(X_train).shape[1]
        == (search.best_params_["ae__n_components"])
    )


def test_grid_search_without_scorer_ranks_by_reconstruction(small_digits):
    X_train, _ = small_digits
    search = GridSearchCV(fast(epochs=3), {"n_components": [1, 16]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X_train)
    # score() is minus the reconstruction error: a 16-value code must beat a 1-value code.
    assert search.best_params_ == {"n_components": 16}
    assert np.all(search.cv_results_["mean_test_score"] < 0)


def test_defaults_beat_pca_reconstruction_at_code_size_8(digits):
    X_train, X_test, _, _ = digits
    pca = PCA(n_components=8).fit(X_train)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = StackedAE(n_components=8, random_state=0).fit(X_train)
    ae_mse = -ae.score(X_test)
    assert ae_mse < pca_mse
    assert ae.transform(X_test).shape == (len(X_test), 8)


def test_fit_transform_matches_fit_then_transform(small_digits):
    X_train, _ = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        codes = fast().fit_transform(X_train)
        again = fast().fit(X_train).transform(X_train)
    np.testing.assert_array_equal(codes, again)


def test_score_is_minus_mean_squared_reconstruction_error(fitted, small_digits):
    _, X_test = small_digits
    reconstruction = fitted.inverse_transform(fitted.transform(X_test))
    per_sample = np.mean((reconstruction - X_test) ** 2, axis=1)
    np.testing.assert_allclose(fitted.score_samples(X_test), -per_sample, rtol=1e-5)
    assert fitted.score(X_test) == pytest.approx(-per_sample.mean(), rel=1e-5)


def test_output_activation_auto_follows_the_data_range(small_digits):
    X_train, _ = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert fast(epochs=1).fit(X_train).output_activation_ == "sigmoid"
        assert fast(epochs=1).fit(X_train * 4 - 2).output_activation_ == "linear"


def test_binary_crossentropy_loss_trains(small_digits):
    X_train, X_test = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = fast(loss="binary_crossentropy", epochs=10).fit(X_train)
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]
    reconstruction = ae.inverse_transform(ae.transform(X_test))
    assert reconstruction.min() >= 0 and reconstruction.max() <= 1


# ---------------------------------------------------------------- inputs and outputs


def test_sparse_input_trains_like_dense(small_digits):
    X_train, X_test = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = fast().fit(X_train)
        sparse = fast().fit(sp.csr_matrix(X_train))
    np.testing.assert_array_equal(dense.transform(X_test), sparse.transform(X_test))
    np.testing.assert_array_equal(dense.transform(X_test), dense.transform(sp.csc_matrix(X_test)))
    np.testing.assert_allclose(
        dense.score_samples(X_test), dense.score_samples(sp.csr_matrix(X_test)), rtol=1e-6
    )


def test_lists_and_dataframes_are_accepted(fitted, small_digits):
    _, X_test = small_digits
    expected = fitted.transform(X_test)
    np.testing.assert_array_equal(fitted.transform(X_test.tolist()), expected)
    frame = pd.DataFrame(X_test, columns=[f"px{i}" for i in range(X_test.shape[1])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = fast().fit(frame)
    assert list(ae.feature_names_in_) == list(frame.columns)
    np.testing.assert_array_equal(ae.transform(frame), ae.transform(X_test))


def test_pandas_output_and_feature_names(fitted, small_digits):
    _, X_test = small_digits
    names = fitted.get_feature_names_out()
    assert list(names) == [f"stackedae{i}" for i in range(4)]
    ae = clone(fitted).set_output(transform="pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        frame = ae.fit(X_test).transform(X_test)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(names)


def test_outputs_keep_the_input_float_dtype(fitted, small_digits):
    _, X_test = small_digits
    assert fitted.transform(X_test).dtype == np.float64
    assert fitted.transform(X_test.astype(np.float32)).dtype == np.float32
    codes = fitted.transform(X_test.astype(np.float32))
    assert fitted.inverse_transform(codes).dtype == np.float32


def test_outputs_do_not_depend_on_batch_composition(fitted, small_digits):
    _, X_test = small_digits
    codes = fitted.transform(X_test)
    one_by_one = np.vstack([fitted.transform(X_test[i : i + 1]) for i in range(10)])
    np.testing.assert_allclose(one_by_one, codes[:10], rtol=1e-6, atol=1e-6)
    order = np.random.default_rng(0).permutation(len(X_test))
    np.testing.assert_allclose(fitted.transform(X_test[order]), codes[order], rtol=1e-6, atol=1e-6)


def test_large_inputs_go_through_in_chunks(fitted):
    X = np.random.default_rng(0).random((10_000, 64))
    codes = fitted.transform(X)
    assert codes.shape == (10_000, 4)
    np.testing.assert_allclose(codes[-5:], fitted.transform(X[-5:]), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- randomness


def test_same_random_state_gives_identical_results(small_digits):
    X_train, X_test = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = fast().fit(X_train)
        second = fast().fit(X_train)
        other = fast(random_state=1).fit(X_train)
    np.testing.assert_array_equal(first.transform(X_test), second.transform(X_test))
    assert first.loss_curve_ == second.loss_curve_
    assert not np.allclose(first.transform(X_test), other.transform(X_test))


def test_fit_leaves_global_random_states_alone(small_digits):
    X_train, _ = small_digits
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 (the global state is the point)
    python_state = random.getstate()
    caller_state = np.random.RandomState(7)
    caller_before = caller_state.get_state()[1].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fast(epochs=1, random_state=caller_state).fit(X_train)
    numpy_after = np.random.get_state()[1]  # noqa: NPY002
    np.testing.assert_array_equal(numpy_after, numpy_state)
    assert random.getstate() == python_state
    np.testing.assert_array_equal(caller_state.get_state()[1], caller_before)


def test_random_state_instance_gives_reproducible_fits(small_digits):
    X_train, X_test = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = fast(epochs=1, random_state=np.random.RandomState(3)).fit(X_train)
        b = fast(epochs=1, random_state=np.random.RandomState(3)).fit(X_train)
    np.testing.assert_array_equal(a.transform(X_test), b.transform(X_test))


# ---------------------------------------------------------------- training loop


def test_early_stopping_keeps_the_best_validation_weights(small_digits):
    X_train, _ = small_digits
    ae = fast(early_stopping=True, epochs=200, n_iter_no_change=3, tol=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # it must stop, not run out
        ae.fit(X_train)
    assert ae.n_iter_ < 200
    assert len(ae.validation_loss_curve_) == ae.n_iter_ == len(ae.loss_curve_)
    assert ae.best_loss_ == min(ae.validation_loss_curve_)


def test_convergence_warning_when_the_epoch_budget_runs_out(small_digits):
    X_train, _ = small_digits
    with pytest.warns(ConvergenceWarning, match="epochs"):
        ae = fast(epochs=2).fit(X_train)
    assert ae.n_iter_ == 2
    assert ae.validation_loss_curve_ is None


@pytest.mark.parametrize(
    "n_rows, batch_size",
    [(300, 64), (6_399, 64), (6_400, 128), (12_800, 256), (60_000, 256)],
)
def test_auto_batch_size_grows_with_the_data_but_keeps_50_steps_an_epoch(n_rows, batch_size):
    # One epoch of a tiny network: Adam takes one step per mini-batch.
    X = np.random.default_rng(0).random((n_rows, 4), dtype=np.float32)
    ae = StackedAE(n_components=2, hidden_layer_sizes=(4,), epochs=1, random_state=0)
    assert ae.batch_size == "auto"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae.fit(X)
    assert optimizer_steps(ae) == -(-n_rows // batch_size)


def test_an_integer_batch_size_is_used_as_given(small_digits):
    X_train, _ = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = fast(epochs=1, batch_size=50).fit(X_train)
    assert optimizer_steps(ae) == -(-len(X_train) // 50)


def test_partial_fit_makes_one_pass_per_call(small_digits):
    X_train, _ = small_digits
    ae = fast()
    assert ae.partial_fit(X_train[:100]) is ae
    for _ in range(4):
        ae.partial_fit(X_train[100:])
    assert ae.n_iter_ == 5 and len(ae.loss_curve_) == 5
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]
    with pytest.raises(ValueError, match="features"):
        ae.partial_fit(X_train[:, :10])


def test_warm_start_continues_training(small_digits):
    X_train, X_test = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = fast(epochs=3, warm_start=True).fit(X_train)
        before = ae.score(X_test)
        ae.fit(X_train)
    assert ae.n_iter_ == 6
    assert ae.score(X_test) > before


def test_verbose_two_prints_a_line_per_epoch(small_digits, capsys):
    X_train, _ = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fast(epochs=3, verbose=2).fit(X_train)
    out = capsys.readouterr().out
    assert out.count("Epoch") == 3 and "loss" in out


def test_extra_callbacks_are_called(small_digits):
    X_train, _ = small_digits
    epochs_seen = []
    callback = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: epochs_seen.append(epoch)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fast(epochs=3, callbacks=[callback]).fit(X_train)
    assert epochs_seen == [0, 1, 2]


def test_divergence_raises_and_leaves_no_fitted_state(small_digits):
    X_train, _ = small_digits
    ae = fast(learning_rate=1e12, optimizer="sgd", epochs=5, code_activation="relu")
    with pytest.raises(ValueError, match="diverged"):
        ae.fit(X_train * 1e3)
    with pytest.raises(NotFittedError):
        ae.transform(X_train)


def test_interrupted_fit_leaves_a_fitted_estimator_as_it_was(fitted, small_digits):
    X_train, X_test = small_digits
    ae = clone(fitted).set_params(epochs=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae.fit(X_train)
    before = outputs(ae, X_test)
    curve = list(ae.loss_curve_)

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    for warm_start in (False, True):
        ae.set_params(callbacks=[Interrupt()], warm_start=warm_start)
        with pytest.raises(KeyboardInterrupt):
            ae.fit(X_train)
        for expected, got in zip(before, outputs(ae, X_test), strict=True):
            np.testing.assert_array_equal(expected, got)
        assert ae.loss_curve_ == curve


# ---------------------------------------------------------------- bad input

BAD_FIT_INPUTS = {
    "nan": (lambda X: np.where(np.eye(*X.shape) > 0, np.nan, X), ValueError, "NaN"),
    "+inf": (lambda X: np.where(np.eye(*X.shape) > 0, np.inf, X), ValueError, "infinity"),
    "-inf": (lambda X: np.where(np.eye(*X.shape) > 0, -np.inf, X), ValueError, "infinity"),
    "float32 overflow": (lambda X: X * 1e39, ValueError, "too large for float32"),
    "1-D": (lambda X: X[0], ValueError, "2D array"),
    "3-D": (lambda X: X[:, :, None], ValueError, "dim 3"),
    "no rows": (lambda X: X[:0], ValueError, "0 sample"),
    "no columns": (lambda X: X[:, :0], ValueError, "0 feature"),
    "strings": (lambda X: X.astype(str).astype(object) + "px", ValueError, "could not convert"),
    "complex": (lambda X: X + 1j, ValueError, "Complex"),
    "sparse with NaN": (
        lambda X: sp.csr_matrix(np.where(np.eye(*X.shape) > 0, np.nan, X)),
        ValueError,
        "NaN",
    ),
    "text column": (
        lambda X: pd.DataFrame(X, columns=[f"px{i}" for i in range(X.shape[1])]).assign(label="a"),
        ValueError,
        "could not convert",
    ),
}


@pytest.mark.parametrize("name", BAD_FIT_INPUTS)
def test_bad_fit_input_is_refused_and_fitted_state_kept(name, fitted, small_digits):
    make_bad, error, message = BAD_FIT_INPUTS[name]
    X_train, X_test = small_digits
    ae = clone(fitted).set_params(epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae.fit(X_train)
    before = outputs(ae, X_test)
    n_features = ae.n_features_in_
    with pytest.raises(error, match=message):
        ae.fit(make_bad(X_train.copy()))
    assert ae.n_features_in_ == n_features
    for expected, got in zip(before, outputs(ae, X_test), strict=True):
        np.testing.assert_array_equal(expected, got)
    with pytest.raises(error, match=message):
        ae.transform(make_bad(X_test.copy()))
    with pytest.raises(error, match=message):
        ae.score_samples(make_bad(X_test.copy()))


BAD_PARAMS = {
    "n_components=0": (dict(n_components=0), ValueError, "n_components"),
    "negative epochs": (dict(epochs=-1), ValueError, "epochs"),
    "negative hidden size": (dict(hidden_layer_sizes=(8, -2)), ValueError, "hidden_layer_sizes"),
    "unknown loss": (dict(loss="hinge"), ValueError, "loss"),
    "unknown activation": (dict(activation="wobbly"), ValueError, "activation"),
    "unknown output activation": (
        dict(output_activation="wobbly"),
        ValueError,
        "output_activation",
    ),
    "validation_fraction=1": (dict(validation_fraction=1.0), ValueError, "validation_fraction"),
    "validation_fraction=0": (dict(validation_fraction=0.0), ValueError, "validation_fraction"),
    "learning_rate=0": (dict(learning_rate=0.0), ValueError, "learning_rate"),
    "callbacks not callbacks": (dict(callbacks=["stop"]), TypeError, "callbacks"),
    "callbacks not a list": (dict(callbacks=keras.callbacks.History()), ValueError, "callbacks"),
    "sparsity without sigmoid": (dict(sparsity_weight=0.1), ValueError, "code_activation"),
    "dropout noise level 1": (dict(noise="dropout", noise_level=1.0), ValueError, "noise_level"),
    "noise without level": (dict(noise="gaussian"), ValueError, "noise_level"),
}


@pytest.mark.parametrize("name", BAD_PARAMS)
def test_bad_parameters_are_refused_with_their_name(name, small_digits):
    params, error, message = BAD_PARAMS[name]
    X_train, _ = small_digits
    ae = fast(**params)
    with pytest.raises(error, match=message):
        ae.fit(X_train)
    with pytest.raises(NotFittedError):
        ae.transform(X_train)


def test_binary_crossentropy_refuses_data_outside_unit_interval(small_digits):
    X_train, _ = small_digits
    with pytest.raises(ValueError, match=r"binary_crossentropy.*\[0, 1\]"):
        fast(loss="binary_crossentropy").fit(X_train * 2)


def test_transform_refusals(fitted, small_digits):
    _, X_test = small_digits
    with pytest.raises(NotFittedError):
        fast().transform(X_test)
    with pytest.raises(NotFittedError):
        fast().inverse_transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="64 features"):
        fitted.transform(X_test[:, :10])
    with pytest.raises(ValueError, match="n_components=4"):
        fitted.inverse_transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        fitted.inverse_transform(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="too large for float32"):
        fitted.inverse_transform(np.full((2, 4), 1e39))
    with pytest.raises(ValueError, match="2D array"):
        fitted.inverse_transform(np.zeros(4))
    frame = pd.DataFrame(X_test, columns=[f"px{i}" for i in range(64)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        named = fast(epochs=1).fit(frame)
    with pytest.raises(ValueError, match="feature names"):
        named.transform(frame.rename(columns={"px0": "other"}))


def test_concurrent_transforms_match_serial_ones(fitted, small_digits):
    from concurrent.futures import ThreadPoolExecutor

    _, X_test = small_digits
    chunks = [X_test[i::4] for i in range(4)] * 4
    serial = [fitted.transform(chunk) for chunk in chunks]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(fitted.transform, chunks))
    for expected, got in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(expected, got)
