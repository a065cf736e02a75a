"""The bad-input matrix: every public estimator and method refuses bad input by name.

Each bad input must raise ``ValueError``, ``TypeError`` or ``NotFittedError`` with a
message that names the problem, and an estimator fitted before the refused call must give
bit-identical outputs afterwards. One estimator per public class is fitted once for the
module, on a DataFrame so that feature names are checked too; refused fits run on that
same fitted estimator (``fit`` is transactional) and refused parameters are set on it only
for the refused call.

Distinct bad inputs per method (``test_at_least_25_distinct_bad_inputs`` keeps this table
honest; ``fit`` counts bad data and bad parameter values):

=================  ====================================================================
method             distinct bad inputs
=================  ====================================================================
fit                60: 22 kinds of data, 33 parameter values, 5 kinds of labels
partial_fit        25 kinds of data
transform          24 kinds of data, and an unfitted estimator
inverse_transform  17 kinds of codes, and an unfitted estimator
score              25 kinds of data, and an unfitted estimator
score_samples      25 kinds of data, and an unfitted estimator
predict            24 kinds of data, and an unfitted estimator
predict_proba      24 kinds of data, and an unfitted estimator
sample             8 bad arguments, and an unfitted estimator
load               12 kinds of bad files (with a Keras archive holding a Lambda layer)
=================  ====================================================================

Kinds of data: NaN, +inf, -inf, values overflowing float32 (both signs), None, a scalar, 1-D,
3-D, 4-D of the wrong image shape, ragged rows, zero rows, zero columns, the wrong number of
features, string, object-string and object-dict arrays, complex numbers, a frame with a text
column, with other feature names or reordered columns, sparse input holding NaN, inf or
float32 overflow, and data outside [0, 1] where the loss or likelihood needs it.
"""

import io
import json
import os
import tempfile
import warnings
import zipfile

import keras
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import skae
from skae import (
    ConvolutionalAE,
    DenoisingAE,
    EncoderClassifier,
    SparseAE,
    StackedAE,
    VariationalAE,
)

from .conftest import tiny

pytestmark = [
    # Tiny epoch budgets stop training before convergence on purpose.
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # The estimators are fitted on a DataFrame; most bad inputs are plain arrays.
    pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning"),
]

REFUSALS = (ValueError, TypeError, NotFittedError)
COLUMNS = [f"px{i}" for i in range(64)]

ESTIMATORS = {
    "StackedAE": lambda: tiny(StackedAE),
    "DenoisingAE": lambda: tiny(DenoisingAE, noise_level=0.1),
    "SparseAE": lambda: tiny(SparseAE, n_components=3),
    "VariationalAE": lambda: tiny(VariationalAE),
    "ConvolutionalAE": lambda: ConvolutionalAE(
        image_shape=(8, 8, 1), filters=(2,), epochs=1, batch_size=32, random_state=0
    ),
    "EncoderClassifier": lambda: EncoderClassifier(
        tiny(StackedAE), epochs=2, batch_size=16, random_state=0
    ),
}
AUTOENCODERS = [name for name in ESTIMATORS if name != "EncoderClassifier"]
DENSE = ["StackedAE", "DenoisingAE", "SparseAE", "VariationalAE"]

METHODS = {
    name: ["fit", "partial_fit", "transform", "inverse_transform", "score", "score_samples"]
    for name in AUTOENCODERS
}
METHODS["VariationalAE"] = [*METHODS["VariationalAE"], "sample"]
METHODS["EncoderClassifier"] = ["fit", "predict", "predict_proba", "score"]
FITTING = ("fit", "partial_fit")


# ---------------------------------------------------------------- the fitted estimators


def _data():
    X = load_digits().data[:250] / 16.0
    y = load_digits().target[:250].copy()
    y[100:200] = -1  # unlabeled rows
    return pd.DataFrame(X[:200], columns=COLUMNS), y[:200], X[200:]


X_FIT, Y_FIT, X_TEST = _data()
_FITTED, _REFERENCE, _SAVED = {}, {}, {}


