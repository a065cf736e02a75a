"""Dense autoencoders: stacked (deep, optionally tied), denoising and sparse."""

from numbers import Integral

import keras
import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseAutoencoder
from ._data import TrainingRows, resolve_batch_size
from ._engine import learning_rates, resolve_verbose
from ._inference import predict_in_chunks
from ._layers import TiedDense


class StackedAE(BaseAutoencoder):
    """Deep dense autoencoder whose decoder mirrors its encoder.

    The encoder maps ``n_features -> hidden_layer_sizes... -> n_components``
    and the decoder runs the same sizes back. With ``hidden_layer_sizes=()``
    it is the one-hidden-layer autoencoder of the classic tutorials.

    **Linear autoencoder.** ``StackedAE(n_components=k, hidden_layer_sizes=(),
    activation='linear', code_activation='linear', output_activation='linear',
    tied_weights=False)`` with the default ``loss='mse'`` is the linear
    autoencoder. At the minimum
    of its loss the decoder's ``k`` kernel rows span the same subspace as
    ``PCA(k).components_`` (Baldi and Hornik, 1989), although they are
    neither orthonormal nor ordered by variance, so the codes are an
    invertible linear mix of PCA's scores rather than the scores themselves.
    Gradient training only approaches that minimum, and minibatch noise
    keeps the subspace a few degrees off where PCA's variances either side
    of ``k`` are close: full-batch training (``batch_size`` at least the
    number of samples) with ``learning_rate=0.1``,
    ``learning_rate_schedule='constant'``, ``epochs=150`` and
    ``n_iter_no_change=150`` came within a degree of PCA's subspace on
    standardized digits with ``k=8``.

    **Greedy layer-wise pretraining.** With ``pretrain='greedy'`` each
    encoder layer is first trained, bottom up, as a shallow autoencoder with
    its mirrored decoder layer (with ``tied_weights`` the transpose of its
    own kernel) for up to ``pretrain_epochs`` epochs, on the codes of the
    layers below it. Those lower layers are frozen for the rest of
    pretraining, so their codes are computed once per phase and reused every
    epoch. The whole stack is then fine-tuned end to end for up to
    ``epochs`` epochs. Phase 0 sees the data, so it uses ``loss``, the input
    ``noise`` and the data's clipping range; the upper phases reconstruct
    clean hidden codes with the mean squared error (``noise_level`` is in
    the data's units and binary cross-entropy needs targets in [0, 1]). The
    sparsity penalty acts on the code, so it applies in the last phase,
    which trains the code layer. Phases use the optimizer settings,
    ``batch_size``, ``shuffle``, ``tol``, ``n_iter_no_change``, ``l2`` and
    ``sample_weight`` of the estimator, run on the training rows only (not the
    ``early_stopping`` validation rows), do not call ``callbacks`` and do not
    warn about convergence. A fresh network (the first ``fit``, or the first
    ``partial_fit``) is pretrained; warm-started training is not.

    Parameters
    ----------
    n_components : int, default=32
        Size of the code, as ``PCA``'s ``n_components``.
    hidden_layer_sizes : tuple of int, default=(256, 128)
        Encoder layer sizes between the input and the code; the decoder
        uses them in reverse.
    activation : str, default='elu'
        Activation of the hidden layers (any Keras activation name). ELU, not
        ReLU: with the other defaults, on 8,000 MNIST images at 32 components
        it ended at 0.44x PCA's held-out MSE against ReLU's 0.50x, and on the
        standardized breast-cancer data at 8 components 0.93x against 1.28x
        (``benchmarks/time_to_quality.py``).
    code_activation : str, default='linear'
        Activation of the code layer. 'sigmoid' is required by the sparsity
        penalty.
    output_activation : str, default='auto'
        Activation of the reconstruction: 'auto' picks 'sigmoid' when the
        training data lie in [0, 1] and 'linear' otherwise.
    loss : {'mse', 'binary_crossentropy'}, default='mse'
        Reconstruction loss; binary cross-entropy needs data in [0, 1].
    l2 : float, default=0.0
        L2 weight decay on every kernel.
    tied_weights : bool, default=True
        If True, every decoder kernel is the transpose of its mirrored
        encoder kernel (biases stay separate), which halves the kernels to
        train. With the other defaults on 8,000 MNIST images, tied against
        untied: test MSE 0.48x against 0.48x PCA's at 8 components, 0.40x
        against 0.42x at 32, 0.49x against 0.59x at 64, and linear-probe
        accuracy on the codes 1-3 points higher at 8-64 (0.897 against
        0.886 at 32, where PCA's is 0.894); on digits at 8, 0.43x against
        0.41x; on standardized breast-cancer and wine rows 0.80-0.94x
        against 0.78-0.96x (``benchmarks/time_to_quality.py``).
        :class:`DenoisingAE` and :class:`SparseAE` keep separate decoder
        kernels: tied, their error at 32 components rose from 0.54x to
        0.80x and from 0.92x to 1.59x PCA's.
    noise : {'gaussian', 'dropout'} or None, default=None
        Corruption of the input while training (see :class:`DenoisingAE`).
    noise_level : float, default=0.0
        Standard deviation ('gaussian') or masking probability ('dropout').
    noise_clip : bool, default=True
        Clip gaussian-corrupted inputs to the training data's range.
    sparsity_weight : float, default=0.0
        Weight (beta) of the KL-divergence sparsity penalty on the code
        (see :class:`SparseAE`).
    sparsity_target : float, default=0.05
        Target mean activation (rho) of each code unit.
    activity_l1 : float, default=0.0
        L1 penalty on the code activations.
    pretrain : {'greedy'} or None, default=None
        'greedy' trains the layers one at a time before the end-to-end
        training (see above); None trains end to end only.
    pretrain_epochs : int, default=10
        Maximum number of epochs of each greedy pretraining phase.
    optimizer : {'adam', 'adamw', 'nadam', 'rmsprop', 'sgd'}, default='adam'
    learning_rate : float, default=5e-3
        Peak learning rate. On 8,000 MNIST images (40 epochs, cosine
        schedule) 5e-3 ended at 0.50x PCA's held-out MSE, with the least
        smooth curve of the three; 3e-3 at 0.53x and 1e-3 at 0.62x.
    learning_rate_schedule : {'cosine', 'constant'}, default='cosine'
        'cosine' warms the learning rate up linearly over the first 8% of the
        epochs, then decays it along a cosine to zero at the last epoch (set
        before each epoch); the fit runs the whole schedule unless
        ``early_stopping`` stops it. 'constant' keeps ``learning_rate`` and
        stops when the training loss stops improving, as scikit-learn's
        ``MLPRegressor`` does. ``partial_fit`` always uses ``learning_rate``.
    batch_size : int or 'auto', default='auto'
        Mini-batch size, capped at the number of training samples. 'auto'
        takes the largest of 64, 128 and 256 that leaves at least 50
        optimizer steps per epoch: 64 below 6,400 samples, 128 below 12,800,
        then 256 (60,000 MNIST images train with 256). Larger batches use the
        hardware better: on 2 CPU cores a 784-512-256-32 autoencoder's best
        epochs took 0.79 s with batch 64, 0.54 s with 256 and 0.35 s with
        1024 on 8,000 images (``benchmarks/engine.py``), and on a GPU batch
        1024 trained 9x more samples per second than 64.
        But each epoch then takes fewer steps: on digits and on 8,000 MNIST
        images, full fits with fewer than about 50 steps per epoch reached a
        worse held-out error or reached it later (``benchmarks/defaults.py``).
        With a larger batch, raise ``learning_rate`` or ``epochs``.
    epochs : int or 'auto', default='auto'
        Number (at most) of passes over the training data. 'auto' gives
        about 2,500 optimizer steps, within 10 to 100 epochs: 40 epochs of
        8,000 MNIST images at batch 128, 100 of scikit-learn's digits, 11 of
        60,000 images; fewer passes would overfit small data less.
    shuffle : bool, default=True
        Reshuffle the training data every epoch.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when the
        validation loss stops improving, and keep the best weights.
        Otherwise training stops when the training loss stops improving.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
        Epochs without an improvement of at least ``tol`` before stopping:
        the validation loss with ``early_stopping``, else the training loss
        under the 'constant' schedule (the cosine schedule runs to its end).
    tol : float, default=1e-3
        Minimum improvement of the monitored loss, relative to its best value
        (0.001 is 0.1%), so that it means the same whatever the data's scale.
        A cosine-scheduled fit whose last tenth of epochs still decreased the
        mean loss by more than ``tol`` times the whole fit's decrease per epoch
        (the budget was too short for the curve to flatten) ends with a
        ``ConvergenceWarning``.
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
        ``hidden_layer_sizes``, the activations, ``tied_weights``, ``l2``,
        the noise and sparsity settings, ``optimizer``, ``learning_rate``,
        ``jit_compile``, ``dtype_policy``) raises a ValueError that names
        it, as :class:`~sklearn.neural_network.MLPClassifier` refuses new
        classes; ``warm_start=False`` builds a new network. Changes to the
        other parameters (``epochs``, ``batch_size``, ``loss``,
        ``callbacks``...) apply to the continued training.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling, the validation split and
        the noise. The same integer gives identical results on CPU; global
        random states are never touched.
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
        The full autoencoder used for training.
    encoder_ : keras.Model
        Maps inputs to codes.
    decoder_ : keras.Model
        Maps codes to reconstructions.
    output_activation_ : str
        The output activation used (resolves 'auto').
    loss_curve_ : list of float
        Training loss at the end of each epoch.
    validation_loss_curve_ : list of float or None
        Validation loss per epoch when ``early_stopping`` is True.
    best_loss_ : float
        Lowest monitored loss (validation loss with early stopping).
    n_iter_ : int
        Number of epochs run, pretraining excluded.
    pretrain_loss_curves_ : list of list of float or None
        With ``pretrain='greedy'``, one training loss curve per pretraining
        phase, bottom layer first; None otherwise.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string feature names.

    See Also
    --------
    sklearn.decomposition.PCA : Linear projection onto principal components.
    DenoisingAE : Stacked autoencoder trained on corrupted inputs.
    SparseAE : Stacked autoencoder with a sparsity penalty on the code.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import StackedAE
    >>> X = load_digits().data / 16
    >>> ae = StackedAE(n_components=8, epochs=5, random_state=0)
    >>> codes = ae.fit_transform(X)  # doctest: +SKIP
    >>> codes.shape  # doctest: +SKIP
    (1797, 8)
    """

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "hidden_layer_sizes": ["array-like"],
        "code_activation": [str],
        "tied_weights": ["boolean"],
        "pretrain": [StrOptions({"greedy"}), None],
        "pretrain_epochs": [Interval(Integral, 1, None, closed="left")],
    }
    _network_param_names = [
        *BaseAutoencoder._network_param_names,
        "hidden_layer_sizes",
        "code_activation",
        "tied_weights",
    ]

    def __init__(
        self,
        n_components=32,
        *,
        hidden_layer_sizes=(256, 128),
        activation="elu",
        code_activation="linear",
        output_activation="auto",
        loss="mse",
        l2=0.0,
        tied_weights=True,
        noise=None,
        noise_level=0.0,
        noise_clip=True,
        sparsity_weight=0.0,
        sparsity_target=0.05,
        activity_l1=0.0,
        pretrain=None,
        pretrain_epochs=10,
        optimizer="adam",
        learning_rate=5e-3,
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
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.loss = loss
        self.l2 = l2
        self.tied_weights = tied_weights
        self.noise = noise
        self.noise_level = noise_level
        self.noise_clip = noise_clip
        self.sparsity_weight = sparsity_weight
        self.sparsity_target = sparsity_target
        self.activity_l1 = activity_l1
        self.pretrain = pretrain
        self.pretrain_epochs = pretrain_epochs
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

    def _check_family_params(self, X):
        sizes = self.hidden_layer_sizes
        if not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be a sequence of positive integers; got {sizes!r}."
            )
        try:
            keras.activations.get(self.code_activation)
        except (ValueError, TypeError):
            raise ValueError(f"Unknown code_activation {self.code_activation!r}.") from None
        if self.sparsity_weight > 0 and self.code_activation != "sigmoid":
            raise ValueError(
                "The KL sparsity penalty (sparsity_weight > 0) needs code activations in (0, 1): "
                f"set code_activation='sigmoid' (got {self.code_activation!r})."
            )

    def _build_layers(self, input_shape, output_activation, seeds):
        (n_features,) = input_shape
        # Python numbers: Keras refuses NumPy scalars, which grids such as np.arange(8, 33, 8) give.
        hidden = [int(s) for s in self.hidden_layer_sizes]
        sizes = [*hidden, int(self.n_components)]
        activations = [self.activation] * len(hidden) + [self.code_activation]
        regularizer = keras.regularizers.L2(float(self.l2)) if self.l2 > 0 else None

        def initializer():
            return keras.initializers.GlorotUniform(seed=seeds())

        layers = {}
        if self.tied_weights:
            for i, (units, activation) in enumerate(zip(sizes, activations, strict=True)):
                layers[f"encoder_{i}"] = TiedDense(
                    units,
                    activation=activation,
                    transpose_activation=output_activation if i == 0 else self.activation,
                    kernel_initializer=initializer(),
                    kernel_regularizer=regularizer,
                    name=f"encoder_{i}",
                )
            return layers
        for i, (units, activation) in enumerate(zip(sizes, activations, strict=True)):
            layers[f"encoder_{i}"] = keras.layers.Dense(
                units,
                activation=activation,
                kernel_initializer=initializer(),
                kernel_regularizer=regularizer,
                name=f"encoder_{i}",
            )
        # Decoder layer j mirrors encoder layer (depth - 1 - j): it outputs that layer's input.
        decoder_sizes = [*reversed(hidden), n_features]
        for j, units in enumerate(decoder_sizes):
            last = j == len(decoder_sizes) - 1
            layers[f"decoder_{j}"] = keras.layers.Dense(
                units,
                activation=output_activation if last else self.activation,
                kernel_initializer=initializer(),
                kernel_regularizer=regularizer,
                name=f"decoder_{j}",
            )
        return layers

    def _pretrain(self, layers, X, rows, seeds, sample_weight=None):
        if self.pretrain is None:
            self.pretrain_loss_curves_ = None
            return
        inputs = X if len(rows) == X.shape[0] else X[rows]
        weights = None if sample_weight is None else sample_weight[rows]
        curves = []
        for i in range(self._depth(layers)):
            if i > 0:
                # Layer i - 1 is final from here on: its codes are computed once, not per epoch.
                inputs = predict_in_chunks(layers[f"encoder_{i - 1}"], inputs)
            curves.append(self._pretrain_phase(layers, i, inputs, seeds, weights))
        self.pretrain_loss_curves_ = curves

    def _pretrain_phase(self, layers, i, inputs, seeds, weights=None):
        """Train encoder layer ``i`` and its mirror to reconstruct ``inputs``.

        ``inputs`` are the training rows of the data (``i == 0``) or the
        cached codes of encoder layer ``i - 1``; ``weights`` are theirs.
        Returns the loss curve.
        """
        depth = self._depth(layers)
        encoder = layers[f"encoder_{i}"]
        x = keras.Input(shape=(inputs.shape[1],), name="input")
        h = layers["noise"](x) if i == 0 and "noise" in layers else x
        code = encoder(h)
        if i == depth - 1 and "sparsity" in layers:
            code = layers["sparsity"](code)
        if self.tied_weights:
            output = encoder(code, transpose=True)
        else:
            output = layers[f"decoder_{depth - 1 - i}"](code)
        model = keras.Model(x, output, name=f"pretrain_{i}")
        # Hidden codes are not in [0, 1]: phases above the input use squared error.
        loss = "auto" if i == 0 else "mean_squared_error"
        self._compile(model, loss=loss)
        batch_size = resolve_batch_size(self.batch_size, inputs.shape[0])
        result = self._trainer_for(model, batch_size, loss=loss).fit(
            TrainingRows(
                inputs,
                np.arange(inputs.shape[0]),
                batch_size,
                weights=weights,
                shuffle=self.shuffle,
            ),
            epochs=int(self.pretrain_epochs),
            seed=seeds(),
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            rates=learning_rates(self.learning_rate, int(self.pretrain_epochs), self._schedule()),
            verbose=resolve_verbose(self.verbose),
            label=f"Pretraining layer {i}: ",
        )
        if result.diverged_at is not None:
            raise ValueError(
                f"Greedy pretraining diverged: the loss of phase {i} became non-finite at epoch "
                f"{result.diverged_at}. Lower learning_rate (now {self.learning_rate}) or scale "
                "the data."
            )
        return result.loss_curve

    def _depth(self, layers):
        return sum(name.startswith("encoder_") for name in layers)

    def _encode(self, layers, x):
        for i in range(self._depth(layers)):
            x = layers[f"encoder_{i}"](x)
        return x

    def _decode(self, layers, z):
        depth = self._depth(layers)
        if self.tied_weights:
            for i in reversed(range(depth)):
                z = layers[f"encoder_{i}"](z, transpose=True)
            return z
        for j in range(depth):
            z = layers[f"decoder_{j}"](z)
        return z


