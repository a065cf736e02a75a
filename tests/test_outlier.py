"""OutlierDetector: scikit-learn's outlier conventions on a skae autoencoder's scores."""

import importlib.util
import json
import pickle
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import skae  # noqa: E402
from skae import OutlierDetector, StackedAE, VariationalAE  # noqa: E402
from skae.plot import plot_anomalies  # noqa: E402

from .conftest import (  # noqa: E402
    FLOAT32_ROUNDING,
    MNIST10K,
    STOCHASTIC_WEIGHTS,
    needs_mnist,
    tiny,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def small_ae(**params):
    settings = dict(
        n_components=4, hidden_layer_sizes=(16,), epochs=20, batch_size=32, random_state=0
    )
    settings.update(params)
    return StackedAE(**settings)


@pytest.fixture(scope="module")
def data(digits):
    """Training zeros; test rows: zeros (inliers) and ones (outliers), with labels 1/0."""
    X_train, X_test, y_train, y_test = digits
    train = X_train[y_train == 0]
    test_rows = np.isin(y_test, (0, 1))
    return train, X_test[test_rows], (y_test[test_rows] == 0).astype(int)


@pytest.fixture(scope="module")
def detector(data):
    return OutlierDetector(small_ae(), contamination=0.1).fit(data[0])


# ---------------------------------------------------------------------- sklearn's checks
# Its scores come from a float32 network, as the autoencoders' do (tests/test_common.py).
DETECTOR_FAILURES = {
    **STOCHASTIC_WEIGHTS,
    "check_methods_sample_order_invariance": FLOAT32_ROUNDING,
    "check_methods_subset_invariance": FLOAT32_ROUNDING,
}


@parametrize_with_checks(
    [OutlierDetector(tiny(StackedAE))], expected_failed_checks=lambda _: DETECTOR_FAILURES
)
def test_sklearn_compatible_detector(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# ---------------------------------------------------------------------- behaviour
def test_offset_flags_a_contamination_share_of_the_training_rows(data):
    train = data[0]
    for contamination in (0.05, 0.2):
        detector = OutlierDetector(small_ae(epochs=5), contamination=contamination).fit(train)
        flagged = np.mean(detector.predict(train) == -1)
        assert abs(flagged - contamination) <= 1 / len(train)
        np.testing.assert_allclose(
            detector.offset_, np.quantile(detector.score_samples(train), contamination)
        )
        assert isinstance(detector.offset_, float)


def test_predict_decision_function_and_scores_agree(detector, data):
    _, X_test, _ = data
    scores = detector.score_samples(X_test)
    decision = detector.decision_function(X_test)
    np.testing.assert_allclose(decision, scores - detector.offset_)
    np.testing.assert_array_equal(detector.predict(X_test), np.where(decision < 0, -1, 1))
    # The detector's scores are its autoencoder's: minus the reconstruction MSE.
    np.testing.assert_array_equal(scores, detector.estimator_.score_samples(X_test))
    assert scores.dtype == np.float64 and set(np.unique(detector.predict(X_test))) == {-1, 1}


def test_novelties_rank_below_the_normal_digit(detector, data):
    _, X_test, is_inlier = data
    assert roc_auc_score(is_inlier, detector.decision_function(X_test)) > 0.95


def test_planted_far_outliers_are_flagged(rng):
    X = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    far = rng.normal(size=(10, 6)) * 10 + 15
    X_all = np.vstack([X, far])
    ae = small_ae(n_components=3, hidden_layer_sizes=(8,), epochs=30)
    detector = make_pipeline(StandardScaler(), OutlierDetector(ae, contamination=0.05))
    labels = detector.fit_predict(X_all)
    assert np.all(labels[-10:] == -1)
    assert np.mean(labels[:-10] == -1) < 0.05


def test_fit_predict_is_fit_then_predict(data):
    train = data[0]
    detector = OutlierDetector(small_ae(epochs=3))
    np.testing.assert_array_equal(detector.fit_predict(train), detector.fit(train).predict(train))


def test_variational_detector_scores_by_the_elbo(data):
    train, X_test, is_inlier = data
    vae = VariationalAE(n_components=2, hidden_layer_sizes=(32,), epochs=20, random_state=0)
    detector = OutlierDetector(vae).fit(train)
    np.testing.assert_array_equal(
        detector.score_samples(X_test), detector.estimator_.score_samples(X_test)
    )
    assert np.mean(detector.predict(train) == -1) == pytest.approx(0.1, abs=1 / len(train))
    assert roc_auc_score(is_inlier, detector.decision_function(X_test)) > 0.9
    # Per-feature errors are of the decoded posterior mean, not the ELBO.
    assert detector.reconstruction_errors(X_test).shape == X_test.shape


def test_random_state_seeds_an_unseeded_autoencoder_only(data):
    train = data[0]
    seeded = OutlierDetector(small_ae(random_state=None, epochs=2), random_state=3).fit(train)
    assert seeded.estimator_.random_state == 3
    assert seeded.estimator.random_state is None  # the parameter is not changed
    own = OutlierDetector(small_ae(random_state=1, epochs=2), random_state=3).fit(train)
    assert own.estimator_.random_state == 1
    again = OutlierDetector(small_ae(random_state=None, epochs=2), random_state=3).fit(train)
    np.testing.assert_array_equal(seeded.score_samples(train), again.score_samples(train))


def test_default_estimator_is_a_stacked_autoencoder_with_early_stopping(rng):
    X = rng.uniform(size=(40, 5))
    detector = OutlierDetector(random_state=0).fit(X)
    assert isinstance(detector.estimator_, StackedAE)
    expected = StackedAE(early_stopping=True, random_state=0).get_params()
    assert detector.estimator_.get_params() == expected
    assert detector.n_features_in_ == 5


def test_estimator_that_is_not_a_skae_autoencoder_is_refused(data):
    for estimator in (PCA(2), "StackedAE"):
        with pytest.raises(TypeError, match="estimator"):
            OutlierDetector(estimator).fit(data[0])


def test_bad_input_leaves_a_fitted_detector_as_it_was(detector, data):
    train, X_test, _ = data
    before = dict(detector.__dict__)
    decision = detector.decision_function(X_test)
    bad_rows = train.copy()
    bad_rows[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        detector.fit(bad_rows)
    with pytest.raises(ValueError, match="contamination"):
        clone(detector).set_params(contamination=0.7).fit(train)
    with pytest.raises(ValueError, match="features"):
        detector.predict(X_test[:, :10])
    assert detector.__dict__.keys() == before.keys()
    assert all(detector.__dict__[k] is v for k, v in before.items())
    np.testing.assert_array_equal(detector.decision_function(X_test), decision)


def test_unfitted_detector_raises_not_fitted(data):
    for method in ("predict", "decision_function", "score_samples", "reconstruction_errors"):
        with pytest.raises(NotFittedError):
            getattr(OutlierDetector(), method)(data[1])


def test_feature_names_are_those_of_the_autoencoder(detector, data):
    assert detector.n_features_in_ == data[0].shape[1]
    assert not hasattr(detector, "feature_names_in_")


# ---------------------------------------------------------------------- per-feature errors
def test_reconstruction_errors_explain_the_score(detector, data):
    _, X_test, _ = data
    errors = detector.reconstruction_errors(X_test)
    assert errors.shape == X_test.shape and errors.dtype == np.float64
    assert np.all(errors >= 0)
    np.testing.assert_allclose(
        errors.sum(axis=1), -detector.score_samples(X_test) * X_test.shape[1], rtol=1e-5
    )
    assert detector.reconstruction_errors(X_test.astype(np.float32)).dtype == np.float32


def test_reconstruction_errors_of_sparse_rows_match_dense_ones(detector, data):
    _, X_test, _ = data
    for container in (sp.csr_matrix, sp.csc_matrix):
        np.testing.assert_allclose(
            detector.reconstruction_errors(container(X_test)),
            detector.reconstruction_errors(X_test),
        )


# ---------------------------------------------------------------------- model selection
def test_detector_after_a_scaler_in_a_pipeline(data):
    train, X_test, is_inlier = data
    pipeline = make_pipeline(MinMaxScaler(), OutlierDetector(small_ae())).fit(train * 16)
    decision = pipeline.decision_function(X_test * 16)
    assert roc_auc_score(is_inlier, decision) > 0.95
    np.testing.assert_array_equal(pipeline.predict(X_test * 16), np.where(decision < 0, -1, 1))


def test_grid_search_ranks_detectors_by_roc_auc_on_labelled_validation_rows(data):
    train, X_test, is_inlier = data
    # Train on normal rows only; validate on labelled rows (1 = inlier, 0 = outlier).
    X = np.vstack([train, X_test])
    y = np.concatenate([np.ones(len(train), dtype=int), is_inlier])
    split = [(np.arange(len(train)), np.arange(len(train), len(X)))]
    search = GridSearchCV(
        OutlierDetector(small_ae(epochs=5)),
        {"estimator__n_components": [1, 4]},
        scoring="roc_auc",
        cv=split,
    ).fit(X, y)
    for i, n in enumerate(search.cv_results_["param_estimator__n_components"]):
        fitted = OutlierDetector(small_ae(epochs=5, n_components=int(n))).fit(train)
        expected = roc_auc_score(is_inlier, fitted.decision_function(X_test))
        assert search.cv_results_["mean_test_score"][i] == pytest.approx(expected)
    assert search.best_estimator_.estimator_.n_components in (1, 4)


# ---------------------------------------------------------------------- persistence
def test_pickle_round_trip_keeps_the_decisions(detector, data):
    X_test = data[1]
    loaded = pickle.loads(pickle.dumps(detector))
    assert loaded.offset_ == detector.offset_
    np.testing.assert_array_equal(
        loaded.decision_function(X_test), detector.decision_function(X_test)
    )


def test_save_load_round_trip_keeps_the_decisions(detector, data, tmp_path):
    X_test = data[1]
    path = tmp_path / "detector.skae"
    skae.save(detector, path)
    loaded = skae.load(path)
    assert isinstance(loaded, OutlierDetector) and isinstance(loaded.estimator_, StackedAE)
    assert loaded.get_params(deep=False)["contamination"] == detector.contamination
    assert loaded.offset_ == detector.offset_
    np.testing.assert_array_equal(loaded.predict(X_test), detector.predict(X_test))
    np.testing.assert_array_equal(
        loaded.decision_function(X_test), detector.decision_function(X_test)
    )
    skae.save(OutlierDetector(contamination=0.2), path)  # an unfitted one too
    assert skae.load(path).contamination == 0.2


# ---------------------------------------------------------------------- plot
def test_plot_anomalies_shows_the_lowest_scoring_rows(detector, data):
    _, X_test, _ = data
    images = plot_anomalies(detector, X_test, n_images=4)
    assert images.shape == (3, 4) and all(isinstance(i, AxesImage) for i in images.ravel())
    worst = np.argsort(detector.score_samples(X_test), kind="stable")[:4]
    reconstructions = detector.estimator_.inverse_transform(
        detector.estimator_.transform(X_test[worst])
    )
    errors = detector.reconstruction_errors(X_test[worst])
    for c in range(4):
        np.testing.assert_allclose(images[0, c].get_array(), X_test[worst[c]].reshape(8, 8))
        np.testing.assert_allclose(images[1, c].get_array(), reconstructions[c].reshape(8, 8))
        np.testing.assert_allclose(images[2, c].get_array(), errors[c].reshape(8, 8), rtol=1e-6)
    fig = plt.figure()
    shown = plot_anomalies(detector.estimator_, X_test.reshape(-1, 8, 8), fig=fig, n_images=2)
    assert shown.shape == (3, 2) and shown[0, 0].figure is fig
    assert plot_anomalies(detector, X_test, show_errors=False).shape == (2, 10)
    assert plot_anomalies(PCA(2).fit(X_test), X_test, n_images=3).shape == (3, 3)
    with pytest.raises(TypeError, match="plot_anomalies"):
        plot_anomalies(IsolationForest(random_state=0).fit(X_test), X_test)
    plt.close("all")


# ---------------------------------------------------------------------- benchmark
@needs_mnist
def test_outliers_benchmark_smoke(tmp_path):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "outliers.py"
    spec = importlib.util.spec_from_file_location("skae_benchmark_outliers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module.main(["--smoke", "--out", str(tmp_path), "--mnist", str(MNIST10K)])
    saved = json.loads((tmp_path / "outliers.json").read_text())
    assert saved["benchmark"] == "outliers" and saved["smoke"] is True
    methods = {"skae OutlierDetector", "PCA(32)", "IsolationForest", "LOF", "OneClassSVM"}
    for task in ("mnist10k", "digits", "digits contaminated"):
        assert set(saved["tasks"][task]["mean"]) == methods
    assert "Regenerate: `python benchmarks/outliers.py" in (tmp_path / "outliers.md").read_text()
    assert (tmp_path / "outliers.png").stat().st_size > 0
