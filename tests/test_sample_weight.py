"""Sample weights: ``fit(X, sample_weight=...)`` on every estimator, and metadata routing.

Equal weights give exactly the unweighted fit, zero weights exactly the fit without those
rows, other weights pull the fit toward the heavy rows; bad weights fail before training.
"""

import keras
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

import skae._data
from skae import (
    ConvolutionalAE,
    DenoisingAE,
    EncoderClassifier,
    OutlierDetector,
    SparseAE,
    StackedAE,
    VariationalAE,
)
from skae._data import TrainingRows
from skae._engine import Trainer

from .conftest import GREEDY_TIED_DROPOUT, tiny

pytestmark = [
    pytest.mark.usefixtures("no_convergence_warnings"),
    # EncoderClassifier's notice about the unlabeled rows (-1) these tests give it on purpose.
    pytest.mark.filterwarnings("ignore:.*treated as unlabeled:UserWarning"),
]

FAMILIES = {
    "StackedAE": tiny(StackedAE),
    "linear": tiny(
        StackedAE,
        hidden_layer_sizes=(),
        activation="linear",
        code_activation="linear",
        output_activation="linear",
    ),
    "DenoisingAE": tiny(DenoisingAE, noise_level=0.1),
    "greedy-tied-dropout": tiny(DenoisingAE, **GREEDY_TIED_DROPOUT),
    "SparseAE": tiny(SparseAE, n_components=3),
    "VariationalAE": tiny(VariationalAE),
    "ConvolutionalAE": ConvolutionalAE(
        image_shape=(4, 4), filters=(2,), epochs=2, batch_size=16, random_state=0
    ),
}


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).uniform(size=(50, 16))


@pytest.fixture(scope="module")
def mask():
    """Zero weight on every third row."""
    return (np.arange(50) % 3 > 0).astype(np.float64)


@pytest.mark.parametrize("name", FAMILIES)
def test_equal_weights_give_exactly_the_unweighted_fit(name, X):
    unweighted = clone(FAMILIES[name]).fit(X)
    # Only the ratios matter: ones, and any other constant, train the unweighted path.
    weights = np.ones(len(X)) if name != "linear" else np.full(len(X), 2.5)
    weighted = clone(FAMILIES[name]).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(weighted.transform(X), unweighted.transform(X))
    assert weighted.loss_curve_ == unweighted.loss_curve_


@pytest.mark.parametrize("name", FAMILIES)
def test_zero_weights_remove_rows_exactly(name, X, mask):
    without = clone(FAMILIES[name]).fit(X[mask > 0])
    weighted = clone(FAMILIES[name]).fit(X, sample_weight=3 * mask)
    np.testing.assert_array_equal(weighted.transform(X), without.transform(X))
    assert weighted.loss_curve_ == without.loss_curve_


def test_zero_weights_leave_the_validation_split_and_data_range(X, mask):
    # Zero rows go before the split and before the data range sets output_activation='auto'.
    X = X.copy()
    X[0] = 5.0  # out of [0, 1], but weighted zero
    weights = mask * np.linspace(0.5, 2.0, len(X))
    ae = tiny(StackedAE, early_stopping=True, validation_fraction=0.2)
    weighted = clone(ae).fit(X, sample_weight=weights)
    without = clone(ae).fit(X[mask > 0], sample_weight=weights[mask > 0])
    assert weighted.output_activation_ == "sigmoid"
    np.testing.assert_array_equal(weighted.transform(X), without.transform(X))
    assert weighted.validation_loss_curve_ == without.validation_loss_curve_