class DenoisingAE(StackedAE):
    """Stacked autoencoder trained to reconstruct clean inputs from corrupted ones.

    Corruption is applied only while training: ``noise='gaussian'`` adds
    noise of standard deviation ``noise_level`` (any positive value; clipped
    to the training data's range when ``noise_clip``), ``noise='dropout'``
    zeroes each input with probability ``noise_level``. ``transform`` and
    ``inverse_transform`` use the clean path, so
    ``inverse_transform(transform(X_noisy))`` denoises.

    Parameters are those of :class:`StackedAE`; only the defaults of
    ``noise``, ``noise_level`` and ``tied_weights`` (False) differ: gaussian
    noise of standard deviation 0.3, which on MNIST digits removes about 4.5x of the noise's
    squared error while keeping the clean reconstruction at half PCA's.

    See Also
    --------
    StackedAE : The same network without corruption.

    Examples
    --------
    >>> from skae import DenoisingAE
    >>> ae = DenoisingAE(noise="dropout", noise_level=0.3)
    >>> ae.noise, ae.noise_level
    ('dropout', 0.3)
    """

    def __init__(
        self,
        n_components=32,
        *,
        hidden_layer_sizes=(256, 128),
        activation="elu",
        code_activation="linear",
        output_activation="auto",
        loss="mse",
        l2=0.0,
        tied_weights=False,
        noise="gaussian",
        # mnist10k at 32 components (benchmarks/time_to_quality.py): 0.2 removed 2.4x of its
        # noise's MSE, 0.3 4.5x, 0.4 6.3x, at a clean test MSE of 0.49x, 0.54x, 0.62x PCA's;
        # digits at 8: 1.7x, 2.6x, 3.2x, at 0.46x, 0.56x, 0.68x.
        noise_level=0.3,
        noise_clip=True,
        sparsity_weight=0.0,
        sparsity_target=0.05,
        activity_l1=0.0,
        pretrain=None,
        pretrain_epochs=10,
        optimizer="adam",
        learning_rate=5e-3,
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
        super().__init__(**{k: v for k, v in locals().items() if k not in ("self", "__class__")})


class SparseAE(StackedAE):
    """Stacked autoencoder with a KL-divergence sparsity penalty on a sigmoid code.

    The loss adds ``sparsity_weight * sum_j KL(sparsity_target || mean_j)``,
    where ``mean_j`` is code unit ``j``'s mean activation over the batch,
    and optionally ``activity_l1`` times the code's L1 norm. The penalty
    drives each unit to be active for only a fraction ``sparsity_target``
    of the inputs, which allows codes wider than the input. In a weighted
    fit (``sample_weight``) the penalty, a function of the batch's mean
    activations, uses their unweighted mean over the batch's rows; the
    reconstruction loss is weighted, and zero-weight rows are removed.

    Parameters are those of :class:`StackedAE`; the defaults of
    ``n_components``, ``code_activation``, ``sparsity_weight`` and
    ``tied_weights`` (False) differ.

    See Also
    --------
    StackedAE : The same network without the penalty.

    Examples
    --------
    >>> from skae import SparseAE
    >>> SparseAE().code_activation
    'sigmoid'
    """

    def __init__(
        self,
        n_components=64,
        *,
        hidden_layer_sizes=(256, 128),
        activation="elu",
        code_activation="sigmoid",
        output_activation="auto",
        loss="mse",
        l2=0.0,
        tied_weights=False,
        noise=None,
        noise_level=0.0,
        noise_clip=True,
        # mnist10k at 32 components, target 0.05 (benchmarks/time_to_quality.py): test MSE /
        # PCA's and mean code activation with hidden (256,) and weight 0.1: 1.13x, 0.051;
        # (256, 128), 0.1: 1.02x, 0.050; (256,), 0.03: 0.99x, 0.053; (256, 128), 0.03: 0.92x,
        # 0.051. Digits at 8: 1.01x, 0.68x, 0.85x, 0.67x (activations 0.052-0.060).
        sparsity_weight=0.03,
        sparsity_target=0.05,
        activity_l1=0.0,
        pretrain=None,
        pretrain_epochs=10,
        optimizer="adam",
        learning_rate=5e-3,
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
        super().__init__(**{k: v for k, v in locals().items() if k not in ("self", "__class__")})
