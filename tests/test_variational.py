"""VariationalAE: the ELBO on MNIST, codes, sampling, scoring, pickling and bad input."""

import hashlib
import pickle
import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

import skae
from skae import VariationalAE

from .conftest import MNIST10K, needs_mnist


@pytest.fixture(scope="module")
def mnist():
    with np.load(MNIST10K) as data:
        return (
            data["x_train"].reshape(8000, -1) / 255.0,
            data["x_test"].reshape(2000, -1) / 255.0,
            data["y_train"],
            data["y_test"],
        )


def fit_quietly(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


@pytest.fixture(scope="module")
def small_vae(small_digits):
    X_train, _ = small_digits
    return fit_quietly(
        VariationalAE(n_components=2, hidden_layer_sizes=(32,), epochs=3, random_state=0), X_train
    )


# ------------------------------------------------------------------ the claims on MNIST
@needs_mnist
def test_test_negative_elbo_at_most_110_nats_within_30_epochs(mnist):
    X_train, X_test, _, _ = mnist
    # Settings chosen on 1,000 held-out training digits (benchmarks/vae_cae_mnist.py).
    settings = dict(n_components=32, hidden_layer_sizes=(512, 256), batch_size=64)
    vae = fit_quietly(VariationalAE(**settings, epochs=30, random_state=0), X_train)
    assert vae.likelihood_ == "bernoulli"
    assert vae.n_iter_ <= 30
    # Binary cross-entropy summed over the 784 pixels plus KL, in nats per test digit.
    assert -vae.score(X_test) <= 110
    # The loss is the negative ELBO too: it fell from a far worse start.
    assert vae.loss_curve_[-1] < 0.8 * vae.loss_curve_[0]


@needs_mnist
def test_two_dimensional_codes_beat_pca_and_samples_look_like_the_data(mnist):
    X_train, X_test, y_train, y_test = mnist
    vae = fit_quietly(
        VariationalAE(
            n_components=2, hidden_layer_sizes=(256,), learning_rate=3e-3, epochs=15, random_state=0
        ),
        X_train,
    )

    def accuracy(reducer):
        classifier = LogisticRegression(max_iter=2000).fit(reducer.transform(X_train), y_train)
        return classifier.score(reducer.transform(X_test), y_test)

    vae_accuracy, pca_accuracy = accuracy(vae), accuracy(PCA(2).fit(X_train))
    assert vae_accuracy > 0.3  # chance is 0.1
    assert vae_accuracy > pca_accuracy

    samples = vae.sample(16, random_state=0)
    assert samples.shape == (16, 784)
    assert samples.min() >= 0 and samples.max() <= 1


# ------------------------------------------------------------------ behaviour
def test_transform_is_the_deterministic_posterior_mean(small_vae, small_digits):
    _, X_test = small_digits
    codes = small_vae.transform(X_test)
    assert codes.shape == (len(X_test), 2)
    np.testing.assert_array_equal(codes, small_vae.transform(X_test))
    # The encoder network's output is the z_mean layer's, not a sample.
    z_mean = small_vae.model_.get_layer("z_mean")
    np.testing.assert_allclose(
        codes, z_mean(small_vae.model_.get_layer("encoder_0")(X_test.astype("float32"))), rtol=1e-5
    )


def test_sample_is_reproducible_and_leaves_global_random_states_alone(small_vae):
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 (the global state is the point)
    first = small_vae.sample(5, random_state=3)
    assert first.shape == (5, small_vae.n_features_in_)
    np.testing.assert_array_equal(first, small_vae.sample(5, random_state=3))
    assert not np.array_equal(first, small_vae.sample(5, random_state=4))
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002
    # A RandomState instance is read, not advanced.
    caller = np.random.RandomState(7)
    np.testing.assert_array_equal(small_vae.sample(2, caller), small_vae.sample(2, caller))
    # The samples are decoded draws from the prior.
    Z = np.random.default_rng(3).standard_normal((5, 2))
    np.testing.assert_allclose(first, small_vae.inverse_transform(Z))


@pytest.mark.parametrize("n_samples", [0, -1, 2.5, True, "3"])
def test_sample_rejects_bad_counts(small_vae, n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        small_vae.sample(n_samples)


def elbo_by_hand(vae, X, draws):
    """Mean over draws of log p(x | z_mean + sigma * epsilon), minus KL, per row, in NumPy.

    ``draws(row)`` gives the row's epsilon, of shape (n_draws, n_components).
    """
    layers = {layer.name: layer for layer in vae.model_.layers}
    hidden = X.astype("float32")
    for i in range(len(vae.hidden_layer_sizes)):
        hidden = layers[f"encoder_{i}"](hidden)
    z_mean = np.asarray(layers["z_mean"](hidden), float)
    z_log_var = np.asarray(layers["z_log_var"](hidden), float)
    scores = []
    for row, mean, log_var in zip(X, z_mean, z_log_var, strict=True):
        decoded = vae.inverse_transform(mean + np.exp(0.5 * log_var) * draws(row))
        if vae.likelihood_ == "bernoulli":
            p = np.clip(decoded, 1e-7, 1 - 1e-7)
            log_likelihood = np.sum(row * np.log(p) + (1 - row) * np.log(1 - p), axis=1)
        else:  # unit-variance gaussian
            squared_error = np.sum((row - decoded) ** 2, axis=1)
            log_likelihood = -0.5 * squared_error - 0.5 * len(row) * np.log(2 * np.pi)
        kl = -0.5 * np.sum(1 + log_var - mean**2 - np.exp(log_var))
        scores.append(log_likelihood.mean() - kl)
    return np.array(scores)


def documented_draws(vae):
    """The draws score_samples documents: 16 per row, seeded by the row's BLAKE2b digest."""

    def draws(row):
        digest = hashlib.blake2b(np.asarray(row, dtype=np.float64).tobytes()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        return rng.standard_normal((16, vae.n_components))

    return draws


def test_score_samples_is_a_monte_carlo_elbo_with_per_row_draws(small_vae, small_digits):
    _, X_test = small_digits
    X = X_test[:10]
    scores = small_vae.score_samples(X)
    assert scores.dtype == np.float64 and scores.shape == (10,)
    by_hand = elbo_by_hand(small_vae, X, documented_draws(small_vae))
    np.testing.assert_allclose(scores, by_hand, rtol=1e-4)
    assert small_vae.score(X) == pytest.approx(scores.mean())
    assert np.all(scores < 0)  # log-probabilities of binary-like data
    # Deterministic, and a row's score does not depend on the rows beside it or their order.
    np.testing.assert_array_equal(small_vae.score_samples(X), scores)
    np.testing.assert_allclose(small_vae.score_samples(X[3:4]), scores[3:4], rtol=1e-6)
    np.testing.assert_allclose(small_vae.score_samples(X[::-1]), scores[::-1], rtol=1e-6)


def test_mean_score_agrees_with_fresh_posterior_draws(small_vae, small_digits):
    # Seeding by the row must not flatter the score: over many rows it matches an estimate
    # from 64 fresh draws per row.
    _, X_test = small_digits
    rng = np.random.default_rng(1)
    fresh = elbo_by_hand(
        small_vae, X_test, lambda row: rng.standard_normal((64, small_vae.n_components))
    )
    assert small_vae.score(X_test) == pytest.approx(fresh.mean(), abs=0.3)


def test_gaussian_likelihood_for_data_outside_the_unit_interval(standardized_digits):
    X = standardized_digits[:200]
    vae = fit_quietly(
        VariationalAE(n_components=2, hidden_layer_sizes=(16,), epochs=2, random_state=0), X
    )
    assert vae.likelihood_ == "gaussian" and vae.output_activation_ == "linear"
    # Unit-variance gaussian: half the squared error plus n_features / 2 * log(2 pi) plus KL.
    np.testing.assert_allclose(
        vae.score_samples(X[:20]), elbo_by_hand(vae, X[:20], documented_draws(vae)), rtol=1e-4
    )


def test_beta_weighs_the_kl_term_of_the_loss_not_of_the_score(small_digits):
    X_train, _ = small_digits
    settings = dict(n_components=2, hidden_layer_sizes=(16,), epochs=1, random_state=0)
    plain = fit_quietly(VariationalAE(**settings), X_train)
    heavy = fit_quietly(VariationalAE(beta=50.0, **settings), X_train)
    # Same initial weights and batches: the first epoch's loss differs by the KL weight.
    assert heavy.loss_curve_[0] > plain.loss_curve_[0]
    # The score is the ELBO whatever beta trained the model: the KL term counts once.
    np.testing.assert_allclose(
        heavy.score_samples(X_train[:10]),
        elbo_by_hand(heavy, X_train[:10], documented_draws(heavy)),
        rtol=1e-4,
    )


@pytest.mark.parametrize("round_trip", ["pickle", "skae.save"])
def test_round_trip_gives_identical_outputs(small_vae, small_digits, tmp_path, round_trip):
    _, X_test = small_digits
    if round_trip == "pickle":
        loaded = pickle.loads(pickle.dumps(small_vae))
    else:
        skae.save(small_vae, tmp_path / "vae.skae")
        loaded = skae.load(tmp_path / "vae.skae")
    np.testing.assert_array_equal(loaded.transform(X_test), small_vae.transform(X_test))
    codes = small_vae.transform(X_test)
    np.testing.assert_array_equal(
        loaded.inverse_transform(codes), small_vae.inverse_transform(codes)
    )
    np.testing.assert_array_equal(loaded.score_samples(X_test), small_vae.score_samples(X_test))
    np.testing.assert_array_equal(
        loaded.sample(4, random_state=0), small_vae.sample(4, random_state=0)
    )
    assert loaded.likelihood_ == small_vae.likelihood_


def test_same_random_state_gives_the_same_model(small_digits):
    X_train, X_test = small_digits
    settings = dict(n_components=2, hidden_layer_sizes=(16,), epochs=2, random_state=1)
    first = fit_quietly(VariationalAE(**settings), X_train)
    second = fit_quietly(VariationalAE(**settings), X_train)
    assert first.loss_curve_ == second.loss_curve_
    np.testing.assert_array_equal(first.transform(X_test), second.transform(X_test))


# ------------------------------------------------------------------ bad input
def test_bernoulli_likelihood_needs_data_in_the_unit_interval(small_digits, small_vae):
    X_train, _ = small_digits
    with pytest.raises(ValueError, match=r"needs data in \[0, 1\]"):
        VariationalAE(loss="binary_crossentropy", epochs=1).fit(X_train * 2)
    with pytest.raises(ValueError, match=r"Bernoulli likelihood, which needs data in \[0, 1\]"):
        VariationalAE(output_activation="sigmoid", epochs=1).fit(X_train - 0.5)
    with pytest.raises(ValueError, match=r"Bernoulli likelihood needs data in \[0, 1\]"):
        small_vae.score_samples(X_train - 0.5)


def test_bad_parameters_are_named(small_digits):
    X_train, _ = small_digits
    for params, name in [
        (dict(beta=-1.0), "beta"),
        (dict(loss="hinge"), "loss"),
        (dict(hidden_layer_sizes=(8, 0)), "hidden_layer_sizes"),
    ]:
        with pytest.raises(ValueError, match=name):
            VariationalAE(epochs=1, **params).fit(X_train)


# ------------------------------------------------------------------ log_likelihood (IWAE)
def iwae_by_hand(vae, X, n_draws):
    """log mean_k p(x | z_k) p(z_k) / q(z_k | x), row by row in NumPy, with the documented
    draws: ``standard_normal((n_draws, n_components))`` of the row's digest-seeded generator."""
    from scipy.special import logsumexp
    from scipy.stats import norm

    layers = {layer.name: layer for layer in vae.model_.layers}
    hidden = X.astype("float32")
    for i in range(len(vae.hidden_layer_sizes)):
        hidden = layers[f"encoder_{i}"](hidden)
    z_mean = np.asarray(layers["z_mean"](hidden), float)
    sigma = np.exp(0.5 * np.asarray(layers["z_log_var"](hidden), float))
    values = []
    for row, mean, scale in zip(X, z_mean, sigma, strict=True):
        digest = hashlib.blake2b(np.asarray(row, dtype=np.float64).tobytes()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        z = mean + scale * rng.standard_normal((n_draws, vae.n_components))
        p = np.clip(vae.inverse_transform(z), 1e-7, 1 - 1e-7)
        log_p_x_given_z = np.sum(row * np.log(p) + (1 - row) * np.log(1 - p), axis=1)
        log_p_z = norm.logpdf(z).sum(axis=1)
        log_q_z = norm.logpdf(z, loc=mean, scale=scale).sum(axis=1)
        values.append(logsumexp(log_p_x_given_z + log_p_z - log_q_z) - np.log(n_draws))
    return np.array(values)


def test_log_likelihood_is_the_documented_importance_sampled_estimate(small_vae, small_digits):
    _, X_test = small_digits
    X = X_test[:4]
    estimate = small_vae.log_likelihood(X, n_draws=20)
    assert estimate.dtype == np.float64 and estimate.shape == (4,)
    np.testing.assert_allclose(estimate, iwae_by_hand(small_vae, X, 20), rtol=1e-5)
    # More draws than one chunk holds (4,096 decoded rows): the draws continue one stream.
    np.testing.assert_allclose(
        small_vae.log_likelihood(X[:1], n_draws=5000),
        iwae_by_hand(small_vae, X[:1], 5000),
        rtol=1e-5,
    )
    # Deterministic, and a row's value does not depend on the rows beside it or their order.
    np.testing.assert_array_equal(small_vae.log_likelihood(X, n_draws=20), estimate)
    np.testing.assert_allclose(small_vae.log_likelihood(X[2:3], n_draws=20), estimate[2:3])
    np.testing.assert_allclose(small_vae.log_likelihood(X[::-1], n_draws=20), estimate[::-1])


def test_log_likelihood_rises_with_the_draws_from_the_elbo(small_vae, small_digits):
    _, X_test = small_digits
    elbo = small_vae.score_samples(X_test)
    one, few, many = (small_vae.log_likelihood(X_test, n_draws=k) for k in (1, 16, 256))
    # One draw is an unbiased estimate of the ELBO: its mean agrees with score's mean
    # within Monte-Carlo error (4 standard errors of the mean difference).
    difference = one - elbo
    assert abs(difference.mean()) < 4 * difference.std() / np.sqrt(len(difference))
    # The bound tightens with more draws, above the ELBO.
    assert elbo.mean() < few.mean() < many.mean()
    assert np.mean(many > elbo) > 0.9


def test_log_likelihood_of_a_linear_gaussian_vae_approaches_the_exact_marginal():
    # With no hidden layer and a linear output, p(x) = N(x; b, W^T W + I) exactly, where
    # x = z W + b is the decoder: the estimate with many draws must come within a few
    # thousandths of a nat of it. One latent variable, so the diagonal posterior can be the
    # exact one and the estimate converges fast (the sum over latent axes is checked above).
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 1)) @ rng.standard_normal((1, 5))
    X += 0.5 * rng.standard_normal(X.shape)
    vae = fit_quietly(
        VariationalAE(
            n_components=1,
            hidden_layer_sizes=(),
            output_activation="linear",
            loss="mse",
            learning_rate=1e-2,
            # The constant rate this recipe was written for: under the cosine schedule the
            # estimate missed the exact marginal by more than the tolerance below.
            learning_rate_schedule="constant",
            batch_size=32,
            epochs=60,
            random_state=0,
        ),
        X,
    )
    assert vae.likelihood_ == "gaussian"
    W, b = (w.astype(float) for w in vae.decoder_.get_layer("output").get_weights())
    exact = multivariate_normal(mean=b, cov=W.T @ W + np.eye(5)).logpdf(X[:50])
    estimate = vae.log_likelihood(X[:50], n_draws=2000)
    np.testing.assert_allclose(estimate, exact, atol=0.02)
    assert np.mean(np.abs(estimate - exact)) < 0.005


@pytest.mark.parametrize(
    "n_draws, error",
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("a", TypeError), (True, TypeError)],
)
def test_log_likelihood_rejects_bad_draw_counts(small_vae, small_digits, n_draws, error):
    _, X_test = small_digits
    with pytest.raises(error, match="n_draws must be a positive integer"):
        small_vae.log_likelihood(X_test[:2], n_draws=n_draws)


def test_log_likelihood_checks_the_model_and_the_data(small_vae, small_digits):
    from sklearn.exceptions import NotFittedError

    _, X_test = small_digits
    with pytest.raises(NotFittedError):
        VariationalAE().log_likelihood(X_test)
    with pytest.raises(ValueError, match="features"):
        small_vae.log_likelihood(X_test[:, :10])
    with pytest.raises(ValueError, match=r"Bernoulli likelihood needs data in \[0, 1\]"):
        small_vae.log_likelihood(X_test - 0.5)
