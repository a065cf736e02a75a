"""EncoderClassifier: the behaviour a scikit-learn user relies on."""

import inspect
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

import skae
from skae import EncoderClassifier, StackedAE

from .conftest import MNIST10K, needs_mnist, optimizer_steps

AUTOENCODER = dict(n_components=8, hidden_layer_sizes=(32,), epochs=3, batch_size=32)
FINE_TUNING = dict(epochs=30, batch_size=32, learning_rate=3e-3)


def autoencoder(**params):
    return StackedAE(**{**AUTOENCODER, **params})


def classifier(**params):
    params.setdefault("autoencoder", autoencoder(random_state=0))
    return EncoderClassifier(**{**FINE_TUNING, "random_state": 0, **params})


pytestmark = pytest.mark.usefixtures("no_convergence_warnings")


@pytest.fixture(scope="module")
def data(digits):
    """300 training digits of which 100 keep their labels, and 100 test digits."""
    X_train, X_test, y_train, y_test = digits
    X, y = X_train[:300], y_train[:300].copy()
    y_partial = y.copy()
    y_partial[100:] = -1
    return X, y, y_partial, X_test[:100], y_test[:100]


@pytest.fixture(scope="module")
def fitted(data):
    X, _, y_partial, _, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return classifier().fit(X, y_partial)


def encoder_weights(model):
    return [
        w
        for layer in model.layers
        if layer.name.startswith("encoder_")
        for w in layer.get_weights()
    ]


# ---------------------------------------------------------------- semi-supervised fit


class RecordingAE(StackedAE):
    """A StackedAE that remembers how many rows it was fitted on."""

    def fit(self, X, y=None):
        self.fitted_rows_ = X.shape[0]
        return super().fit(X, y)


def test_pretrains_on_all_rows_and_fine_tunes_on_the_labeled_ones(fitted, data):
    X, _, y_partial, X_test, y_test = data
    clf = classifier(autoencoder=RecordingAE(**AUTOENCODER, random_state=0)).fit(X, y_partial)
    assert clf.autoencoder_.fitted_rows_ == len(X)
    np.testing.assert_array_equal(clf.classes_, np.arange(10))  # -1 is not a class
    assert set(clf.predict(X_test)) <= set(clf.classes_)
    # One fine-tuning step per batch of the 100 labeled rows: 4 batches of 32.
    assert optimizer_steps(clf) == 4 * clf.n_iter_
    # Fitted with 100 labels of 10 classes: far above chance (0.1).
    assert fitted.score(X_test, y_test) > 0.5


def test_attributes_after_fit(fitted, data):
    X = data[0]
    assert fitted.n_features_in_ == X.shape[1]
    assert fitted.n_iter_ == len(fitted.loss_curve_) <= FINE_TUNING["epochs"]
    assert fitted.validation_loss_curve_ is None
    assert np.isfinite(fitted.best_loss_)
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), 10) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.predict(X), fitted.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(fitted.predict_log_proba(X), np.log(proba))


def test_string_labels_all_labeled_with_early_stopping(data):
    X, y, _, X_test, y_test = data
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    clf = classifier(early_stopping=True).fit(X, names[y])
    assert clf.classes_.dtype.kind == "U" and len(clf.classes_) == 10
    assert set(clf.predict(X_test)) <= set(names)
    assert len(clf.validation_loss_curve_) == clf.n_iter_
    # The validation split keeps every class in training and in validation.
    assert clf.score(X_test, names[y_test]) > 0.5


def test_object_labels_with_unlabeled_marker(data):
    X, y, _, X_test, y_test = data
    labels = np.where(y % 2 == 0, "even", "odd").astype(object)
    labels[100:] = -1  # the number -1 marks unlabeled rows among strings
    clf = classifier(epochs=5).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, ["even", "odd"])
    # The string "-1" is a class like any other.
    assert "-1" in classifier(epochs=1).fit(X[:20], np.array(["-1", "1"] * 10)).classes_


@pytest.mark.parametrize(
    "y, message",
    [
        (np.full(300, -1), "Every sample is unlabeled"),
        (np.r_[np.full(10, 3), np.full(290, -1)], "two classes"),
        (np.linspace(0, 1, 300), "Unknown label type"),
    ],
    ids=["all-unlabeled", "one-class", "continuous"],
)
def test_bad_labels_are_refused(data, y, message):
    with pytest.raises(ValueError, match=message):
        classifier().fit(data[0], y)


# ---------------------------------------------------------------- the autoencoder parameter


