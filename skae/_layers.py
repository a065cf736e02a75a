"""Small, registered, serialisable Keras layers used by the skae networks.

Every layer here is built from ``keras.ops`` only, so it runs on any Keras
backend, and is registered under the ``skae`` package so that saved models load
in Keras's safe mode without ``custom_objects`` and without ``Lambda`` layers.
"""

import math

import keras
from keras import ops

__all__ = [
    "GaussianNoise",
    "MaskingNoise",
    "NegativeELBO",
    "Sampling",
    "SparsityPenalty",
    "TiedDense",
]

_PACKAGE = "skae"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class GaussianNoise(keras.layers.Layer):
    """Additive zero-mean gaussian noise, active only while training.

    Unlike ``keras.layers.GaussianNoise`` any positive standard deviation is
    accepted (unscaled data needs more than 1), and the noisy values can be
    clipped to a range, e.g. the training data's, so corrupted pixels stay
    valid pixels.

    Parameters
    ----------
    stddev : float
        Standard deviation of the noise.
    clip_min, clip_max : float or None
        Bounds applied to the noisy values; ``None`` leaves that side open.
    seed : int or None
        Seed of the layer's own ``keras.random.SeedGenerator``.
    """

    def __init__(self, stddev, clip_min=None, clip_max=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not stddev > 0:
            raise ValueError(f"stddev must be positive, got {stddev!r}.")
        self.stddev = float(stddev)
        self.clip_min = None if clip_min is None else float(clip_min)
        self.clip_max = None if clip_max is None else float(clip_max)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training:
            return inputs
        noisy = inputs + keras.random.normal(
            ops.shape(inputs), stddev=self.stddev, dtype=inputs.dtype, seed=self.seed_generator
        )
        if self.clip_min is not None or self.clip_max is not None:
            low = -float("inf") if self.clip_min is None else self.clip_min
            high = float("inf") if self.clip_max is None else self.clip_max
            noisy = ops.clip(noisy, low, high)
        return noisy

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            stddev=self.stddev, clip_min=self.clip_min, clip_max=self.clip_max, seed=self.seed
        )
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskingNoise(keras.layers.Layer):
    """Masking (dropout) corruption: each input value is set to zero with
    probability ``rate`` while training.

    Unlike ``keras.layers.Dropout`` the kept values are *not* rescaled by
    ``1 / (1 - rate)``: the denoising autoencoder must learn to fill in
    missing values, not to undo a rescaling.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"rate must be in [0, 1), got {rate!r}.")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) >= self.rate
        return ops.where(keep, inputs, ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SparsityPenalty(keras.layers.Layer):
    """Identity layer that adds a sparsity penalty on its input activations.

    The penalty is ``weight * sum_j KL(target || mean_j)`` where ``mean_j`` is
    unit ``j``'s mean activation over the batch (the classic sparse
    autoencoder term; activations must lie in (0, 1), e.g. a sigmoid code),
    plus ``l1 * mean over the batch of sum_j |a_j|``.

    The penalty is one value for the batch, not a sum over rows, so sample
    weights do not enter it.

    A layer rather than ``activity_regularizer``: Keras divides activity
    regularisers by the batch size, which would make the batch-level KL term
    depend on ``batch_size``.
    """

    def __init__(self, target=0.05, weight=0.0, l1=0.0, **kwargs):
        super().__init__(**kwargs)
        if not 0 < target < 1:
            raise ValueError(f"target must be in (0, 1), got {target!r}.")
        self.target = float(target)
        self.weight = float(weight)
        self.l1 = float(l1)
        self.built = True

    def call(self, inputs, training=False):
        if training:
            self.add_loss(self.penalty(inputs))
        return inputs

    def penalty(self, activations):
        """The penalty for a batch of activations, as a scalar tensor."""
        total = ops.convert_to_tensor(0.0, dtype=activations.dtype)
        if self.weight > 0:
            eps = 1e-7
            mean = ops.clip(ops.mean(activations, axis=0), eps, 1 - eps)
            rho = self.target
            kl = rho * ops.log(rho / mean) + (1 - rho) * ops.log((1 - rho) / (1 - mean))
            total = total + self.weight * ops.sum(kl)
        if self.l1 > 0:
            total = total + self.l1 * ops.mean(ops.sum(ops.abs(activations), axis=-1))
        return total

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(target=self.target, weight=self.weight, l1=self.l1)
        return config


def _matmul_transposed(inputs, kernel):
    """``inputs @ kernel.T``."""
    kernel = ops.convert_to_tensor(kernel)  # the variable's value, autocast under mixed precision
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Keras's matmul of a transposed kernel made StackedAE's digits epochs 21 ms against
        # 17 ms with MatMul's own transpose_b (and untied kernels); JAX and PyTorch fold it.
        return tf.linalg.matmul(inputs, kernel, transpose_b=True)
    return ops.matmul(inputs, ops.transpose(kernel))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TiedDense(keras.layers.Layer):
    """A dense layer whose transpose serves as its mirrored decoder layer.

    Called normally it computes ``activation(x @ kernel + bias)``; called with
    ``transpose=True`` it computes ``transpose_activation(x @ kernel.T +
    transpose_bias)``. Using the *same* layer object on both sides of a
    functional autoencoder ties the weights: one kernel, two biases, and the
    tie survives saving because Keras serialises shared layers once.

    Parameters
    ----------
    units : int
        Output size of the forward (encoder) direction.
    activation, transpose_activation : str or None
        Activations of the forward and transposed directions.
    kernel_initializer, kernel_regularizer, bias_initializer
        As in ``keras.layers.Dense``.
    """

    def __init__(
        self,
        units,
        activation=None,
        transpose_activation=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.transpose_activation = keras.activations.get(transpose_activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.bias = self.add_weight(
            name="bias", shape=(self.units,), initializer=self.bias_initializer
        )
        self.transpose_bias = self.add_weight(
            name="transpose_bias", shape=(input_dim,), initializer=self.bias_initializer
        )
        self.built = True

    def call(self, inputs, transpose=False):
        if transpose:
            outputs = _matmul_transposed(inputs, self.kernel) + self.transpose_bias
            return self.transpose_activation(outputs)
        return self.activation(ops.matmul(inputs, self.kernel) + self.bias)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=keras.activations.serialize(self.activation),
            transpose_activation=keras.activations.serialize(self.transpose_activation),
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
        )
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Sampling(keras.layers.Layer):
    """Reparameterised draw from a diagonal gaussian, active only while training.

    Called on ``[z_mean, z_log_var]``, it returns
    ``z_mean + exp(z_log_var / 2) * epsilon`` with ``epsilon`` standard
    normal while training (the reparameterisation trick: gradients flow to
    both inputs), and ``z_mean`` otherwise, so inference is deterministic.

    Parameters
    ----------
    seed : int or None
        Seed of the layer's own ``keras.random.SeedGenerator``.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def call(self, inputs, training=False):
        z_mean, z_log_var = inputs
        if not training:
            return z_mean
        epsilon = keras.random.normal(
            ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator
        )
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NegativeELBO(keras.layers.Layer):
    """Identity on a VAE's reconstruction that adds the negative ELBO as a loss.

    Called on ``[x, reconstruction, z_mean, z_log_var]``, it returns
    ``reconstruction`` and adds, per sample and in nats,

    ``-log p(x | z) + beta * KL(N(z_mean, exp(z_log_var)) || N(0, I))``

    to the model's losses: a tensor of shape ``(batch,)``, which skae's
    training engine averages over the batch, weighted by the rows' sample
    weights when there are some (Keras's own ``Model.fit`` would sum it). The likelihood is
    ``'bernoulli'`` (binary cross-entropy summed over features; ``x`` in
    [0, 1], ``reconstruction`` the probabilities) or ``'gaussian'`` with unit
    variance (half the summed squared error plus ``n_features / 2 *
    log(2 pi)``). The loss is added in inference mode too, so a validation
    loss is the same quantity.

    Parameters
    ----------
    likelihood : {'bernoulli', 'gaussian'}
    beta : float
        Weight of the KL term (1 gives the ELBO).
    """

    def __init__(self, likelihood="bernoulli", beta=1.0, **kwargs):
        super().__init__(**kwargs)
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}.")
        if not beta >= 0:
            raise ValueError(f"beta must be non-negative, got {beta!r}.")
        self.likelihood = likelihood
        self.beta = float(beta)
        self.built = True

    def call(self, inputs):
        x, reconstruction, z_mean, z_log_var = inputs
        # Per row, not the batch mean: the engine weights rows (sample_weight) before averaging.
        self.add_loss(self.negative_elbo(x, reconstruction, z_mean, z_log_var))
        return reconstruction

    def reconstruction_nll(self, x, reconstruction):
        """``-log p(x | z)`` per sample, in nats."""
        if self.likelihood == "bernoulli":
            return ops.sum(ops.binary_crossentropy(x, reconstruction), axis=-1)
        n_features = ops.cast(ops.shape(x)[-1], x.dtype)
        squared_error = ops.sum(ops.square(x - reconstruction), axis=-1)
        return 0.5 * squared_error + 0.5 * math.log(2 * math.pi) * n_features

    @staticmethod
    def kl_divergence(z_mean, z_log_var):
        """``KL(N(z_mean, exp(z_log_var)) || N(0, I))`` per sample, in nats."""
        return -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)

    def negative_elbo(self, x, reconstruction, z_mean, z_log_var):
        """The loss per sample: reconstruction term plus ``beta`` times the KL term."""
        return self.reconstruction_nll(x, reconstruction) + self.beta * self.kl_divergence(
            z_mean, z_log_var
        )

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        config = super().get_config()
        config.update(likelihood=self.likelihood, beta=self.beta)
        return config
