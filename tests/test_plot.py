"""Plots: render with Agg and check what was drawn against the estimator's outputs."""

import os
import subprocess
import sys
import warnings

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from sklearn.base import BaseEstimator  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402

from skae import StackedAE, plot  # noqa: E402


@pytest.fixture(scope="module")
def data():
    digits = load_digits()
    return digits.data[:200] / 16.0, digits.target[:200]


@pytest.fixture(scope="module")
def ae(data):
    X, _ = data
    estimator = StackedAE(
        n_components=2,
        hidden_layer_sizes=(16,),
        epochs=3,
        batch_size=32,
        early_stopping=True,
        validation_fraction=0.2,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _figure_images(fig):
    return [artist for ax in fig.axes for artist in ax.get_images()]


def _reconstruct(estimator, X):
    return estimator.inverse_transform(estimator.transform(X))


class FakeGenerator(BaseEstimator):
    """A stand-in for a generative autoencoder: uniform noise as 'samples'."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def sample(self, n_samples, random_state=None):
        rng = check_random_state(random_state)
        return rng.uniform(size=(n_samples, self.n_features_in_))


# ---------------------------------------------------------------------- import
def test_import_does_not_need_matplotlib():
    code = "import sys; sys.modules['matplotlib'] = None; import skae.plot; from skae import plot"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------- reconstructions
def test_reconstructions_show_originals_over_reconstructions(ae, data):
    X, _ = data
    images = plot.plot_reconstructions(ae, X, n_images=5)
    fig = images[0, 0].figure
    fig.canvas.draw()

    assert images.shape == (2, 5)
    assert len(_figure_images(fig)) == 10
    reconstructed = _reconstruct(ae, X[:5])
    for i in range(5):
        np.testing.assert_array_equal(images[0, i].get_array(), X[i].reshape(8, 8))
        np.testing.assert_allclose(
            images[1, i].get_array(), reconstructed[i].reshape(8, 8), rtol=1e-6
        )
    assert [ax.get_ylabel() for ax in fig.axes[::5]] == ["original", "reconstruction"]


def test_reconstructions_with_noise_reconstruct_the_noisy_images(ae, data):
    X, _ = data
    X_noisy = np.clip(X + np.random.default_rng(0).normal(0, 0.3, X.shape), 0, 1)
    images = plot.plot_reconstructions(ae, X, n_images=4, X_noisy=X_noisy)

    assert images.shape == (3, 4)
    reconstructed = _reconstruct(ae, X_noisy[:4])
    for i in range(4):
        np.testing.assert_array_equal(images[0, i].get_array(), X[i].reshape(8, 8))
        np.testing.assert_array_equal(images[1, i].get_array(), X_noisy[i].reshape(8, 8))
        np.testing.assert_allclose(
            images[2, i].get_array(), reconstructed[i].reshape(8, 8), rtol=1e-6
        )


@pytest.mark.parametrize("image_dims", [(8, 8), (8, 8, 1)])
def test_reconstructions_accept_image_arrays(ae, data, image_dims):
    X, _ = data
    flat = plot.plot_reconstructions(ae, X, n_images=3)
    as_images = plot.plot_reconstructions(ae, X.reshape(-1, *image_dims), n_images=3)

    for a, b in zip(flat.ravel(), as_images.ravel(), strict=True):
        np.testing.assert_array_equal(a.get_array(), b.get_array())


def test_reconstructions_draw_into_the_given_figure_and_cap_n_images(ae, data):
    X, _ = data
    fig = plt.figure()
    images = plot.plot_reconstructions(ae, X[:3], n_images=10, image_shape=(8, 8), fig=fig)

    assert images.shape == (2, 3)
    assert all(image.figure is fig for image in images.ravel())
    assert len(_figure_images(fig)) == 6


def test_reconstructions_reject_mismatched_image_shape(ae, data):
    X, _ = data
    with pytest.raises(ValueError, match=r"image_shape=\(7, 7\).*n_features=64"):
        plot.plot_reconstructions(ae, X, image_shape=(7, 7))
    with pytest.raises(ValueError, match="n_features=60"):
        plot.plot_reconstructions(PCA(2).fit(X[:, :60]), X[:, :60])
    with pytest.raises(ValueError, match="X_noisy must have the shape of X"):
        plot.plot_reconstructions(ae, X, X_noisy=X[:10])


# ---------------------------------------------------------------------- latent space
def test_latent_space_scatters_the_codes_with_one_colour_per_label(ae, data):
    X, y = data
    points = plot.plot_latent_space(ae, X, y)
    points.figure.canvas.draw()  # colours are mapped when rendered

    np.testing.assert_allclose(points.get_offsets(), ae.transform(X))
    legend = points.axes.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [str(c) for c in range(10)]
    colours = points.get_facecolors()
    for label in range(10):
        same = np.unique(colours[y == label], axis=0)
        assert len(same) == 1
    assert len(np.unique(colours, axis=0)) == 10


def test_latent_space_continuous_target_gets_a_colour_bar(ae, data):
    X, _ = data
    fig, ax = plt.subplots()
    values = X.mean(axis=1)
    points = plot.plot_latent_space(ae, X, values, ax=ax, s=3)

    assert points.axes is ax
    np.testing.assert_array_equal(points.get_array(), values)
    assert points.colorbar is not None
    assert ax.get_legend() is None
    np.testing.assert_array_equal(points.get_sizes(), [3])


def test_latent_space_uses_the_first_two_of_more_components(data):
    X, _ = data
    pca = PCA(n_components=3).fit(X)
    points = plot.plot_latent_space(pca, X)

    np.testing.assert_allclose(points.get_offsets(), pca.transform(X)[:, :2])
    assert points.axes.get_legend() is None


def test_latent_space_rejects_one_component_and_wrong_labels(ae, data):
    X, y = data
    with pytest.raises(ValueError, match="at least 2 components"):
        plot.plot_latent_space(PCA(n_components=1).fit(X), X)
    with pytest.raises(ValueError, match="one label per sample"):
        plot.plot_latent_space(ae, X, y[:10])


# ---------------------------------------------------------------------- loss curves
def test_loss_curves_show_training_and_validation_losses(ae):
    lines = plot.plot_loss_curves(ae)

    assert [line.get_label() for line in lines] == ["training", "validation"]
    np.testing.assert_array_equal(lines[0].get_ydata(), ae.loss_curve_)
    np.testing.assert_array_equal(lines[1].get_ydata(), ae.validation_loss_curve_)
    np.testing.assert_array_equal(lines[0].get_xdata(), np.arange(1, ae.n_iter_ + 1))


def test_loss_curves_without_validation_draw_one_line_on_given_axes(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    fig, ax = plt.subplots()
    lines = plot.plot_loss_curves(mlp, ax=ax)

    assert len(lines) == 1 and lines[0].axes is ax
    np.testing.assert_array_equal(lines[0].get_ydata(), mlp.loss_curve_)


# ---------------------------------------------------------------------- first-layer features
def test_first_layer_features_show_each_units_input_weights(ae):
    kernel = keras.ops.convert_to_numpy(ae.encoder_.get_layer("encoder_0").kernel)
    images = plot.plot_first_layer_features(ae)

    assert images.shape == (16,)
    assert len(_figure_images(images[0].figure)) == 16
    for j, image in enumerate(images):
        np.testing.assert_array_equal(image.get_array(), kernel[:, j].reshape(8, 8))


def test_first_layer_features_subset_hides_unused_cells(ae):
    fig = plt.figure()
    images = plot.plot_first_layer_features(ae, n_features=5, image_shape=(8, 8), fig=fig)

    assert images.shape == (5,)
    assert len(_figure_images(fig)) == 5
    assert sum(ax.get_visible() for ax in fig.axes) == 5


def test_first_layer_features_of_tied_weights(data):
    X, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tied = StackedAE(
            n_components=4, hidden_layer_sizes=(), tied_weights=True, epochs=1, random_state=0
        ).fit(X[:64])
    kernel = keras.ops.convert_to_numpy(tied.encoder_.get_layer("encoder_0").kernel)
    images = plot.plot_first_layer_features(tied)

    assert images.shape == (4,)
    for j, image in enumerate(images):
        np.testing.assert_array_equal(image.get_array(), kernel[:, j].reshape(8, 8))


def test_first_layer_features_need_an_encoder(data):
    X, _ = data
    with pytest.raises(TypeError, match="encoder_"):
        plot.plot_first_layer_features(PCA(2).fit(X))


# ---------------------------------------------------------------------- samples
def test_samples_show_what_sample_returns(data):
    X, _ = data
    generator = FakeGenerator().fit(X)
    images = plot.plot_samples(generator, 6, random_state=0)

    expected = generator.sample(6, random_state=0)
    assert images.shape == (6,)
    assert all(isinstance(image, AxesImage) for image in images)
    assert len(_figure_images(images[0].figure)) == 6
    for image, row in zip(images, expected, strict=True):
        np.testing.assert_array_equal(image.get_array(), row.reshape(8, 8))


def test_samples_need_a_sample_method(ae):
    with pytest.raises(TypeError, match="sample"):
        plot.plot_samples(ae)


def test_samples_reject_mismatched_image_shape(data):
    X, _ = data
    with pytest.raises(ValueError, match=r"image_shape=\(4, 4\).*n_features=64"):
        plot.plot_samples(FakeGenerator().fit(X), 4, image_shape=(4, 4))


# ---------------------------------------------------------------------- not fitted
@pytest.mark.parametrize(
    "draw, unfitted",
    [
        (lambda est, X: plot.plot_reconstructions(est, X), StackedAE),
        (lambda est, X: plot.plot_latent_space(est, X), StackedAE),
        (lambda est, X: plot.plot_loss_curves(est), StackedAE),
        (lambda est, X: plot.plot_first_layer_features(est), StackedAE),
        (lambda est, X: plot.plot_samples(est), FakeGenerator),
    ],
    ids=["reconstructions", "latent_space", "loss_curves", "first_layer_features", "samples"],
)
def test_unfitted_estimator_raises_not_fitted_error(data, draw, unfitted):
    X, _ = data
    with pytest.raises(NotFittedError):
        draw(unfitted(), X)
