"""The abstract base estimator that owns the whole scikit-learn contract."""

import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import keras
import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._data import TrainingRows, resolve_batch_size, resolve_epochs
from ._engine import (
    Trainer,
    learning_rates,
    make_optimizer,
    resolve_jit_compile,
    resolve_verbose,
)
from ._inference import INFERENCE_CHUNK, make_inference_function, predict_in_chunks
from ._layers import GaussianNoise, MaskingNoise, NegativeELBO, SparsityPenalty
from ._saving import (
    estimator_state,
    layer_mismatch,
    network_size_bound,
    network_variables,
    restore_state,
)
from ._seeding import SeedStream, seed_from_random_state

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_OPTIMIZERS = {"adam", "adamw", "nadam", "rmsprop", "sgd"}
_LOSSES = {"mse": "mean_squared_error", "binary_crossentropy": "binary_crossentropy"}
_DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
# Where the built documentation is served: the HTML repr's "?" links to the estimator's API
# page there, named as docs/_ext/skae_docs.py names it (scikit-learn's _doc_link hooks).
DOCS_URL = "https://skae.readthedocs.io/en/latest/"
DOC_LINK_TEMPLATE = DOCS_URL + "gen_modules/{estimator_module}.{estimator_name}.html"
# Never saved: __setstate__ rebuilds the networks from the parameters and sets the
# saved weights. The trainer holds the traced training functions of partial_fit calls;
# _network_params_ is what the rebuilt network was built with (a file cannot claim another).
_NETWORK_ATTRIBUTES = (
    "model_",
    "encoder_",
    "decoder_",
    "_inference",
    "_trainer",
    "_network_params_",
)


def _is_callback_list(value):
    return isinstance(value, (list, tuple)) and all(
        isinstance(c, keras.callbacks.Callback) for c in value
    )