def outputs(estimator):
    X = pd.DataFrame(X_TEST, columns=COLUMNS)
    if isinstance(estimator, EncoderClassifier):
        return (estimator.predict_proba(X),)
    codes = estimator.transform(X)
    result = (codes, estimator.inverse_transform(codes), estimator.score_samples(X))
    if isinstance(estimator, VariationalAE):
        result += (estimator.sample(3, random_state=0),)
    return result


def fitted(name):
    """The module's fitted estimator of class ``name``, fitted on first use."""
    if name not in _FITTED:
        estimator = ESTIMATORS[name]()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X_FIT, Y_FIT) if name == "EncoderClassifier" else estimator.fit(X_FIT)
        _FITTED[name] = estimator
        _REFERENCE[name] = outputs(estimator)
    return _FITTED[name]


def assert_unchanged(name):
    estimator = _FITTED[name]
    for expected, got in zip(_REFERENCE[name], outputs(estimator), strict=True):
        np.testing.assert_array_equal(expected, got)


def _n_rows(X):
    shape = getattr(X, "shape", None)
    if shape is not None:
        return shape[0] if len(shape) else 1
    return len(X) if isinstance(X, list) else 1


def call(estimator, method, X):
    """Call ``method`` with data ``X`` (and labels of the right length for a classifier)."""
    if isinstance(estimator, EncoderClassifier) and method in ("fit", "score"):
        y = np.resize(Y_FIT, _n_rows(X))
        return getattr(estimator, method)(X, y)
    return getattr(estimator, method)(X)


# ---------------------------------------------------------------- bad data


def _diagonal(X, value):
    X = np.array(X, dtype=np.float64)
    X[np.arange(min(X.shape)), np.arange(min(X.shape))] = value
    return X


def _text(X):
    return np.char.add(X.astype(str), "px")


def _object_with_dict(X):
    X = X.astype(object)
    X[0, 0] = {"pixel": 1}
    return X


def _frame(X, columns=COLUMNS):
    return pd.DataFrame(X, columns=columns)


def _not_fit(name, method):
    return method != "fit"  # fit resets the feature names


def _not_fit_unless_image_shape(name, method):
    # fit resets the number of features, except where image_shape fixes it.
    return method != "fit" or name == "ConvolutionalAE"


def _outside_unit_interval(name, method):
    # Binary cross-entropy (what ConvolutionalAE's loss='auto' chose for [0, 1] data) and the
    # Bernoulli likelihood (the VariationalAE's) need data in [0, 1] once fitted; a fresh fit
    # on other data chooses the squared error instead.
    if name == "ConvolutionalAE":
        return method == "partial_fit"
    return name == "VariationalAE" and method in ("partial_fit", "score", "score_samples")


# name -> (make bad X from a clean float64 array, message pattern, applies(name, method))
BAD_DATA = {
    "NaN": (lambda X: _diagonal(X, np.nan), "NaN", None),
    "+inf": (lambda X: _diagonal(X, np.inf), "infinity", None),
    "-inf": (lambda X: _diagonal(X, -np.inf), "infinity", None),
    "float32 overflow (1e39)": (lambda X: X * 1e39, "too large for float32", None),
    "float32 overflow (-1e39)": (lambda X: -X * 1e39, "too large for float32", None),
    "None": (lambda X: None, "2D array", None),
    "scalar": (lambda X: 3.0, "2D array", None),
    "1-D": (lambda X: X[0], "2D array", None),
    "3-D": (lambda X: X[:, :, None], "dim 3|3-D", None),
    "4-D of the wrong image shape": (
        lambda X: X.reshape(-1, 4, 16, 1),
        "dim 4|images of shape",
        None,
    ),
    "ragged rows": (lambda X: [list(X[0]), list(X[1][:10])], "inhomogeneous", None),
    "zero rows": (lambda X: X[:0], "0 sample", None),
    "zero columns": (lambda X: X[:, :0], "0 feature", None),
    "wrong number of features": (
        lambda X: X[:, :10],
        "features|image_shape",
        _not_fit_unless_image_shape,
    ),
    "string array": (_text, "could not convert string", None),
    "object array of strings": (lambda X: _text(X).astype(object), "could not convert", None),
    "object array holding a dict": (_object_with_dict, "dict", None),
    "complex": (lambda X: X + 1j, "Complex data", None),
    "frame with a text column": (
        lambda X: _frame(X).assign(label="a"),
        "could not convert|unseen at fit time",
        None,
    ),
    "frame with other feature names": (
        lambda X: _frame(X, ["other", *COLUMNS[1:]]),
        "feature names",
        _not_fit,
    ),
    "frame with reordered columns": (
        lambda X: _frame(X, COLUMNS[::-1]),
        "same order",
        _not_fit,
    ),
    "sparse with NaN": (lambda X: sp.csr_matrix(_diagonal(X, np.nan)), "NaN", None),
    "sparse with inf": (lambda X: sp.csr_matrix(_diagonal(X, np.inf)), "infinity", None),
    "sparse float32 overflow": (
        lambda X: sp.csr_matrix(X * 1e39),
        "too large for float32",
        None,
    ),
    "outside [0, 1] for the loss": (lambda X: X * 2, r"\[0, 1\]", _outside_unit_interval),
}

