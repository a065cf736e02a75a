"""Variational autoencoder: a gaussian posterior, a sampled code and an ELBO loss."""

import hashlib
from numbers import Integral, Real

import keras
import numpy as np
from scipy.special import logsumexp
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import BaseAutoencoder, _require_unit_interval
from ._data import dense_rows
from ._inference import INFERENCE_CHUNK, make_inference_function
from ._layers import NegativeELBO, Sampling
from ._seeding import seed_from_random_state


class VariationalAE(BaseAutoencoder):
    """Variational autoencoder (Kingma and Welling, 2014) with a dense encoder and decoder.

    The encoder maps ``n_features -> hidden_layer_sizes...`` and then to the
    mean ``z_mean`` and log-variance ``z_log_var`` of a diagonal gaussian
    posterior ``q(z | x)`` over ``n_components`` latent variables. While
    training, a seeded :class:`~skae._layers.Sampling` layer draws
    ``z = z_mean + exp(z_log_var / 2) * epsilon`` (the reparameterisation
    trick) and the decoder, which runs the hidden sizes back, maps ``z`` to
    the parameters of ``p(x | z)``. The loss, per sample and in nats, is the
    negative evidence lower bound with a weight on its KL term::

        -log p(x | z) + beta * KL(q(z | x) || N(0, I))

    A :class:`~skae._layers.NegativeELBO` layer adds it per row, and skae's
    training engine averages it over each batch, weighted by the rows'
    ``sample_weight`` in a weighted fit.
    ``loss_curve_`` holds the training loss (one posterior sample per
    example, plus any ``l2`` penalty); a validation loss is evaluated at the
    posterior mean, as :meth:`score_samples` is.

    ``transform`` returns the posterior means, so it is deterministic;
    ``inverse_transform`` decodes codes to the decoder's mean; :meth:`sample`
    decodes draws from the prior; :meth:`score_samples` estimates each
    sample's ELBO and :meth:`log_likelihood` its log-likelihood ``log p(x)``
    by importance sampling (the bound of importance weighted autoencoders),
    the figure that papers report as test negative log-likelihood.

    Parameters
    ----------
    n_components : int, default=32
        Number of latent variables (the size of the codes), as
        :class:`StackedAE`'s code. On binarized mnist10k (8,000 training
        digits, the default schedule; 50 importance samples on 1,000 test
        digits) 32 latents gave a test negative log-likelihood of 100.3
        nats, 16 gave 102.7 and 40 gave 99.9 (``benchmarks/vae_nll.py``).
    hidden_layer_sizes : tuple of int, default=(512,)
        Encoder layer sizes between the input and the latent layer; the
        decoder uses them in reverse.
    activation : str, default='relu'
        Activation of the hidden layers (any Keras activation name).
    output_activation : str, default='auto'
        Activation of the decoder's output: 'auto' picks 'sigmoid' when the
        training data lie in [0, 1] and 'linear' otherwise.
    loss : {'auto', 'binary_crossentropy', 'mse'}, default='auto'
        The likelihood ``p(x | z)``. 'binary_crossentropy' is the Bernoulli
        likelihood: binary cross-entropy summed over the features, for data
        in [0, 1] (a ValueError otherwise). 'mse' is the gaussian likelihood
        with unit variance: half the summed squared error plus
        ``n_features / 2 * log(2 pi)``, for standardised data. 'auto' uses
        the Bernoulli likelihood when the output activation is sigmoid
        (with ``output_activation='auto'``: when the training data lie in
        [0, 1]) and the gaussian one otherwise.
    beta : float, default=1.0
        Weight of the KL term; 1 gives the ELBO, larger values the
        beta-VAE of Higgins et al. (2017).
    l2 : float, default=0.0
        L2 weight decay on every kernel.
    noise : {'gaussian', 'dropout'} or None, default=None
        Corruption of the input while training (see :class:`DenoisingAE`);
        the likelihood is always that of the clean input.
    noise_level : float, default=0.0
        Standard deviation ('gaussian') or masking probability ('dropout').
    noise_clip : bool, default=True
        Clip gaussian-corrupted inputs to the training data's range.
    optimizer : {'adam', 'adamw', 'nadam', 'rmsprop', 'sgd'}, default='adam'
    learning_rate : float, default=3e-3
        Peak learning rate. On binarized mnist10k at 16 latents (cosine
        schedule, 40 epochs, measured as above) 1e-3 ended at 108.9 nats,
        3e-3 at 102.7 and 5e-3 at 102.3; at 32 latents 3e-3 and 5e-3 ended
        at 100.3 and 99.8.
    learning_rate_schedule : {'cosine', 'constant'}, default='cosine'
        As :class:`StackedAE`'s: a linear warm-up over the first 8% of the
        epochs, then a cosine decay to zero, the whole schedule unless
        ``early_stopping`` stops it; 'constant' keeps ``learning_rate`` and
        stops when the loss stops improving. ``partial_fit`` always uses
        ``learning_rate``.
    batch_size : int or 'auto', default='auto'
        Mini-batch size, capped at the number of training samples. 'auto'
        chooses as :class:`StackedAE` does, from the number of samples.
    epochs : int or 'auto', default='auto'
        Number of passes over the training data; 'auto' gives about 2,500
        optimizer steps, as :class:`StackedAE`'s (40 epochs of 8,000 digits).
    shuffle : bool, default=True
        Reshuffle the training data every epoch.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when the
        validation loss stops improving, and keep the best weights.
        Otherwise training stops when the training loss stops improving.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
        Epochs without an improvement of at least ``tol`` before stopping.
    tol : float, default=1e-3
        Minimum improvement of the monitored loss, relative to its best value
        (1e-3 of a loss of 100 nats per sample is 0.1 nats). A cosine fit
        warns when its last epochs still gained more than ``tol`` of the
        fit's decrease per epoch, as :class:`StackedAE`'s.
    callbacks : list of keras.callbacks.Callback, default=None
        Keras callbacks, called by skae's training engine at epoch
        granularity: ``on_epoch_*`` every epoch with ``loss`` (and
        ``val_loss``) in the logs, ``on_train_batch_*`` once per compiled
        call (a whole epoch, or a chunk of streamed data). A callback that
        sets ``model.stop_training`` ends the fit without a
        ``ConvergenceWarning``.
    verbose : {0, 1, 2, 'auto'}, default=0
        0 is silent; 1 and 2 print one line per epoch (epoch, loss,
        validation loss, seconds), greedy pretraining phases labelled;
        'auto' prints when standard output is a terminal.
    warm_start : bool, default=False
        If True, ``fit`` continues from the previous weights. Continuing
        (``warm_start`` or ``partial_fit``) after a change to a parameter
        the network or its optimizer was built with (``n_components``,
        ``hidden_layer_sizes``, the activations, ``loss``, ``beta``,
        ``l2``, the noise settings, ``optimizer``, ``learning_rate``,
        ``jit_compile``, ``dtype_policy``) raises a ValueError that names
        it, as :class:`~sklearn.neural_network.MLPClassifier` refuses new
        classes; ``warm_start=False`` builds a new network. Changes to the
        other parameters (``epochs``, ``batch_size``, ``tol``,
        ``callbacks``...) apply to the continued training.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling, the validation split, the
        noise and the posterior samples drawn while training. The same
        integer gives identical results on CPU; global random states are
        never touched.
    jit_compile : bool or 'auto', default='auto'
        Compile each training epoch with XLA (TensorFlow). ``'auto'``
        compiles on GPUs, as Keras does, and not on CPU: there, on 2 cores
        and 8,000 MNIST images, XLA made steady epochs of StackedAE 1.2-1.7x
        and of VariationalAE 1.3x faster after 1-2 s more compiling
        (``benchmarks/engine.py``), but DenoisingAE's 6x and
        ConvolutionalAE's 18x slower. JAX always compiles; PyTorch runs
        eagerly. The choice made is ``model_.jit_compile``.
    dtype_policy : {'float32', 'mixed_float16', 'mixed_bfloat16'} or None, default=None
        Keras dtype policy of the network's layers. The mixed policies
        compute in 16 bits with float32 weights and losses, meant for GPUs
        with tensor cores (``'mixed_float16'`` adds dynamic loss scaling).
        ``None`` keeps Keras's global policy (float32).

    Attributes
    ----------
    model_ : keras.Model
        The full autoencoder used for training (it samples the code).
    encoder_ : keras.Model
        Maps inputs to posterior means.
    decoder_ : keras.Model
        Maps codes to the decoder's mean.
    likelihood_ : {'bernoulli', 'gaussian'}
        The likelihood used (resolves ``loss='auto'``).
    output_activation_ : str
        The output activation used (resolves 'auto').
    loss_curve_ : list of float
        Training loss (negative ELBO, nats per sample) at the end of each
        epoch.
    validation_loss_curve_ : list of float or None
        Validation loss per epoch when ``early_stopping`` is True.
    best_loss_ : float
        Lowest monitored loss (validation loss with early stopping).
    n_iter_ : int
        Number of epochs run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string feature names.

    See Also
    --------
    StackedAE : Deterministic dense autoencoder.
    sklearn.decomposition.PCA : Linear projection onto principal components.
    sklearn.mixture.GaussianMixture : Another density model with ``sample``
        and ``score_samples``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import VariationalAE
    >>> X = load_digits().data / 16
    >>> vae = VariationalAE(n_components=2, epochs=5, random_state=0)
    >>> codes = vae.fit_transform(X)  # a short training, enough for the example
    >>> codes.shape
    (1797, 2)
    >>> vae.likelihood_  # the data lie in [0, 1]
    'bernoulli'
    >>> vae.sample(3, random_state=0).shape
    (3, 64)
    >>> bool(vae.score(X) < 0)  # the mean ELBO, in nats per image
    True
    >>> log_p = vae.log_likelihood(X[:100], n_draws=50)  # importance-sampled log p(x)
    >>> log_p.shape
    (100,)
    >>> bool(log_p.mean() > vae.score(X[:100]))  # a tighter bound than the ELBO
    True
    """

    # Posterior draws per row behind score_samples' Monte-Carlo reconstruction term.
    _n_elbo_draws = 16

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "loss": [StrOptions({"auto", "binary_crossentropy", "mse"})],
        "hidden_layer_sizes": ["array-like"],
        "beta": [Interval(Real, 0, None, closed="left")],
    }
    # The likelihood and beta live in the network's NegativeELBO layer.
    _network_param_names = [
        *BaseAutoencoder._network_param_names,
        "hidden_layer_sizes",
        "loss",
        "beta",
    ]

    def __init__(
        self,
        n_components=32,
        *,
        hidden_layer_sizes=(512,),
        activation="relu",
        output_activation="auto",
        loss="auto",
        beta=1.0,
        l2=0.0,
        noise=None,
        noise_level=0.0,
        noise_clip=True,
        optimizer="adam",
        learning_rate=3e-3,
        learning_rate_schedule="cosine",
        batch_size="auto",
        epochs="auto",
        shuffle=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-3,
        callbacks=None,
        verbose=0,
        warm_start=False,
        random_state=None,
        jit_compile="auto",
        dtype_policy=None,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.beta = beta
        self.l2 = l2
        self.noise = noise
        self.noise_level = noise_level
        self.noise_clip = noise_clip
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.batch_size = batch_size
        self.epochs = epochs
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.callbacks = callbacks
        self.verbose = verbose
        self.warm_start = warm_start
        self.random_state = random_state
        self.jit_compile = jit_compile
        self.dtype_policy = dtype_policy

    # ------------------------------------------------------------------ network
    def _check_family_params(self, X):
        sizes = self.hidden_layer_sizes
        if not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be a sequence of positive integers; got {sizes!r}."
            )
        if self.loss == "auto" and self.output_activation == "sigmoid":
            _require_unit_interval(
                X,
                "loss='auto' with output_activation='sigmoid' is the Bernoulli likelihood, which",
                " Scale it (e.g. MinMaxScaler) or use loss='mse'.",
            )

    def _check_resume_data(self, X):
        super()._check_resume_data(X)
        # loss='auto' fixed the likelihood at the first fit: continuing a Bernoulli model on
        # data outside [0, 1] trained it on a meaningless loss (found by test_bad_input.py).
        if self.likelihood_ == "bernoulli":
            _require_unit_interval(
                X, "This VariationalAE was fitted with the Bernoulli likelihood, which"
            )

    def _likelihood(self, output_activation):
        if self.loss == "binary_crossentropy" or (
            self.loss == "auto" and output_activation == "sigmoid"
        ):
            return "bernoulli"
        return "gaussian"

    def _build_layers(self, input_shape, output_activation, seeds):
        (n_features,) = input_shape
        # Python numbers: Keras refuses NumPy scalars, which grids such as np.arange(8, 33, 8) give.
        hidden = [int(s) for s in self.hidden_layer_sizes]
        n_components = int(self.n_components)
        regularizer = keras.regularizers.L2(float(self.l2)) if self.l2 > 0 else None

        def dense(units, name, activation=None):
            return keras.layers.Dense(
                units,
                activation=activation,
                kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
                kernel_regularizer=regularizer,
                name=name,
            )

        layers = {}
        for i, units in enumerate(hidden):
            layers[f"encoder_{i}"] = dense(units, f"encoder_{i}", self.activation)
        layers["z_mean"] = dense(n_components, "z_mean")
        layers["z_log_var"] = dense(n_components, "z_log_var")
        layers["sampling"] = Sampling(seed=seeds(), name="sampling")
        for j, units in enumerate(reversed(hidden)):
            layers[f"decoder_{j}"] = dense(units, f"decoder_{j}", self.activation)
        layers["output"] = dense(n_features, "output", output_activation)
        layers["elbo"] = NegativeELBO(self._likelihood(output_activation), self.beta, name="elbo")
        return layers

    def _posterior(self, layers, x):
        """Posterior mean and log-variance tensors of input tensor ``x``."""
        i = 0
        while f"encoder_{i}" in layers:
            x = layers[f"encoder_{i}"](x)
            i += 1
        return layers["z_mean"](x), layers["z_log_var"](x)

    def _encode(self, layers, x):
        return self._posterior(layers, x)[0]

    def _decode(self, layers, z):
        j = 0
        while f"decoder_{j}" in layers:
            z = layers[f"decoder_{j}"](z)
            j += 1
        return layers["output"](z)

    def _assemble(self, layers, input_shape):
        # The training model decodes a posterior sample and ends in the loss layer, which
        # compares the reconstruction with the clean input; the encoder gives posterior means.
        inputs = keras.Input(shape=input_shape, name="input")
        x = layers["noise"](inputs) if "noise" in layers else inputs
        z_mean, z_log_var = self._posterior(layers, x)
        z = layers["sampling"]([z_mean, z_log_var])
        outputs = layers["elbo"]([inputs, self._decode(layers, z), z_mean, z_log_var])
        model = keras.Model(inputs, outputs, name=type(self).__name__)
        encoder = keras.Model(inputs, z_mean, name="encoder")
        code_input = keras.Input(shape=z_mean.shape[1:], name="code")
        decoder = keras.Model(code_input, self._decode(layers, code_input), name="decoder")
        return model, encoder, decoder

    def _training_loss(self):
        return None  # the NegativeELBO layer adds the whole loss

    def _set_networks(self, model, encoder, decoder):
        super()._set_networks(model, encoder, decoder)
        # Posterior means and log-variances as one compiled function, for score_samples.
        layers = {layer.name: layer for layer in model.layers}
        inputs = keras.Input(shape=model.inputs[0].shape[1:], name="input")
        posterior = keras.Model(inputs, list(self._posterior(layers, inputs)), name="posterior")
        self._inference["posterior"] = make_inference_function(posterior)

    @property
    def likelihood_(self):
        # Read from the network, which keeps it through pickling and warm starts.
        return self.model_.get_layer("elbo").likelihood

    # ------------------------------------------------------------------ density
    def _check_scored_data(self, X):
        X = self._check_X(X, reset=False)
        if self.likelihood_ == "bernoulli":
            _require_unit_interval(X, "The Bernoulli likelihood")
        return X

    def score_samples(self, X):
        """Each sample's evidence lower bound (ELBO), in nats (higher is better).

        The ELBO is ``E[log p(x | z)] - KL(q(z | x) || N(0, I))`` with the
        expectation over ``z ~ q(z | x)``. The KL term is exact; the
        expectation is a Monte-Carlo average over 16 posterior draws
        ``z = z_mean + sigma * epsilon`` per row. Each row's ``epsilon`` come
        from a generator seeded by the row's own values
        (``numpy.random.default_rng`` of the first 8 bytes, little-endian,
        of the row's float64 BLAKE2b digest), so the score is deterministic,
        a row gets the same value whatever else is in ``X``, and rows' draws
        are independent: the mean over many rows is an unbiased estimate of
        the mean ELBO, a lower bound of the mean ``log p(x)``. ``beta`` does
        not enter it: the KL term counts once. With the Bernoulli likelihood
        the reconstruction term is the binary cross-entropy summed over the
        features (probabilities clipped to [1e-7, 1 - 1e-7] as in Keras), a
        log-probability for binary data and the figure customarily reported
        for grey MNIST pixels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data in [0, 1] when ``likelihood_`` is 'bernoulli'.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ELBO per sample, float64.
        """
        check_is_fitted(self)
        X = self._check_scored_data(X)
        n_draws = self._n_elbo_draws
        rows_per_chunk = max(1, INFERENCE_CHUNK // n_draws)
        scores = np.empty(X.shape[0])
        for start in range(0, X.shape[0], rows_per_chunk):
            x = dense_rows(X, slice(start, start + rows_per_chunk), dtype=np.float64)
            z_mean, z_log_var = (
                keras.ops.convert_to_numpy(t).astype(np.float64)
                for t in self._inference["posterior"](x.astype(np.float32))
            )
            n_components = z_mean.shape[1]
            epsilon = np.stack(
                [_row_generator(r).standard_normal((n_draws, n_components)) for r in x]
            )
            z = z_mean[:, None, :] + np.exp(0.5 * z_log_var)[:, None, :] * epsilon
            z = z.reshape(-1, n_components)  # n_draws rows per sample
            decoded = keras.ops.convert_to_numpy(self._inference["decode"](z.astype(np.float32)))
            decoded = decoded.astype(np.float64).reshape(len(x), n_draws, -1)
            reconstruction_nll = self._negative_log_likelihood(x[:, None, :], decoded).mean(axis=1)
            kl = -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=1)
            scores[start : start + len(x)] = -(reconstruction_nll + kl)
        return scores

    def _negative_log_likelihood(self, x, decoded):
        """``-log p(x | z)`` summed over the last axis, in float64, as the training loss."""
        if self.likelihood_ == "bernoulli":
            epsilon = keras.config.epsilon()  # Keras's binary_crossentropy clips so
            p = np.clip(decoded, epsilon, 1 - epsilon)
            return -np.sum(x * np.log(p) + (1 - x) * np.log1p(-p), axis=-1)
        squared_error = np.sum((x - decoded) ** 2, axis=-1)
        return 0.5 * squared_error + 0.5 * np.log(2 * np.pi) * x.shape[-1]

    def log_likelihood(self, X, n_draws=200):
        """Each sample's importance-sampled log-likelihood ``log p(x)``, in nats.

        The estimate of Burda, Grosse and Salakhutdinov (2016), the bound
        that importance weighted autoencoders train on::

            log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x),  z_k ~ q(z | x)

        with ``K = n_draws`` posterior draws ``z_k = z_mean + sigma *
        epsilon_k``. ``K=1`` gives a one-draw estimate of the ELBO that
        :meth:`score_samples` estimates with 16 draws; the expected value
        rises with ``K`` towards ``log p(x)`` and never exceeds it, so
        ``-log_likelihood(X).mean()`` is the test negative log-likelihood
        that papers report (with ``K`` = 200 or 5000). The likelihood
        ``p(x | z)`` is the training one: Bernoulli (probabilities clipped to
        [1e-7, 1 - 1e-7], as in :meth:`score_samples`) or unit-variance
        gaussian; ``beta`` does not enter.

        A row's ``epsilon_k`` come from the generator that seeds its draws
        in :meth:`score_samples` (``numpy.random.default_rng`` of the first 8
        bytes, little-endian, of the row's float64 BLAKE2b digest), read as
        ``standard_normal((n_draws, n_components))``: the estimate is
        deterministic, a row gets the same value whatever else is in ``X``,
        and the first 16 draws are :meth:`score_samples`' draws. The log
        weights are summed with log-sum-exp in float64; rows and draws are
        processed in chunks of at most 4,096 decoded rows, so memory does
        not grow with ``n_draws``.

        Not ``score_samples``: scikit-learn's ``score_samples(X)`` takes
        only ``X``, and the ELBO it returns is cheaper (16 draws).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data in [0, 1] when ``likelihood_`` is 'bernoulli'.
        n_draws : int, default=200
            Number of importance samples ``K`` per row (at least 1).

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            Estimate of ``log p(x)`` per sample, float64 (higher is better).
        """
        check_is_fitted(self)
        if not isinstance(n_draws, Integral) or isinstance(n_draws, bool):
            raise TypeError(f"n_draws must be a positive integer; got {n_draws!r}.")
        if n_draws < 1:
            raise ValueError(f"n_draws must be a positive integer; got {n_draws!r}.")
        n_draws = int(n_draws)
        X = self._check_scored_data(X)
        rows_per_chunk = max(1, INFERENCE_CHUNK // n_draws)
        log_p_x = np.empty(X.shape[0])
        for start in range(0, X.shape[0], rows_per_chunk):
            x = dense_rows(X, slice(start, start + rows_per_chunk), dtype=np.float64)
            log_p_x[start : start + len(x)] = self._importance_sampled(x, n_draws)
        return log_p_x

    def _importance_sampled(self, x, n_draws):
        """``log (1/K) sum_k w_k`` per row of a float64 chunk ``x``, in float64."""
        z_mean, z_log_var = (
            keras.ops.convert_to_numpy(t).astype(np.float64)
            for t in self._inference["posterior"](x.astype(np.float32))
        )
        n_rows, n_components = z_mean.shape
        generators = [_row_generator(row) for row in x]
        draws_per_block = max(1, INFERENCE_CHUNK // n_rows)
        log_weights = np.empty((n_rows, n_draws))
        for first in range(0, n_draws, draws_per_block):
            n_block = min(draws_per_block, n_draws - first)
            # Each row's generator is read in order, so blocks continue its one stream.
            epsilon = np.stack([g.standard_normal((n_block, n_components)) for g in generators])
            z = z_mean[:, None, :] + np.exp(0.5 * z_log_var)[:, None, :] * epsilon
            decoded = keras.ops.convert_to_numpy(
                self._inference["decode"](z.reshape(-1, n_components).astype(np.float32))
            )
            decoded = decoded.astype(np.float64).reshape(n_rows, n_block, -1)
            log_p_x_given_z = -self._negative_log_likelihood(x[:, None, :], decoded)
            # log p(z) - log q(z | x): the 2 pi terms cancel, and (z - mean) / sigma = epsilon.
            log_prior_over_posterior = -0.5 * np.sum(z**2, axis=-1) + 0.5 * np.sum(
                epsilon**2 + z_log_var[:, None, :], axis=-1
            )
            log_weights[:, first : first + n_block] = log_p_x_given_z + log_prior_over_posterior
        return logsumexp(log_weights, axis=1) - np.log(n_draws)

    def score(self, X, y=None):
        """Mean ELBO of ``X`` in nats per sample (higher is better).

        See :meth:`score_samples` for how it is estimated. ``GridSearchCV``
        without a scorer uses it to rank models.
        """
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1, random_state=None):
        """Generate data: decode draws from the prior ``N(0, I)``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws: the same integer gives the same samples. A
            ``RandomState`` is read, not advanced; None draws fresh entropy.
            Global random states are never touched.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            The decoder's mean for each draw (for the Bernoulli likelihood
            the pixel probabilities, in [0, 1]), float64.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
        rng = np.random.default_rng(seed_from_random_state(random_state))
        return self.inverse_transform(rng.standard_normal((int(n_samples), self._n_features_out)))


def _row_generator(row):
    """A NumPy generator seeded by a float64 row's values (see ``score_samples``)."""
    digest = hashlib.blake2b(np.ascontiguousarray(row, dtype=np.float64).tobytes()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))