def two_subspaces(n_rows=200, seed=0):
    """Half the rows along one direction, half along another: one code unit fits one."""
    rng = np.random.default_rng(seed)
    directions = np.linalg.qr(rng.normal(size=(8, 2)))[0].T
    t = rng.normal(size=n_rows)
    X = np.where((np.arange(n_rows) < n_rows // 2)[:, None], directions[0], directions[1])
    # Scaled so that the VAE's unit-variance likelihood makes the code worth its KL cost.
    return 4 * X * t[:, None] + 0.05 * rng.normal(size=(n_rows, 8))


@pytest.mark.parametrize(
    "estimator",
    [
        StackedAE(
            n_components=1,
            hidden_layer_sizes=(),
            activation="linear",
            output_activation="linear",
            learning_rate=0.02,
            batch_size=20,
            epochs=25,
            random_state=0,
        ),
        VariationalAE(
            n_components=1,
            hidden_layer_sizes=(8,),
            learning_rate=0.01,
            batch_size=20,
            epochs=25,
            random_state=0,
        ),
    ],
    ids=["StackedAE", "VariationalAE"],
)
def test_heavy_rows_are_reconstructed_better(estimator):
    X = two_subspaces()
    heavy = np.arange(len(X)) < len(X) // 2
    weights = np.where(heavy, 20.0, 1.0)
    uniform = clone(estimator).fit(X)
    weighted = clone(estimator).fit(X, sample_weight=weights)
    # score_samples: minus the squared error, or the ELBO; higher is better.
    assert weighted.score(X[heavy]) > uniform.score(X[heavy])
    assert weighted.score(X[~heavy]) < uniform.score(X[~heavy])


def test_the_loss_is_the_weighted_mean_of_row_losses():
    # A learning rate of zero: the epoch's loss is that of the initial network, whatever the
    # batches, and equals sum(w * loss) / sum(w) over the rows.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(37, 5)).astype(np.float32)
    weights = rng.uniform(0.1, 4.0, size=37)
    inputs = keras.Input((5,))
    dense = keras.layers.Dense(5, kernel_initializer=keras.initializers.GlorotUniform(0))
    model = keras.Model(inputs, dense(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    row_losses = np.mean((keras.ops.convert_to_numpy(model(X)) - X) ** 2, axis=1)
    expected = np.sum(weights * row_losses) / np.sum(weights)
    for batch_size in (5, 37):
        result = Trainer(model, loss="mean_squared_error", batch_size=batch_size).fit(
            TrainingRows(X, np.arange(37), batch_size, weights=weights, shuffle=True),
            epochs=1,
            seed=0,
        )
        assert result.loss_curve[0] == pytest.approx(expected, rel=1e-5)


def test_streamed_weighted_data_train_as_resident_data(X, monkeypatch):
    weights = np.linspace(0.2, 3.0, len(X))
    ae = tiny(StackedAE, batch_size=8)
    resident = clone(ae).fit(X, sample_weight=weights)
    monkeypatch.setattr(skae._data, "RESIDENT_BYTES", 0)
    monkeypatch.setattr(skae._data, "STREAM_CHUNK_BYTES", 16 * 16 * 4)  # two batches
    streamed = clone(ae).fit(sp.csr_matrix(X), sample_weight=weights)
    np.testing.assert_allclose(streamed.loss_curve_, resident.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(streamed.transform(X), resident.transform(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (np.ones(49), r"sample_weight\.shape"),
        (np.ones((50, 2)), "1D array"),
        (-np.ones(50), "sample_weight"),
        (np.r_[np.nan, np.ones(49)], "sample_weight"),
        (np.r_[np.inf, np.ones(49)], "sample_weight"),
        (np.zeros(50), "weights must contain at least one non-zero"),
    ],
    ids=["length", "2-D", "negative", "nan", "inf", "all-zero"],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_weights_fail_and_leave_the_fitted_estimator_as_it_was(X, weights, message, method):
    ae = tiny(StackedAE).fit(X)
    codes, curve = ae.transform(X), list(ae.loss_curve_)
    with pytest.raises(ValueError, match=message):
        getattr(ae, method)(X, sample_weight=weights)
    np.testing.assert_array_equal(ae.transform(X), codes)
    assert ae.loss_curve_ == curve


def test_partial_fit_with_weights(X, mask):
    ones = tiny(StackedAE).partial_fit(X, sample_weight=np.ones(len(X)))
    unweighted = tiny(StackedAE).partial_fit(X)
    np.testing.assert_array_equal(ones.transform(X), unweighted.transform(X))
    weighted = tiny(StackedAE).partial_fit(X, sample_weight=mask)
    without = tiny(StackedAE).partial_fit(X[mask > 0])
    for ae in (weighted, without):
        ae.partial_fit(X, sample_weight=np.linspace(1, 2, len(X)))
    np.testing.assert_array_equal(weighted.transform(X), without.transform(X))
    assert len(weighted.loss_curve_) == 2


@pytest.fixture(scope="module")
def labeled(X):
    y = np.where(np.arange(len(X)) < 40, 0, 1)  # 40 against 10
    y_partial = y.copy()
    y_partial[::5] = -1  # unlabeled rows: pretraining only
    return y_partial


def classifier(**params):
    return EncoderClassifier(
        tiny(StackedAE), epochs=5, learning_rate=0.01, batch_size=8, random_state=0, **params
    )


def test_classifier_weights_ones_and_zeros(X, labeled, mask):
    unweighted = classifier().fit(X, labeled)
    ones = classifier().fit(X, labeled, sample_weight=np.ones(len(X)))
    np.testing.assert_array_equal(ones.predict_proba(X), unweighted.predict_proba(X))
    weighted = classifier().fit(X, labeled, sample_weight=mask)
    without = classifier().fit(X[mask > 0], labeled[mask > 0])
    np.testing.assert_array_equal(weighted.predict_proba(X), without.predict_proba(X))
    assert weighted.n_unlabeled_ == without.n_unlabeled_


def test_a_classifier_saved_before_class_weight_existed_loads(X, labeled):
    fitted = classifier().fit(X, labeled)
    state = fitted.__getstate__()
    del state["params"]["class_weight"]
    restored = EncoderClassifier.__new__(EncoderClassifier)
    restored.__setstate__(state)
    assert restored.class_weight is None
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))


def test_balanced_class_weight_counts_labeled_rows_only_and_changes_the_fit(X, labeled):
    balanced = classifier(class_weight="balanced").fit(X, labeled)
    counts = np.bincount(labeled[labeled >= 0])
    by_hand = {c: (counts.sum() / (2 * n)) for c, n in enumerate(counts)}
    np.testing.assert_array_equal(
        classifier(class_weight=by_hand).fit(X, labeled).predict_proba(X),
        balanced.predict_proba(X),
    )
    unweighted = classifier().fit(X, labeled)
    # The minority class (1) weighs 4x more: its predicted probability rises.
    assert balanced.predict_proba(X)[:, 1].mean() > unweighted.predict_proba(X)[:, 1].mean()


@pytest.mark.parametrize(
    ("class_weight", "message"),
    [({0: 1.0, 7: 2.0}, r"labels \[7\]"), ({0: -1.0}, "non-negative"), ({1: 0.0, 0: 0.0}, "zero")],
)
def test_bad_class_weight(X, labeled, class_weight, message):
    with pytest.raises(ValueError, match=message):
        classifier(class_weight=class_weight).fit(X, labeled)


def test_outlier_detector_passes_weights_to_its_autoencoder(X, mask):
    detector = OutlierDetector(tiny(StackedAE), contamination=0.2)
    weighted = clone(detector).fit(X, sample_weight=mask)
    without = clone(detector).fit(X[mask > 0])
    assert weighted.offset_ == without.offset_
    np.testing.assert_array_equal(weighted.score_samples(X), without.score_samples(X))
    varied = clone(detector).fit(X, sample_weight=np.linspace(0.1, 1, len(X)))
    assert varied.estimator_.n_iter_ == 2


@pytest.mark.parametrize(
    "estimator",
    [*FAMILIES.values(), classifier(), OutlierDetector()],
    ids=lambda estimator: type(estimator).__name__,
)
def test_every_estimator_can_request_sample_weight(estimator):
    with sklearn.config_context(enable_metadata_routing=True):
        requested = clone(estimator).set_fit_request(sample_weight=True)
        assert requested.get_metadata_routing().fit.requests["sample_weight"] is True
        if hasattr(estimator, "partial_fit"):
            requested.set_partial_fit_request(sample_weight=True)
            assert requested.get_metadata_routing().partial_fit.requests["sample_weight"]


def test_pipeline_routes_sample_weight_to_the_autoencoder(X, mask):
    ae = tiny(StackedAE)
    with sklearn.config_context(enable_metadata_routing=True):
        # MinMaxScaler takes no sample_weight, so it needs no request.
        pipeline = Pipeline(
            [("scale", MinMaxScaler()), ("ae", clone(ae).set_fit_request(sample_weight=True))]
        )
        pipeline.fit(X, sample_weight=mask)
        unrequested = Pipeline([("scale", MinMaxScaler()), ("ae", clone(ae))])
        with pytest.raises(ValueError, match="sample_weight"):
            unrequested.fit(X, sample_weight=mask)
    scaled = MinMaxScaler().fit_transform(X)
    without = clone(ae).fit(scaled[mask > 0])
    np.testing.assert_array_equal(pipeline.transform(X), without.transform(scaled))


def test_grid_search_routes_sample_weight(X, mask):
    ae = tiny(StackedAE, epochs=1)
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            clone(ae).set_fit_request(sample_weight=True), {"n_components": [1, 2]}, cv=2
        )
        search.fit(X, sample_weight=mask)
    # The refit on all of X had the weights: its zero rows were left out.
    best = clone(ae).set_params(**search.best_params_).fit(X[mask > 0])
    np.testing.assert_array_equal(search.best_estimator_.transform(X), best.transform(X))