DATA_CASES = [
    pytest.param(name, method, bad, id=f"{name}-{method}-{bad}")
    for name, methods in METHODS.items()
    for method in methods
    if method not in ("inverse_transform", "sample")
    for bad, (_, _, applies) in BAD_DATA.items()
    if applies is None or applies(name, method)
]


@pytest.mark.parametrize("name, method, bad", DATA_CASES)
def test_bad_data_is_refused_and_outputs_kept(name, method, bad):
    make_bad, message, _ = BAD_DATA[bad]
    estimator = fitted(name)
    n_iter = getattr(estimator, "n_iter_", None)
    with pytest.raises(REFUSALS, match=message):
        call(estimator, method, make_bad(X_TEST.copy()))
    assert getattr(estimator, "n_iter_", None) == n_iter
    assert_unchanged(name)


# ---------------------------------------------------------------- bad codes


def _n_codes(name):
    return fitted(name).transform(X_TEST[:1]).shape[1]


BAD_CODES = {
    "NaN": (lambda Z: _diagonal(Z, np.nan), "NaN"),
    "+inf": (lambda Z: _diagonal(Z, np.inf), "infinity"),
    "-inf": (lambda Z: _diagonal(Z, -np.inf), "infinity"),
    "float32 overflow": (lambda Z: Z + 1e39, "too large for float32"),
    "None": (lambda Z: None, "2D array"),
    "scalar": (lambda Z: 3.0, "2D array"),
    "1-D": (lambda Z: Z[0], "2D array"),
    "3-D": (lambda Z: Z[:, :, None], "dim 3"),
    "ragged rows": (lambda Z: [list(Z[0]), list(Z[1][:1])], "inhomogeneous"),
    "zero rows": (lambda Z: Z[:0], "0 sample"),
    "zero columns": (lambda Z: Z[:, :0], "0 feature"),
    "too few code columns": (lambda Z: Z[:, :-1], "n_components|columns"),
    "too many code columns": (lambda Z: np.hstack([Z, Z]), "n_components|columns"),
    "string array": (_text, "could not convert string"),
    "object array holding a dict": (_object_with_dict, "dict"),
    "complex": (lambda Z: Z + 1j, "Complex data"),
    "sparse codes": (lambda Z: sp.csr_matrix(Z), "[Ss]parse data"),
}


@pytest.mark.parametrize("name", AUTOENCODERS)
@pytest.mark.parametrize("bad", BAD_CODES)
def test_bad_codes_are_refused_and_outputs_kept(name, bad):
    make_bad, message = BAD_CODES[bad]
    codes = np.random.default_rng(0).normal(size=(5, _n_codes(name)))
    with pytest.raises(REFUSALS, match=message):
        fitted(name).inverse_transform(make_bad(codes))
    assert_unchanged(name)