def test_autoencoder_is_cloned_pretrained_once_and_kept_as_pretrained(data):
    X, _, y_partial, X_test, _ = data
    ae = autoencoder(random_state=3)
    params = ae.get_params()
    clf = classifier(autoencoder=ae, epochs=5).fit(X, y_partial)
    # The parameter is never fitted or changed.
    assert not hasattr(ae, "encoder_")
    assert ae.get_params() == params

    # autoencoder_ keeps the pretrained weights: fine-tuning changed a copy of the encoder.
    pretrained = clone(ae).fit(X)
    for a, b in zip(
        encoder_weights(clf.autoencoder_.model_), encoder_weights(pretrained.model_), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert any(
        not np.allclose(a, b)
        for a, b in zip(
            encoder_weights(clf.model_), encoder_weights(pretrained.model_), strict=True
        )
    )

    # A fitted autoencoder in a FrozenEstimator is used as it is, and is not changed; the
    # classifier equals the one that pretrained the same autoencoder itself.
    before = [w.copy() for w in pretrained.model_.get_weights()]
    frozen = classifier(autoencoder=FrozenEstimator(pretrained), epochs=5).fit(X, y_partial)
    for a, b in zip(pretrained.model_.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(
        frozen.predict_proba(X_test), clf.predict_proba(X_test), rtol=1e-5, atol=1e-7
    )


def test_freeze_encoder_trains_only_the_head(data):
    X, _, y_partial, _, _ = data
    clf = classifier(freeze_encoder=True, epochs=5).fit(X, y_partial)
    for a, b in zip(
        encoder_weights(clf.model_), encoder_weights(clf.autoencoder_.model_), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert len(clf.model_.trainable_weights) == 2  # the head's kernel and bias


def test_classifier_seed_drives_an_unseeded_autoencoder(data):
    X, _, y_partial, X_test, _ = data
    first = classifier(autoencoder=autoencoder(), random_state=5, epochs=5).fit(X, y_partial)
    second = classifier(autoencoder=autoencoder(), random_state=5, epochs=5).fit(X, y_partial)
    np.testing.assert_array_equal(first.predict_proba(X_test), second.predict_proba(X_test))


def skae_autoencoder_families():
    return [
        obj
        for name in skae.__all__
        if inspect.isclass(obj := getattr(skae, name))
        and issubclass(obj, skae.BaseAutoencoder)
        and not inspect.isabstract(obj)
    ]


@pytest.mark.parametrize("family", skae_autoencoder_families(), ids=lambda c: c.__name__)
def test_every_skae_family_can_be_fine_tuned(family, data):
    X, _, y_partial, X_test, _ = data
    ae = family(n_components=4, epochs=1, random_state=0)
    if "hidden_layer_sizes" in ae.get_params():
        ae.set_params(hidden_layer_sizes=(16,))
    clf = classifier(autoencoder=ae, epochs=2).fit(X, y_partial)
    assert clf.predict_proba(X_test).shape == (len(X_test), 10)


def test_autoencoder_without_keras_encoder_is_refused_and_state_kept(fitted, data):
    X, _, y_partial, X_test, _ = data
    proba = fitted.predict_proba(X_test)
    model = fitted.model_
    with pytest.raises(TypeError, match="encoder_"):
        fitted.set_params(autoencoder=PCA(4)).fit(X, y_partial)
    fitted.set_params(autoencoder=autoencoder(random_state=0))
    assert fitted.model_ is model
    np.testing.assert_array_equal(fitted.predict_proba(X_test), proba)


# ---------------------------------------------------------------- scikit-learn contract


@pytest.mark.parametrize(
    "bad, error",
    [
        ("nan", ValueError),
        ("complex", ValueError),
        ("lengths", ValueError),
        ("strings", ValueError),
        ("no-y", ValueError),
    ],
)
def test_bad_fit_input_is_refused_and_fitted_state_kept(fitted, data, bad, error):
    X, _, y_partial, X_test, _ = data
    state = dict(fitted.__dict__)
    proba = fitted.predict_proba(X_test)
    X_bad, y_bad = X.copy(), y_partial
    if bad == "nan":
        X_bad[0, 0] = np.nan
    elif bad == "complex":
        X_bad = X + 1j
    elif bad == "lengths":
        y_bad = y_partial[:-1]
    elif bad == "strings":
        X_bad = np.full(X.shape, "a", dtype=object)
    else:
        y_bad = None
    with pytest.raises(error):
        fitted.fit(X_bad, y_bad)
    assert fitted.__dict__.keys() == state.keys()
    assert all(fitted.__dict__[k] is v for k, v in state.items())
    np.testing.assert_array_equal(fitted.predict_proba(X_test), proba)


def test_predict_refusals(fitted, data):
    X = data[0]
    with pytest.raises(NotFittedError):
        classifier().predict(X)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :10])
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(np.full_like(X, np.nan))


def test_sparse_input_predicts_like_dense(fitted, data):
    X_test = data[3]
    np.testing.assert_allclose(
        fitted.predict_proba(sp.csr_matrix(X_test)), fitted.predict_proba(X_test), rtol=1e-6
    )


def test_pickle_round_trip_keeps_predictions(fitted, data):
    X_test = data[3]
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X_test), fitted.predict_proba(X_test))
    np.testing.assert_array_equal(restored.classes_, fitted.classes_)
    assert restored.autoencoder_.transform(X_test).shape == (len(X_test), 8)


