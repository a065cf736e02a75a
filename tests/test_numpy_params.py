"""NumPy scalars as parameters: what grids such as ``np.arange`` and ``np.logspace`` give."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skae import (
    ConvolutionalAE,
    DenoisingAE,
    EncoderClassifier,
    SparseAE,
    StackedAE,
    VariationalAE,
)

TINY = dict(hidden_layer_sizes=(4,), epochs=1, batch_size=16, random_state=0)
FAMILIES = {
    "StackedAE": lambda: StackedAE(**TINY),
    "DenoisingAE": lambda: DenoisingAE(**TINY),
    "SparseAE": lambda: SparseAE(**TINY),
    "VariationalAE": lambda: VariationalAE(**TINY),
    "ConvolutionalAE": lambda: ConvolutionalAE(
        image_shape=(4, 4), filters=(2,), epochs=1, batch_size=16, random_state=0
    ),
}

# Every numeric parameter as a NumPy scalar (or a tuple or array of them), per family.
NUMERIC = dict(
    learning_rate=np.float32(0.01),
    batch_size=np.int64(8),
    epochs=np.int64(2),
    n_iter_no_change=np.int32(3),
    tol=np.float32(1e-5),
    l2=np.float32(1e-4),
    validation_fraction=np.float32(0.25),
    early_stopping=np.bool_(True),
    random_state=np.int64(0),
    verbose=np.int64(0),
)
FAMILY_NUMERIC = {
    "StackedAE": dict(
        n_components=np.int64(3),
        hidden_layer_sizes=(np.int64(5), np.int32(4)),
        tied_weights=np.bool_(True),
        pretrain="greedy",
        pretrain_epochs=np.int64(1),
    ),
    "DenoisingAE": dict(
        n_components=np.int32(3), hidden_layer_sizes=np.array([5]), noise_level=np.float32(0.1)
    ),
    "SparseAE": dict(
        n_components=np.int64(6),
        sparsity_weight=np.float32(0.1),
        sparsity_target=np.float64(0.1),
        activity_l1=np.float32(1e-3),
    ),
    "VariationalAE": dict(
        n_components=np.int64(2), hidden_layer_sizes=(np.int64(4),), beta=np.float32(0.5)
    ),
    "ConvolutionalAE": dict(
        n_components=np.int64(3),
        image_shape=np.array([4, 4, 1]),
        filters=(np.int64(3), np.int64(2)),
        kernel_size=np.int64(3),
        noise="dropout",
        noise_level=np.float32(0.1),
    ),
}


pytestmark = pytest.mark.usefixtures("no_convergence_warnings")


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).random((48, 16))


@pytest.mark.parametrize("family", FAMILIES)
def test_grid_search_over_numpy_n_components(family, X):
    pipe = Pipeline([("identity", FunctionTransformer()), ("ae", FAMILIES[family]())])
    grid = np.arange(2, 5, 2)  # NumPy integers, as in the np.arange(8, 33, 8)
    search = GridSearchCV(pipe, {"ae__n_components": grid}, cv=2).fit(X)
    best = search.best_estimator_.named_steps["ae"]
    assert best.transform(X).shape == (len(X), best.n_components)
    # The parameter is kept as given (clone's identity check), and used as a Python int.
    assert isinstance(best.get_params()["n_components"], np.integer)
    assert search.cv_results_["param_ae__n_components"].tolist() == grid.tolist()


@pytest.mark.parametrize("family", FAMILIES)
def test_every_numeric_parameter_may_be_a_numpy_scalar(family, X):
    params = {**NUMERIC, **FAMILY_NUMERIC[family]}
    ae = FAMILIES[family]().set_params(**params)
    clone(ae)  # raises if a parameter was not kept as given
    ae.fit(X).partial_fit(X)
    codes = ae.transform(X)
    assert codes.shape == (len(X), ae._n_features_out)
    assert ae.inverse_transform(codes).shape == X.shape
    assert ae.get_params()["learning_rate"] is params["learning_rate"]


def test_encoder_classifier_takes_numpy_parameters_in_a_grid_search(X):
    y = np.repeat([0, 1], len(X) // 2)
    clf = EncoderClassifier(
        StackedAE(**TINY),
        learning_rate=np.float32(0.01),
        batch_size=np.int64(8),
        epochs=np.int64(2),
        n_iter_no_change=np.int64(2),
        tol=np.float32(1e-4),
        validation_fraction=np.float64(0.25),
        early_stopping=np.bool_(True),
        random_state=np.int64(0),
    )
    grid = {
        "autoencoder__n_components": np.arange(2, 5, 2),
        "learning_rate": np.logspace(-3, -2, 2, dtype=np.float32),
    }
    search = GridSearchCV(clf, grid, cv=2).fit(X, y)
    assert search.best_estimator_.predict(X).shape == (len(X),)