# ---------------------------------------------------------------- unfitted


@pytest.mark.parametrize(
    "name, method",
    # partial_fit's first call fits, so it has no unfitted refusal.
    [(name, m) for name, methods in METHODS.items() for m in methods if m not in FITTING],
)
def test_unfitted_estimator_refuses_with_not_fitted_error(name, method):
    estimator = ESTIMATORS[name]()
    X = np.zeros((3, _n_codes(name))) if method == "inverse_transform" else X_TEST
    with pytest.raises(NotFittedError, match="not fitted yet"):
        if method == "sample":
            estimator.sample(2)
        else:
            call(estimator, method, X)


# ---------------------------------------------------------------- bad parameters

COMMON_PARAMS = {
    "negative epochs": (dict(epochs=-1), "epochs"),
    "zero epochs": (dict(epochs=0), "epochs"),
    "zero batch_size": (dict(batch_size=0), "batch_size"),
    "unknown batch_size string": (dict(batch_size="max"), "batch_size"),
    "negative learning_rate": (dict(learning_rate=-1.0), "learning_rate"),
    "unknown optimizer": (dict(optimizer="sgdx"), "optimizer"),
    "validation_fraction=0": (dict(early_stopping=True, validation_fraction=0.0), "validation"),
    "validation_fraction=1": (dict(early_stopping=True, validation_fraction=1.0), "validation"),
    "validation_fraction=1.5": (
        dict(early_stopping=True, validation_fraction=1.5),
        "validation_fraction",
    ),
    "negative tol": (dict(tol=-1.0), "tol"),
    "n_iter_no_change=0": (dict(n_iter_no_change=0), "n_iter_no_change"),
    "verbose=5": (dict(verbose=5), "verbose"),
    "random_state as text": (dict(random_state="seed"), "random_state"),
}
AUTOENCODER_PARAMS = {
    "unknown loss": (dict(loss="hinge"), "loss"),
    "unknown activation": (dict(activation="wobbly"), "activation"),
    "unknown output_activation": (dict(output_activation="wobbly"), "output_activation"),
    "callbacks holding a string": (dict(callbacks=["stop"]), "callbacks"),
    "callbacks not a list": (dict(callbacks=keras.callbacks.History()), "callbacks"),
    "negative l2": (dict(l2=-0.1), "l2"),
    "unknown noise": (dict(noise="salt"), "noise"),
    "noise without noise_level": (dict(noise="gaussian", noise_level=0.0), "noise_level"),
    "dropout noise_level=1": (dict(noise="dropout", noise_level=1.0), "noise_level"),
}
FAMILY_PARAMS = {
    "StackedAE": {
        "n_components=0": (dict(n_components=0), "n_components"),
        "negative hidden size": (dict(hidden_layer_sizes=(4, -2)), "hidden_layer_sizes"),
        "unknown code_activation": (dict(code_activation="wobbly"), "code_activation"),
    },
    "ConvolutionalAE": {
        "n_components=0": (dict(n_components=0), "n_components"),
        "no filters": (dict(filters=()), "filters"),
        "zero kernel_size": (dict(kernel_size=0), "kernel_size"),
        "image_shape not matching the features": (dict(image_shape=(7, 7, 1)), "image_shape"),
        "image_shape with a negative size": (dict(image_shape=(8, -8, 1)), "image_shape"),
        "unknown code_activation": (dict(code_activation="wobbly"), "code_activation"),
    },
    "VariationalAE": {
        "n_components=0": (dict(n_components=0), "n_components"),
        "negative hidden size": (dict(hidden_layer_sizes=(-2,)), "hidden_layer_sizes"),
        "negative beta": (dict(beta=-1.0), "beta"),
    },
    "EncoderClassifier": {
        "autoencoder not an estimator": (dict(autoencoder="pca"), "autoencoder"),
        "autoencoder without a Keras encoder": (dict(autoencoder=PCA(2)), "encoder_"),
    },
}
FAMILY_PARAMS["DenoisingAE"] = FAMILY_PARAMS["StackedAE"]
FAMILY_PARAMS["SparseAE"] = FAMILY_PARAMS["StackedAE"]