def test_skae_saved_format_round_trip(fitted, data, tmp_path):
    X_test = data[3]
    path = tmp_path / "classifier.skae"
    skae.save(fitted, path)
    restored = skae.load(path)
    assert type(restored) is EncoderClassifier
    np.testing.assert_array_equal(restored.predict_proba(X_test), fitted.predict_proba(X_test))
    np.testing.assert_array_equal(restored.classes_, fitted.classes_)
    assert restored.get_params()["autoencoder__n_components"] == 8


def test_clone_and_nested_parameters(fitted):
    unfitted = clone(fitted)
    assert not hasattr(unfitted, "model_") and not hasattr(unfitted, "autoencoder_")
    assert unfitted.get_params()["autoencoder__n_components"] == 8
    unfitted.set_params(autoencoder__n_components=3)
    assert unfitted.autoencoder.n_components == 3
    assert fitted.autoencoder.n_components == 8


def test_default_autoencoder_is_a_stacked_autoencoder(data):
    X, _, y_partial, _, _ = data
    clf = EncoderClassifier(epochs=1, random_state=0)
    assert clf.autoencoder is None
    clf.set_params(autoencoder=None)
    assert type(clf._autoencoder()) is StackedAE


def test_doctest_style_example_runs(data):
    """The docstring's workflow: digits with most labels hidden."""
    X, y, y_partial, X_test, y_test = data
    clf = EncoderClassifier(
        StackedAE(n_components=16, hidden_layer_sizes=(64,), epochs=5, random_state=0),
        epochs=20,
        random_state=0,
    ).fit(X, y_partial)
    assert 0 <= clf.score(X_test, y_test) <= 1


# ---------------------------------------------------------------- the label-budget claim


@needs_mnist
def test_with_1000_labels_beats_raw_pixels_and_pca_on_mnist10k():
    """With 1,000 labels of mnist10k, pretraining on all 8,000 training images pays.

    EncoderClassifier must beat LogisticRegression on the raw pixels by at least two
    accuracy points, and Pipeline(PCA, LogisticRegression) at its best code size.
    """
    with np.load(MNIST10K) as archive:
        X = archive["x_train"].reshape(8000, -1) / 255.0
        y = archive["y_train"].astype(np.int64)
        X_test = archive["x_test"].reshape(2000, -1) / 255.0
        y_test = archive["y_test"].astype(np.int64)
    # The label subset of benchmarks/label_budget.py (stratified, seed 0).
    labeled, _ = train_test_split(np.arange(len(y)), train_size=1000, stratify=y, random_state=0)
    labeled = np.sort(labeled)
    y_partial = np.full_like(y, -1)
    y_partial[labeled] = y[labeled]

    raw = LogisticRegression(max_iter=2000).fit(X[labeled], y[labeled]).score(X_test, y_test)
    best_pca = max(
        Pipeline([("pca", PCA(k, random_state=0)), ("lr", LogisticRegression(max_iter=2000))])
        .fit(X[labeled], y[labeled])
        .score(X_test, y_test)
        for k in (16, 32, 64, 128)
    )
    # The label-budget benchmark's settings, with the pretraining half as long.
    autoencoder = StackedAE(
        n_components=32,
        noise="dropout",
        noise_level=0.3,
        batch_size=128,
        epochs=15,
        random_state=0,
    )
    clf = EncoderClassifier(autoencoder, random_state=0).fit(X, y_partial)
    accuracy = clf.score(X_test, y_test)
    print(f"EncoderClassifier {accuracy:.4f}, raw-pixel LR {raw:.4f}, best PCA+LR {best_pca:.4f}")
    assert accuracy >= raw + 0.02, (accuracy, raw)
    assert accuracy > best_pca, (accuracy, best_pca)


# ---------------------------------------------------------------- edges a newcomer meets


class CountingLogisticRegression(LogisticRegression):
    n_fits = 0

    def fit(self, X, y, sample_weight=None):
        CountingLogisticRegression.n_fits += 1
        return super().fit(X, y, sample_weight)


@pytest.mark.parametrize("frozen", [False, True], ids=["plain", "frozen"])
def test_an_autoencoder_that_is_not_skaes_gets_a_type_error_before_training(data, frozen):
    X, y, _, _, _ = data
    other = CountingLogisticRegression()
    if frozen:
        other = FrozenEstimator(other.fit(X, y))
    fits = CountingLogisticRegression.n_fits
    clf = classifier(autoencoder=other)
    with pytest.raises(TypeError, match="must be a skae autoencoder.*CountingLogisticRegression"):
        clf.fit(X, y)
    assert CountingLogisticRegression.n_fits == fits  # refused before any training
    assert not hasattr(clf, "classes_")


def test_the_first_fit_with_unlabeled_rows_says_how_many(data):
    X, y, y_partial, _, _ = data
    clf = classifier(epochs=2)
    with pytest.warns(UserWarning, match=r"200 of 300 rows are labeled -1 and treated as unl"):
        clf.fit(X, y_partial)
    assert clf.n_unlabeled_ == 200
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # a UserWarning too
        clf.fit(X, y_partial)  # said once for this estimator
        fully_labeled = classifier(epochs=2).fit(X, y)  # nothing to say
    assert fully_labeled.n_unlabeled_ == 0