class BaseAutoencoder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator, metaclass=ABCMeta
):
    """Base class for autoencoder transformers. Not for direct use.

    It owns validation, training (``fit``, ``partial_fit``, warm starts),
    ``transform``, ``inverse_transform``, ``score``, ``score_samples``,
    tags and pickling. A family only says which layers its network has
    (``_build_layers``) and how they connect (``_encode``, ``_decode``); it
    may add to the loss through layers.
    """

    _doc_link_module = "skae"
    _doc_link_template = DOC_LINK_TEMPLATE

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "activation": [str],
        "output_activation": [str],
        "loss": [StrOptions(set(_LOSSES))],
        "l2": [Interval(Real, 0, None, closed="left")],
        "noise": [StrOptions({"gaussian", "dropout"}), None],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "noise_clip": ["boolean"],
        "sparsity_weight": [Interval(Real, 0, None, closed="left")],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither")],
        "activity_l1": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions(_OPTIMIZERS)],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_schedule": [StrOptions({"cosine", "constant"})],
        "epochs": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "callbacks": [list, None],
        "verbose": [StrOptions({"auto"}), Interval(Integral, 0, 2, closed="both")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "jit_compile": [StrOptions({"auto"}), "boolean"],
        "dtype_policy": [StrOptions(set(_DTYPE_POLICIES)), None],
    }

    # ------------------------------------------------------------------ family hooks
    @abstractmethod
    def _build_layers(self, input_shape, output_activation, seeds):
        """Return a dict ``name -> keras layer`` of the network's layers.

        ``seeds()`` gives a fresh integer seed for each random initializer.
        """

    @abstractmethod
    def _encode(self, layers, x):
        """Apply the encoder layers to tensor ``x``; return the code tensor."""

    @abstractmethod
    def _decode(self, layers, z):
        """Apply the decoder layers to code tensor ``z``; return the output."""

    def _input_shape(self, n_features):
        """Shape of one sample as the network sees it."""
        return (n_features,)

    def _check_family_params(self, X):
        """Checks of parameters against each other or the data; raise ValueError."""

    def _check_resume_data(self, X):
        """Checks of new data against the fitted network (partial_fit, warm starts)."""
        # Continuing would silently keep the network built with the old values.
        recorded = getattr(self, "_network_params_", {})  # {}: saved by an older skae
        changed = [
            (name, recorded[name], value)
            for name, value in self._network_params().items()
            if name in recorded and recorded[name] != value
        ]
        if changed:
            names = ", ".join(f"`{name}`" for name, _, _ in changed)
            values = ", ".join(f"{name}={old!r} (now {new!r})" for name, old, new in changed)
            raise ValueError(
                f"warm_start and partial_fit can only be used where {names} does not change: "
                f"they continue training the network {type(self).__name__} built with {values}. "
                "Set warm_start=False and call fit to build a new network."
            )

    # Parameters the network and its optimizer are built with; families add theirs.
    _network_param_names = (
        "n_components activation output_activation l2 noise noise_level noise_clip optimizer "
        "learning_rate jit_compile dtype_policy sparsity_weight sparsity_target activity_l1"
    ).split()

    def _network_params(self):
        """The current values of ``_network_param_names``, comparable with ``==``."""
        params = self.get_params(deep=False)
        return {n: _comparable(params[n]) for n in self._network_param_names if n in params}

    def _pretrain(self, layers, X, rows, seeds, sample_weight=None):
        """Train before the end-to-end phase (e.g. greedy layer-wise); no-op by default.

        ``sample_weight`` (aligned to ``X``'s rows, or None) weights the rows as the
        end-to-end training does.
        """

    @property
    def _n_features_out(self):
        return self.n_components

    # ------------------------------------------------------------------ validation
    def _check_X(self, X, *, reset):
        X = validate_data(
            self,
            X,
            reset=reset,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
            ensure_min_samples=1,
        )
        _check_float32_range(X, "X")
        return X

    def _check_params_against_data(self, X):
        if self.callbacks is not None and not _is_callback_list(self.callbacks):
            raise TypeError(
                "callbacks must be a list of keras.callbacks.Callback instances; got "
                f"{self.callbacks!r}."
            )
        low, high = _data_range(X)
        in_unit_interval = low >= 0 and high <= 1
        if self.loss == "binary_crossentropy":
            if not in_unit_interval:
                raise ValueError(
                    "loss='binary_crossentropy' needs data in [0, 1]; X ranges over "
                    f"[{low:g}, {high:g}]. Scale it (e.g. MinMaxScaler) or use loss='mse'."
                )
            if self.output_activation not in ("auto", "sigmoid"):
                raise ValueError(
                    "loss='binary_crossentropy' needs output_activation='sigmoid' (or 'auto'); "
                    f"got {self.output_activation!r}."
                )
        for name in ("activation", "output_activation"):
            value = getattr(self, name)
            if value == "auto" and name == "output_activation":
                continue
            try:
                keras.activations.get(value)
            except (ValueError, TypeError) as error:
                raise ValueError(f"Unknown {name} {value!r}: {error}") from None
        noise = getattr(self, "noise", None)
        if noise is not None and self.noise_level <= 0:
            raise ValueError(f"noise={self.noise!r} needs noise_level > 0; got {self.noise_level}.")
        if noise == "dropout" and self.noise_level >= 1:
            raise ValueError(
                f"noise='dropout' needs noise_level (the masking probability) < 1; "
                f"got {self.noise_level}."
            )
        self._check_family_params(X)
        if self.output_activation == "auto":
            return "sigmoid" if in_unit_interval else "linear"
        return self.output_activation

    # ------------------------------------------------------------------ network
    def _assemble(self, layers, input_shape):
        """Connect ``layers`` into the training model, the encoder and the decoder.

        The training model is one flat functional graph (not nested models), so
        layers shared between encoder and decoder, such as tied weights, are
        serialised once and stay shared after loading.
        """
        inputs = keras.Input(shape=input_shape, name="input")
        x = layers["noise"](inputs) if "noise" in layers else inputs
        code = self._encode(layers, x)
        if "sparsity" in layers:
            code = layers["sparsity"](code)
        model = keras.Model(inputs, self._decode(layers, code), name=type(self).__name__)
        encoder = keras.Model(inputs, code, name="encoder")
        code_input = keras.Input(shape=code.shape[1:], name="code")
        decoder = keras.Model(code_input, self._decode(layers, code_input), name="decoder")
        return model, encoder, decoder

    def _base_layers(self, X, seeds):
        """Noise and sparsity layers, which any family can compose with."""
        layers = {}
        noise = getattr(self, "noise", None)
        if noise == "gaussian":
            low, high = _data_range(X) if self.noise_clip else (None, None)
            layers["noise"] = GaussianNoise(
                self.noise_level, clip_min=low, clip_max=high, seed=seeds(), name="noise"
            )
        elif noise == "dropout":
            layers["noise"] = MaskingNoise(self.noise_level, seed=seeds(), name="noise")
        if getattr(self, "sparsity_weight", 0) > 0 or getattr(self, "activity_l1", 0) > 0:
            layers["sparsity"] = SparsityPenalty(
                self.sparsity_target, self.sparsity_weight, self.activity_l1, name="sparsity"
            )
        return layers

    def _compile(self, model, loss="auto"):
        """Give ``model`` a fresh optimizer of the estimator's settings (saved with it)."""
        optimizer = make_optimizer(self.optimizer, self.learning_rate)
        if getattr(self, "dtype_policy", None) == "mixed_float16":
            # Keras adds loss scaling only for a model-wide policy; ours is per layer.
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(
            optimizer=optimizer,
            loss=self._training_loss() if loss == "auto" else loss,
            jit_compile=resolve_jit_compile(getattr(self, "jit_compile", "auto")),
        )

    def _trainer_for(self, model, batch_size, loss="auto"):
        """The engine for ``model``: kept between fits, so partial_fit traces once."""
        loss = self._training_loss() if loss == "auto" else loss
        trainer = getattr(self, "_trainer", None)
        if (
            trainer is None
            or trainer.model is not model
            or trainer.batch_size != batch_size
            or trainer.loss != loss
        ):
            trainer = Trainer(
                model, loss=loss, batch_size=batch_size, jit_compile=model.jit_compile
            )
        return trainer

    def _training_loss(self):
        return _LOSSES[self.loss]

    def _set_networks(self, model, encoder, decoder):
        self.model_, self.encoder_, self.decoder_ = model, encoder, decoder
        self._inference = {
            "encode": make_inference_function(encoder),
            "decode": make_inference_function(decoder),
            "reconstruct": make_inference_function(model),
        }

    # ------------------------------------------------------------------ training
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Train the autoencoder on ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. CSR/CSC matrices are densified one batch at a time.
        y : None
            Ignored; present so that the estimator fits in a supervised Pipeline.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row's loss; None weights rows equally.
            The loss is ``sum(w * loss) / sum(w)``: a row of weight 2 counts,
            in expectation, as that row twice, and only the weights' ratios
            matter (equal weights give exactly the unweighted fit). Rows of
            weight zero are removed before training, so they do not enter
            the data range, the validation split or any batch. With
            ``early_stopping`` the validation loss is weighted alike. See
            :ref:`sample_weight`.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(
            X, epochs=self.epochs, continue_training=self.warm_start, sample_weight=sample_weight
        )

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit to ``X``, then return its codes, shape (n_samples, n_components).

        ``sample_weight`` is that of :meth:`fit`; every row of ``X`` is encoded.
        """
        self.fit(X, y, sample_weight=sample_weight)
        return self.transform(X)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """One pass (epoch) over ``X``, continuing from the current weights.

        The first call builds the network from ``X``; later calls must give
        the same number of features. No validation split or early stopping
        is used; ``loss_curve_`` gains one entry per call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data of this pass.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this pass's rows, as in :meth:`fit`: they are
            normalised within the call, so only their ratios within ``X``
            matter.

        Returns
        -------
        self : object
            The estimator.
        """
        return self._fit(
            X, epochs=1, continue_training=True, partial=True, sample_weight=sample_weight
        )

    def _fit(self, X, *, epochs, continue_training, partial=False, sample_weight=None):
        # validate_data(reset=True) writes n_features_in_ before anything can fail:
        # keep the whole previous state so a failed call leaves the estimator as it was.
        previous_state = dict(self.__dict__)
        try:
            return self._fit_unsafe(
                X,
                epochs=epochs,
                continue_training=continue_training,
                partial=partial,
                sample_weight=sample_weight,
            )
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(previous_state)
            raise

    def _fit_unsafe(self, X, *, epochs, continue_training, partial, sample_weight):
        resume = continue_training and hasattr(self, "model_")
        X = self._check_X(X, reset=not resume)
        X, _, sample_weight = _check_fit_weights(sample_weight, X)
        output_activation = self._check_params_against_data(X)
        if resume:
            self._check_resume_data(X)
        n_samples = X.shape[0]
        seed = seed_from_random_state(self.random_state)
        if resume:
            # Each continued pass gets its own reproducible shuffling stream.
            seed = int(np.random.default_rng([seed, self.n_iter_]).integers(2**31 - 1))
        seeds = SeedStream(seed)
        rows = np.arange(n_samples)
        validation_rows = None
        if self.early_stopping and not partial:
            rows, validation_rows = _split_rows(n_samples, self.validation_fraction, seeds())

        if resume:
            model, encoder, decoder = self.model_, self.encoder_, self.decoder_
            snapshot = _snapshot(model)
            previous_curve = list(self.loss_curve_)
        else:
            layers = self._base_layers(X, seeds)
            layers.update(
                self._build_layers(self._input_shape(X.shape[1]), output_activation, seeds)
            )
            _set_dtype_policy(layers, getattr(self, "dtype_policy", None))
            model, encoder, decoder = self._assemble(layers, self._input_shape(X.shape[1]))
            self._pretrain(layers, X, rows, seeds, sample_weight)
            self._compile(model)
            snapshot, previous_curve = None, []

        batch_size = resolve_batch_size(self.batch_size, len(rows))
        epochs = resolve_epochs(epochs, len(rows), batch_size)
        schedule = "constant" if partial else self._schedule()
        trainer = self._trainer_for(model, batch_size)
        try:
            result = trainer.fit(
                TrainingRows(X, rows, batch_size, weights=sample_weight, shuffle=self.shuffle),
                epochs=epochs,
                seed=seeds(),
                validation=(
                    None
                    if validation_rows is None
                    else TrainingRows(X, validation_rows, batch_size, weights=sample_weight)
                ),
                tol=self.tol,
                n_iter_no_change=self.n_iter_no_change,
                callbacks=self.callbacks or [],
                verbose=resolve_verbose(self.verbose),
                rates=learning_rates(self.learning_rate, epochs, schedule),
            )
        except BaseException:
            if snapshot is not None:
                _restore(model, snapshot)
            raise
        if result.diverged_at is not None:
            if snapshot is not None:
                _restore(model, snapshot)
            raise ValueError(
                f"Training diverged: the loss became non-finite at epoch {result.diverged_at}. "
                f"Lower learning_rate (now {self.learning_rate}) or scale the data."
            )

        # Commit: only a successful fit changes the estimator.
        if not resume:
            self._set_networks(model, encoder, decoder)
            self.output_activation_ = output_activation
            self._network_params_ = self._network_params()
        self._trainer = trainer
        self.loss_curve_ = previous_curve + result.loss_curve
        self.validation_loss_curve_ = result.validation_loss_curve or None
        self.best_loss_ = result.best_loss
        self.n_iter_ = len(self.loss_curve_)
        if not partial and not (result.converged or result.stopped_by_callback):
            if schedule == "cosine":
                detail = (
                    "its last epochs, at the end of the cosine learning-rate schedule, still "
                    f"decreased the loss by more than tol={self.tol} of the fit's decrease "
                    "per epoch"
                )
            else:
                detail = (
                    f"the loss was still improving by more than tol={self.tol} of its value "
                    f"within {self.n_iter_no_change} epochs"
                )
            warnings.warn(
                f"{type(self).__name__} used all {epochs} epochs and {detail}; the training "
                f"may not have converged. Raise epochs (now {self.epochs!r}) to train longer.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    # Files and pickles saved before learning_rate_schedule existed trained at a constant
    # rate: restore_state (skae/_saving.py) gives them 'constant'.
    _params_added_later = {"learning_rate_schedule": "constant"}

    def _schedule(self):
        """The learning-rate schedule of a fit; a subclass without the parameter keeps a
        constant rate (every skae family has it)."""
        return getattr(self, "learning_rate_schedule", "constant")

    # ------------------------------------------------------------------ inference
    def transform(self, X):
        """Encode ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            In ``X``'s floating dtype (float64 for integer input).
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        codes = predict_in_chunks(self._inference["encode"], X)
        return codes.astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """Decode codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_reconstructed : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=(np.float64, np.float32), input_name="codes")
        _check_float32_range(Z, "codes")
        if Z.shape[1] != self._n_features_out:
            raise ValueError(
                f"Codes have {Z.shape[1]} columns, but {type(self).__name__} has "
                f"n_components={self._n_features_out}."
            )
        return self._decoded_to_output(predict_in_chunks(self._inference["decode"], Z), Z.dtype)

    def _decoded_to_output(self, decoded, dtype):
        """Network output to the layout the estimator was fitted on."""
        return decoded.reshape(decoded.shape[0], -1).astype(dtype, copy=False)

    def _reconstruct(self, X):
        return self._decoded_to_output(
            predict_in_chunks(self._inference["reconstruct"], X), X.dtype
        )

    def score_samples(self, X):
        """Minus each sample's mean squared reconstruction error (higher is better).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        errors = np.empty(X.shape[0], dtype=np.float64)
        for start in range(0, X.shape[0], INFERENCE_CHUNK):
            block = X[start : start + INFERENCE_CHUNK]
            original = block.toarray() if sp.issparse(block) else block
            errors[start : start + INFERENCE_CHUNK] = np.mean(
                (self._reconstruct(block) - original) ** 2, axis=1, dtype=np.float64
            )
        return -errors

    def score(self, X, y=None):
        """Minus the mean squared reconstruction error on ``X`` (higher is better).

        ``GridSearchCV`` without a scorer uses it to rank autoencoders.
        """
        return float(np.mean(self.score_samples(X)))

    # ------------------------------------------------------------------ protocol
    def save(self, path):
        """Save to ``path`` in the skae format; see :func:`skae.load`.

        Unlike a pickle, the file loads without executing code from it: it
        holds parameters and weights only, and loading rebuilds the networks.
        """
        from ._saving import save

        save(self, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def __getstate__(self):
        # Parameters, fitted attributes and weights only: see skae/_saving.py.
        if "model_" not in self.__dict__:
            return estimator_state(self, None, None)
        model = self.model_
        noise = next((layer for layer in model.layers if layer.name == "noise"), None)
        clip = None
        if isinstance(noise, GaussianNoise) and noise.clip_min is not None:
            clip = [noise.clip_min, noise.clip_max]
        network = {"noise_range": clip}
        try:
            mismatch = layer_mismatch(self._network_layers(network), model)
        except (ValueError, TypeError) as error:
            mismatch = f"none ({error})"
        if mismatch is None:
            mismatch = _optimizer_mismatch(self, model)
        if mismatch is not None:
            raise ValueError(
                f"Cannot save this {type(self).__name__}: its fitted network no longer matches "
                f"its parameters (layer {mismatch}), as after set_params changed a network "
                "parameter; restore the parameters or refit."
            )
        return estimator_state(self, network, network_variables(model))

    def __setstate__(self, state):
        restore_state(self, state)

    def _network_attributes(self):
        return _NETWORK_ATTRIBUTES

    def _check_fitted_state(self, network):
        """Check the fitted values a saved state gives; return a bound on the weights."""
        if not isinstance(network, dict) or set(network) != {"noise_range"}:
            raise ValueError("The saved network entry must hold exactly 'noise_range'.")
        clip = network["noise_range"]
        if getattr(self, "noise", None) == "gaussian" and self.noise_clip:
            if (
                not isinstance(clip, list)
                or len(clip) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in clip)
                or not all(abs(v) <= _FLOAT32_MAX for v in clip)
                or not clip[0] <= clip[1]
            ):
                raise ValueError(
                    f"The saved noise clip range must be two finite numbers, low <= high; got "
                    f"{clip!r}."
                )
        elif clip is not None:
            raise ValueError("The saved state has a noise clip range, but the noise does not clip.")
        try:
            self._check_params_against_data(np.zeros((1, 1)))
        except (ValueError, TypeError) as error:
            raise ValueError(f"The saved parameters do not fit together: {error}") from None
        resolved, chosen = self.output_activation_, self.output_activation
        if (
            (chosen != "auto" and resolved != chosen)
            or (chosen == "auto" and resolved not in ("sigmoid", "linear"))
            or (self.loss == "binary_crossentropy" and resolved != "sigmoid")
        ):
            raise ValueError(
                f"output_activation_={resolved!r} disagrees with output_activation={chosen!r} "
                f"and loss={self.loss!r}."
            )
        return network_size_bound(self)

    def _network_layers(self, network):
        """The layers that fit built, from the parameters and the fitted attributes."""
        # The saved weights and seed states replace what these seeds give.
        seeds = SeedStream(0)
        clip = network["noise_range"]
        # _base_layers takes the clip range from the data: a row of the two values gives it.
        data = np.zeros((1, 1)) if clip is None else np.array([clip], dtype=np.float64)
        layers = self._base_layers(data, seeds)
        input_shape = self._input_shape(self.n_features_in_)
        layers.update(self._build_layers(input_shape, self.output_activation_, seeds))
        _set_dtype_policy(layers, getattr(self, "dtype_policy", None))
        return layers

    def _rebuild_networks(self, network):
        layers = self._network_layers(network)
        model, encoder, decoder = self._assemble(layers, self._input_shape(self.n_features_in_))
        self._compile(model)
        self._set_networks(model, encoder, decoder)
        self._network_params_ = self._network_params()
        return model