def _params_for(name):
    params = dict(COMMON_PARAMS)
    if name != "EncoderClassifier":
        params.update(AUTOENCODER_PARAMS)
        params["binary_crossentropy on data outside [0, 1]"] = (
            dict(loss="binary_crossentropy"),
            r"\[0, 1\]",
        )
    params.update(FAMILY_PARAMS[name])
    return params


PARAM_CASES = [
    pytest.param(name, bad, id=f"{name}-{bad}") for name in ESTIMATORS for bad in _params_for(name)
]


@pytest.mark.parametrize("name, bad", PARAM_CASES)
def test_bad_parameters_are_refused_by_name_and_outputs_kept(name, bad):
    params, message = _params_for(name)[bad]
    estimator = fitted(name)
    previous = estimator.get_params(deep=False)
    X = X_FIT.to_numpy() * 2 if "outside" in bad else X_FIT
    estimator.set_params(**params)
    try:
        with pytest.raises(REFUSALS, match=message):
            call(estimator, "fit", X)
    finally:
        estimator.set_params(**previous)
    assert_unchanged(name)
    # An unfitted estimator stays unfitted.
    unfitted = clone(estimator).set_params(**params)
    with pytest.raises(REFUSALS, match=message):
        call(unfitted, "fit", X)
    assert not hasattr(unfitted, "n_features_in_")


BAD_LABELS = {
    "only unlabeled rows": (lambda y: np.full(len(y), -1), "unlabeled"),
    "one class": (lambda y: np.where(y >= 0, 3, -1), "two classes"),
    "labels of the wrong length": (lambda y: y[:-1], "inconsistent numbers of samples"),
    "2-D labels": (lambda y: np.c_[y, y], "1d array|column"),
    "continuous labels": (lambda y: y + 0.5, "Unknown label type"),
}


@pytest.mark.parametrize("bad", BAD_LABELS)
def test_bad_labels_are_refused_and_outputs_kept(bad):
    make_bad, message = BAD_LABELS[bad]
    with pytest.raises(REFUSALS, match=message):
        fitted("EncoderClassifier").fit(X_FIT, make_bad(Y_FIT.copy()))
    assert_unchanged("EncoderClassifier")


# ---------------------------------------------------------------- sample

BAD_SAMPLE = {
    "n_samples=0": (dict(n_samples=0), "n_samples"),
    "negative n_samples": (dict(n_samples=-1), "n_samples"),
    "fractional n_samples": (dict(n_samples=2.5), "n_samples"),
    "n_samples as text": (dict(n_samples="3"), "n_samples"),
    "n_samples=None": (dict(n_samples=None), "n_samples"),
    "n_samples=True": (dict(n_samples=True), "n_samples"),
    "n_samples as an array": (dict(n_samples=np.array([2, 3])), "n_samples"),
    "random_state as text": (dict(n_samples=2, random_state="seed"), "random_state"),
}


@pytest.mark.parametrize("bad", BAD_SAMPLE)
def test_bad_sample_arguments_are_refused_and_outputs_kept(bad):
    kwargs, message = BAD_SAMPLE[bad]
    with pytest.raises(REFUSALS, match=message):
        fitted("VariationalAE").sample(**kwargs)
    assert_unchanged("VariationalAE")


# ---------------------------------------------------------------- load


def _saved_members(name):
    if name not in _SAVED:
        buffer = io.BytesIO()
        skae.save(fitted(name), buffer)
        with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
            _SAVED[name] = (buffer.getvalue(), {n: archive.read(n) for n in archive.namelist()})
    return _SAVED[name]


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return buffer.getvalue()


def _edit_document(members, edit):
    document = json.loads(members["estimator.json"])
    edit(document)
    return _zip({**members, "estimator.json": json.dumps(document)})


