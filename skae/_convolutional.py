"""Convolutional autoencoder for images, given as 4-D arrays or flattened rows."""

from math import ceil, prod
from numbers import Integral

import keras
import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import _LOSSES, BaseAutoencoder, _require_unit_interval


class ConvolutionalAE(BaseAutoencoder):
    """Convolutional autoencoder: convolution and pooling down, upsampling and convolution up.

    Each encoder block is a ``kernel_size`` x ``kernel_size`` convolution
    with ``filters[i]`` channels ('same' padding) followed by 2 x 2 max
    pooling ('same' padding, so odd sizes round up). The decoder mirrors
    it: each block is a 2 x 2 upsampling, cropped back to the size its
    mirrored encoder block received, followed by a convolution back to the
    channels that block received, the last one to the image's channels
    with ``output_activation``. Any image size works: 28 -> 14 -> 7 -> 4
    -> (8, cropped to) 7 -> 14 -> 28. Without ``n_components`` the default
    filters (32, 32, 8) code a 28 x 28 image as a 4 x 4 x 8 tensor (128
    values), as the classic 16-8-8 design (``filters=(16, 8, 8)``) does,
    with wider first blocks, which reconstruct MNIST clearly better for the
    same epochs (see ``benchmarks/vae_cae_mnist.py``). With
    ``n_components`` a dense code layer reads the maps of two blocks of 16
    and 32 filters (7 x 7 x 32 for MNIST), and beats :class:`StackedAE`'s
    defaults at the same code size (``benchmarks/time_to_quality.py``).

    Images may come as a 4-D array ``(n_samples, height, width, channels)``
    or as flattened rows ``(n_samples, height * width * channels)`` (so the
    estimator fits in a Pipeline of 2-D data) read with ``image_shape``.
    ``transform`` always returns 2-D codes; ``inverse_transform`` returns
    the layout the estimator was fitted on. Noise (``noise``, see
    :class:`DenoisingAE`) makes it a denoising convolutional autoencoder.

    Parameters
    ----------
    n_components : int or None, default=None
        None: the code is the flattened output of the last encoder block,
        of ``ceil(height / 2**len(filters)) * ceil(width / 2**len(filters))
        * filters[-1]`` values. An int adds a dense code layer of that size
        after it, and a dense layer back before the decoder.
    image_shape : tuple of int or None, default=None
        ``(height, width, channels)`` (or ``(height, width)`` for one
        channel) of the images in flattened rows, in C order, e.g.
        ``(28, 28, 1)`` for MNIST rows of 784 pixels. None takes the shape
        of 4-D input and reads 2-D rows as one-channel signals of shape
        ``(1, n_features, 1)``, i.e. 1-D convolutions along the features.
    filters : tuple of int or 'auto', default='auto'
        Number of filters of each encoder block, which halves the height
        and the width; the decoder mirrors them. 'auto' is (32, 32, 8) when
        the last block's maps are the code (``n_components=None``) and
        (16, 32) when a dense code layer reads them: its narrow maps then
        only squeeze what the code can hold. On 8,000 MNIST images at 32
        components (40 epochs, cosine schedule) (16, 32) reached a test MSE
        of 0.0057 in 68 s, (32, 64) 0.0048 in 141 s (0.0055 in 73 s with 20
        epochs), (32, 32, 8) 0.0109 in 113 s; StackedAE 0.0068 in 12 s.
    kernel_size : int, default=3
        Height and width of the convolution kernels.
    activation : str, default='relu'
        Activation of the convolutions (any Keras activation name).
    code_activation : str, default='linear'
        Activation of the code: of the last encoder convolution, or of the
        dense code layer when ``n_components`` is set.
    output_activation : str, default='auto'
        Activation of the reconstruction: 'auto' picks 'sigmoid' when the
        training data lie in [0, 1] and 'linear' otherwise.
    loss : {'auto', 'binary_crossentropy', 'mse'}, default='auto'
        Reconstruction loss. 'auto' is binary cross-entropy when the output
        activation is sigmoid (with ``output_activation='auto'``: when the
        training data lie in [0, 1], as images scaled by their maximum do)
        and the squared error otherwise, so any finite data are accepted.
        With a sigmoid output, 'mse' can leave a convolutional decoder stuck
        on a blank image, which binary cross-entropy avoids: after 10 epochs
        on 1,000 MNIST digits the default network's test reconstruction MSE
        was 0.113 with 'mse' (a blank image) and 0.017 with
        'binary_crossentropy'. Binary cross-entropy needs data in [0, 1].
    l2 : float, default=0.0
        L2 weight decay on every kernel.
    noise : {'gaussian', 'dropout'} or None, default=None
        Corruption of the input while training (see :class:`DenoisingAE`).
    noise_level : float, default=0.0
        Standard deviation ('gaussian') or masking probability ('dropout').
    noise_clip : bool, default=True
        Clip gaussian-corrupted inputs to the training data's range.
    optimizer : {'adam', 'adamw', 'nadam', 'rmsprop', 'sgd'}, default='adam'
    learning_rate : float, default=3e-3
        Peak learning rate. Chosen on 1,000 MNIST training digits held out:
        after 10 epochs on 7,000 digits the default network's
        reconstruction MSE was 0.0089 at 3e-3 (1e-3 leaves it behind a
        dense autoencoder with as many code values, see
        ``benchmarks/vae_cae_mnist.py``).
    learning_rate_schedule : {'cosine', 'constant'}, default='cosine'
        As in :class:`StackedAE`: 'cosine' warms up over the first 8% of the
        epochs, then decays along a cosine to zero and runs the whole
        schedule unless ``early_stopping`` stops it; 'constant' keeps
        ``learning_rate`` and stops when the training loss stops improving.
    batch_size : int or 'auto', default='auto'
        Mini-batch size, capped at the number of training samples. 'auto'
        chooses as :class:`StackedAE` does, from the number of samples (128
        for 8,000 images, 256 from 12,800).
    epochs : int or 'auto', default='auto'
        Maximum number of passes over the training data. 'auto' gives about
        2,500 optimizer steps within 10 to 100 epochs, as in
        :class:`StackedAE` (40 epochs of 8,000 images).
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
        (0.001 is 0.1%). A cosine-scheduled fit whose last tenth of epochs
        still decreased the mean loss by more than ``tol`` times the whole
        fit's decrease per epoch ends with a ``ConvergenceWarning``.
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
        ``image_shape``, ``filters``, ``kernel_size``, the activations,
        ``l2``, the noise settings, ``optimizer``, ``learning_rate``,
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
        The full autoencoder used for training; it takes and returns
        flattened rows.
    encoder_ : keras.Model
        Maps flattened rows to codes.
    decoder_ : keras.Model
        Maps codes to flattened reconstructions.
    image_shape_ : tuple of int
        ``(height, width, channels)`` of the images the network reads.
    input_ndim_ : {2, 4}
        Layout of the training data: 2 for flattened rows, 4 for image
        arrays. ``inverse_transform`` returns this layout.
    output_activation_ : str
        The output activation used (resolves 'auto').
    loss_ : {'binary_crossentropy', 'mse'}
        The loss the network was built with (resolves 'auto').
    loss_curve_ : list of float
        Training loss at the end of each epoch.
    validation_loss_curve_ : list of float or None
        Validation loss per epoch when ``early_stopping`` is True.
    best_loss_ : float
        Lowest monitored loss (validation loss with early stopping).
    n_iter_ : int
        Number of epochs run.
    n_features_in_ : int
        Number of values per image, ``prod(image_shape_)``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string feature names.

    See Also
    --------
    StackedAE : Dense autoencoder.
    DenoisingAE : Dense autoencoder trained on corrupted inputs.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import ConvolutionalAE
    >>> X = load_digits().data / 16  # 8 x 8 images as rows of 64 pixels
    >>> cae = ConvolutionalAE(image_shape=(8, 8), epochs=2, random_state=0)
    >>> codes = cae.fit_transform(X)  # a short training, enough for the example
    >>> codes.shape  # 8 -> 4 -> 2 -> 1 pixels, 8 filters
    (1797, 8)
    >>> images = X.reshape(-1, 8, 8, 1)
    >>> cae.fit(images).inverse_transform(cae.transform(images)).shape
    (1797, 8, 8, 1)
    """

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "image_shape": ["array-like", None],
        "filters": [StrOptions({"auto"}), "array-like"],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "code_activation": [str],
        "loss": [StrOptions({"auto", *_LOSSES})],
    }
    _network_param_names = [
        *BaseAutoencoder._network_param_names,
        "image_shape",
        "filters",
        "kernel_size",
        "code_activation",
    ]

    def __init__(
        self,
        n_components=None,
        *,
        image_shape=None,
        filters="auto",
        kernel_size=3,
        activation="relu",
        code_activation="linear",
        output_activation="auto",
        loss="auto",
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
        self.image_shape = image_shape
        self.filters = filters
        self.kernel_size = kernel_size
        self.activation = activation
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.loss = loss
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

    # ------------------------------------------------------------------ validation
    def _check_X(self, X, *, reset):
        # The base validates 2-D rows: flatten image arrays first and remember their shape.
        # Sparse matrices are 2-D; other array-likes without ndim are left to validate_data.
        images = None
        ndim = np.ndim(X) if isinstance(X, (list, tuple)) else getattr(X, "ndim", 2)
        if ndim == 4:
            X = np.asarray(X)
            images = tuple(int(size) for size in X.shape[1:])
            X = X.reshape(X.shape[0], -1)
        elif ndim > 2:
            raise ValueError(
                f"{type(self).__name__} expects flattened images (2-D) or images of shape "
                f"(n_samples, height, width, channels) (4-D); got a {ndim}-D array."
            )
        X = super()._check_X(X, reset=reset)
        if reset:
            self.image_shape_ = self._resolve_image_shape(images, X.shape[1])
            self.input_ndim_ = 2 if images is None else 4
        elif images is not None and images != self.image_shape_:
            raise ValueError(
                f"X holds images of shape {images}, but {type(self).__name__} was fitted on "
                f"images of shape {self.image_shape_}."
            )
        return X

    def _resolve_image_shape(self, images, n_features):
        if self.image_shape is None:
            return images if images is not None else (1, n_features, 1)
        shape = tuple(self.image_shape)
        if len(shape) == 2:
            shape = (*shape, 1)
        if len(shape) != 3 or not all(
            isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in shape
        ):
            raise ValueError(
                "image_shape must be (height, width, channels) or (height, width) of positive "
                f"integers; got {self.image_shape!r}."
            )
        shape = tuple(int(s) for s in shape)
        if images is not None and images != shape:
            raise ValueError(
                f"X holds images of shape {images}, which does not match "
                f"image_shape={self.image_shape!r}."
            )
        if prod(shape) != n_features:
            raise ValueError(
                f"image_shape={self.image_shape!r} holds {prod(shape)} values per image, but X "
                f"has {n_features} features."
            )
        return shape

    def _filters(self):
        """``filters`` with 'auto' made concrete (see the class's docstring)."""
        if isinstance(self.filters, str):  # 'auto'
            return (32, 32, 8) if self.n_components is None else (16, 32)
        return self.filters

    def _check_family_params(self, X):
        filters = self._filters()
        if len(filters) == 0 or not all(
            isinstance(f, Integral) and not isinstance(f, bool) and f > 0 for f in filters
        ):
            raise ValueError(
                f"filters must be a non-empty sequence of positive integers; got {filters!r}."
            )
        try:
            keras.activations.get(self.code_activation)
        except (ValueError, TypeError):
            raise ValueError(f"Unknown code_activation {self.code_activation!r}.") from None
        if self.loss == "auto" and self.output_activation == "sigmoid":
            _require_unit_interval(
                X,
                "loss='auto' with output_activation='sigmoid' is binary cross-entropy, which",
                " Scale it (e.g. MinMaxScaler) or use loss='mse'.",
            )

    def _check_resume_data(self, X):
        super()._check_resume_data(X)
        # loss='auto' was resolved with the network: binary cross-entropy stays [0, 1]-only.
        if self._training_loss() == _LOSSES["binary_crossentropy"]:
            _require_unit_interval(
                X, f"This {type(self).__name__} was fitted with binary cross-entropy, which"
            )

    def _training_loss(self):
        return _LOSSES[self.loss_ if self.loss == "auto" else self.loss]

    def _check_fitted_state(self, network):
        # A saved image shape must be the one fit would resolve from the parameters.
        images = self.image_shape_ if self.input_ndim_ == 4 else None
        if self._resolve_image_shape(images, self.n_features_in_) != self.image_shape_:
            raise ValueError(
                f"image_shape_={self.image_shape_} disagrees with image_shape="
                f"{self.image_shape!r} and n_features_in_={self.n_features_in_}."
            )
        return super()._check_fitted_state(network)

    def _network_attributes(self):
        # loss_ is set again when the network is rebuilt from the saved output_activation_.
        return (*super()._network_attributes(), "loss_")

    # ------------------------------------------------------------------ network
    def _build_layers(self, input_shape, output_activation, seeds):
        height, width, channels = self.image_shape_
        # Set with the network (a failed fit restores the previous state), kept by warm starts.
        if self.loss == "auto":
            self.loss_ = "binary_crossentropy" if output_activation == "sigmoid" else "mse"
        else:
            self.loss_ = self.loss
        # Python numbers: Keras refuses NumPy scalars, which grids such as np.arange(8, 33, 8) give.
        filters = [int(f) for f in self._filters()]
        kernel_size = int(self.kernel_size)
        regularizer = keras.regularizers.L2(float(self.l2)) if self.l2 > 0 else None

        def conv(n_filters, activation, name):
            return keras.layers.Conv2D(
                n_filters,
                kernel_size,
                padding="same",
                activation=activation,
                kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
                kernel_regularizer=regularizer,
                name=name,
            )

        def dense(units, activation, name):
            return keras.layers.Dense(
                units,
                activation=activation,
                kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
                kernel_regularizer=regularizer,
                name=name,
            )

        layers = {"to_image": keras.layers.Reshape(self.image_shape_, name="to_image")}
        sizes = [(height, width)]  # input size of each encoder block, then the code's
        for i, n_filters in enumerate(filters):
            is_code = i == len(filters) - 1 and self.n_components is None
            activation = self.code_activation if is_code else self.activation
            layers[f"encoder_conv_{i}"] = conv(n_filters, activation, f"encoder_conv_{i}")
            layers[f"encoder_pool_{i}"] = keras.layers.MaxPooling2D(
                2, padding="same", name=f"encoder_pool_{i}"
            )
            sizes.append((ceil(sizes[-1][0] / 2), ceil(sizes[-1][1] / 2)))
        code_shape = (*sizes[-1], filters[-1])
        layers["flatten_code"] = keras.layers.Flatten(name="flatten_code")
        if self.n_components is not None:
            layers["code"] = dense(int(self.n_components), self.code_activation, "code")
            layers["expand_code"] = dense(prod(code_shape), self.activation, "expand_code")
        layers["to_code_maps"] = keras.layers.Reshape(code_shape, name="to_code_maps")
        # Decoder block j mirrors encoder block n - 1 - j: it outputs what that block received,
        # and the last one the image, with the output activation.
        decoder_filters = [*reversed(filters[:-1]), channels]
        for j, n_filters in enumerate(decoder_filters):
            last = j == len(decoder_filters) - 1
            layers[f"decoder_upsample_{j}"] = keras.layers.UpSampling2D(
                2, name=f"decoder_upsample_{j}"
            )
            # Upsampling doubles the size; pooling had rounded odd sizes up.
            (low_h, low_w), (target_h, target_w) = sizes[-1 - j], sizes[-2 - j]
            crop = (2 * low_h - target_h, 2 * low_w - target_w)
            if crop != (0, 0):
                layers[f"decoder_crop_{j}"] = keras.layers.Cropping2D(
                    ((0, crop[0]), (0, crop[1])), name=f"decoder_crop_{j}"
                )
            layers[f"decoder_conv_{j}"] = conv(
                n_filters, output_activation if last else self.activation, f"decoder_conv_{j}"
            )
        layers["to_rows"] = keras.layers.Flatten(name="to_rows")
        return layers

    def _encode(self, layers, x):
        x = layers["to_image"](x)
        i = 0
        while f"encoder_conv_{i}" in layers:
            x = layers[f"encoder_pool_{i}"](layers[f"encoder_conv_{i}"](x))
            i += 1
        x = layers["flatten_code"](x)
        return layers["code"](x) if "code" in layers else x

    def _decode(self, layers, z):
        if "expand_code" in layers:
            z = layers["expand_code"](z)
        z = layers["to_code_maps"](z)
        j = 0
        while f"decoder_conv_{j}" in layers:
            z = layers[f"decoder_upsample_{j}"](z)
            if f"decoder_crop_{j}" in layers:
                z = layers[f"decoder_crop_{j}"](z)
            z = layers[f"decoder_conv_{j}"](z)
            j += 1
        return layers["to_rows"](z)

    @property
    def _n_features_out(self):
        return int(self.encoder_.outputs[0].shape[-1])

    # ------------------------------------------------------------------ inference
    def inverse_transform(self, X):
        """Decode codes back to images.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_codes)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_reconstructed : ndarray
            Of shape (n_samples, height, width, channels) if the estimator
            was fitted on 4-D images, else (n_samples, n_features).
        """
        decoded = super().inverse_transform(X)
        if self.input_ndim_ == 4:
            return decoded.reshape(decoded.shape[0], *self.image_shape_)
        return decoded