def _optimizer_mismatch(estimator, model):
    """None if ``model``'s optimizer is the one ``estimator``'s parameters give."""
    optimizer = model.optimizer
    wrapped = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    if wrapped != (getattr(estimator, "dtype_policy", None) == "mixed_float16"):
        return "optimizer (loss scaling)"
    inner = optimizer.inner_optimizer if wrapped else optimizer
    if inner is not None and type(inner).__name__.lower() != estimator.optimizer:
        return f"optimizer ({type(inner).__name__})"
    return None


# Layers that add to the loss compute it in float32, so that it sums with the main loss
# and small terms (a KL divergence) keep their precision.
_FLOAT32_LAYERS = (SparsityPenalty, NegativeELBO)


def _set_dtype_policy(layers, policy):
    """Give the layers ``policy`` before they are built; losses stay float32.

    Set per layer rather than with ``keras.config.set_dtype_policy``, which is
    global. The policy is saved in each layer's config, so pickles keep it.
    """
    if policy is None:
        return
    for layer in layers.values():
        if not isinstance(layer, _FLOAT32_LAYERS):
            layer.dtype_policy = policy


def _comparable(value):
    """Sequences as tuples and NumPy scalars as Python numbers, so that ``==`` compares."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return tuple(_comparable(v) for v in value)
    return value.item() if isinstance(value, np.generic) else value


def _data_range(X):
    values = X.data if sp.issparse(X) else X
    if values.size == 0:
        return 0.0, 0.0
    low, high = float(np.min(values)), float(np.max(values))
    if sp.issparse(X) and values.size < X.shape[0] * X.shape[1]:
        low, high = min(low, 0.0), max(high, 0.0)  # implicit zeros
    return low, high


def _require_unit_interval(X, what, advice=""):
    """Raise ``ValueError`` unless ``X`` lies in [0, 1]; ``what`` names what needs it."""
    low, high = _data_range(X)
    if not 0 <= low <= high <= 1:
        raise ValueError(f"{what} needs data in [0, 1]; X ranges over [{low:g}, {high:g}].{advice}")


def _check_fit_weights(sample_weight, X, y=None):
    """Validated weights, with ``X`` and ``y`` without the zero-weight rows.

    Returns ``(X, y, weights)``; ``weights`` is None when ``sample_weight`` is. Removing
    the rows, rather than giving them weight zero in their batches, makes
    ``fit(X, sample_weight=mask)`` the fit of ``X[mask > 0]`` exactly.
    """
    if sample_weight is None:
        return X, y, None
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    kept = np.flatnonzero(sample_weight)
    if len(kept) < len(sample_weight):
        X, sample_weight = X[kept], sample_weight[kept]
        y = None if y is None else y[kept]
    return X, y, sample_weight


def _check_float32_range(X, name):
    low, high = _data_range(X)
    if max(-low, high) > _FLOAT32_MAX:
        raise ValueError(
            f"{name} holds values too large for float32 (range [{low:g}, {high:g}]); "
            "the networks compute in float32, so rescale the data."
        )


def _split_rows(n_samples, validation_fraction, seed):
    n_validation = int(round(validation_fraction * n_samples))
    if n_validation < 1 or n_validation >= n_samples:
        raise ValueError(
            f"early_stopping with validation_fraction={validation_fraction} needs at least one "
            f"training and one validation sample; got n_samples = {n_samples}."
        )
    order = np.random.default_rng(seed).permutation(n_samples)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


def _snapshot(model):
    # model.variables, not get_weights(): it also holds the noise and sampling layers'
    # seed-generator states, which a failed pass must not leave advanced.
    optimizer = model.optimizer
    variables = [*model.variables, *(optimizer.variables if optimizer else [])]
    return variables, [keras.ops.convert_to_numpy(v) for v in variables]


def _restore(model, snapshot):
    for variable, value in zip(*snapshot, strict=True):
        variable.assign(value)