def _lambda_archive():
    inputs = keras.Input((64,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    with tempfile.TemporaryDirectory() as folder:
        model.save(os.path.join(folder, "lambda.keras"))
        with open(os.path.join(folder, "lambda.keras"), "rb") as file:
            return file.read()


def _replace_weights(members, data):
    return _zip({n: data if n == "arrays.bin" else d for n, d in members.items()})


def _set(key, value):
    def edit(document):
        document[key] = value

    return edit


def _rename_class(document):
    document["estimator"]["class"] = "os.system"


# name -> (make bad file bytes from (file bytes, members), message pattern)
BAD_FILES = {
    "empty file": (lambda data, members: b"", "not a skae saved file"),
    "not a zip": (lambda data, members: b"#!/bin/sh\nrm -rf /\n", "not a skae saved file"),
    "truncated": (lambda data, members: data[: len(data) // 2], "not a skae saved file"),
    "no estimator.json": (
        lambda data, members: _zip({n: d for n, d in members.items() if n != "estimator.json"}),
        "no estimator.json",
    ),
    "estimator.json not JSON": (
        lambda data, members: _zip({**members, "estimator.json": b"{not json"}),
        "corrupted",
    ),
    "another format": (
        lambda data, members: _edit_document(members, _set("format", "pickle")),
        "not a skae saved file",
    ),
    "a future format version": (
        lambda data, members: _edit_document(members, _set("format_version", 99)),
        "format version 99",
    ),
    "an unknown estimator class": (
        lambda data, members: _edit_document(members, _rename_class),
        "Unknown estimator class 'os.system'",
    ),
    "the weights member missing": (
        lambda data, members: _zip({n: d for n, d in members.items() if n.endswith(".json")}),
        "arrays.bin holds 0 bytes",
    ),
    "corrupted weights": (
        lambda data, members: _replace_weights(members, b"PK\x03\x04garbage"),
        "arrays.bin holds 11 bytes",
    ),
    "truncated weights": (
        lambda data, members: _replace_weights(
            members, members["arrays.bin"][: len(members["arrays.bin"]) // 2]
        ),
        r"arrays.bin holds \d+ bytes",
    ),
    "a Keras archive with a Lambda layer": (
        lambda data, members: _zip({**members, "blob0.keras": _lambda_archive()}),
        "has 3 members",
    ),
}


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("bad", BAD_FILES)
def test_bad_saved_files_are_refused(name, bad, tmp_path):
    make_bad, message = BAD_FILES[bad]
    path = tmp_path / "bad.skae"
    path.write_bytes(make_bad(*_saved_members(name)))
    with pytest.raises(REFUSALS, match=message):
        skae.load(path)
    assert_unchanged(name)


# ---------------------------------------------------------------- the count


def _count_per_method():
    counts = {}
    for method in sorted({m for methods in METHODS.values() for m in methods}):
        kinds = {
            bad
            for name, methods in METHODS.items()
            if method in methods and method not in ("inverse_transform", "sample")
            for bad, (_, _, applies) in BAD_DATA.items()
            if applies is None or applies(name, method)
        }
        if method == "fit":
            kinds |= {f"param: {bad}" for name in ESTIMATORS for bad in _params_for(name)}
            kinds |= {f"labels: {bad}" for bad in BAD_LABELS}
        if method == "inverse_transform":
            kinds |= set(BAD_CODES)
        if method == "sample":
            kinds |= set(BAD_SAMPLE)
        if method not in FITTING:
            kinds.add("unfitted estimator")
        counts[method] = len(kinds)
    counts["load"] = len(BAD_FILES)
    return counts


def test_at_least_25_distinct_bad_inputs():
    counts = _count_per_method()
    print("distinct bad inputs per method:", counts)
    # The table in the module docstring.
    assert counts == {
        "fit": 60,
        "partial_fit": 25,
        "transform": 25,
        "inverse_transform": 18,
        "score": 26,
        "score_samples": 26,
        "predict": 25,
        "predict_proba": 25,
        "sample": 9,
        "load": 12,
    }
    assert len(set(BAD_DATA) | set(BAD_CODES) | set(BAD_SAMPLE) | set(BAD_FILES)) >= 25
