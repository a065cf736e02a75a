"""The custom Keras layers: config round trips, training-only noise, seeds, the KL penalty."""

import keras
import numpy as np
import pytest

from skae._layers import GaussianNoise, MaskingNoise, SparsityPenalty, TiedDense


def _round_trip(layer):
    """The layer rebuilt through Keras's registered serialisation (what a saved model uses)."""
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()
    return restored


def _kl_penalty(activations, target, weight, l1):
    """The classic sparse autoencoder penalty, computed with NumPy in float64."""
    mean = activations.mean(axis=0)
    kl = target * np.log(target / mean) + (1 - target) * np.log((1 - target) / (1 - mean))
    return weight * kl.sum() + l1 * np.abs(activations).sum(axis=1).mean()


@pytest.mark.parametrize(
    "layer",
    [
        GaussianNoise(0.7, clip_min=0.0, clip_max=1.0, seed=3, name="noise"),
        GaussianNoise(2.5, seed=5),
        MaskingNoise(0.25, seed=4),
        SparsityPenalty(target=0.1, weight=0.5, l1=1e-3),
    ],
    ids=["gaussian-clipped", "gaussian-unclipped", "masking", "sparsity"],
)
def test_stateless_layers_config_round_trip(layer):
    restored = _round_trip(layer)
    x = np.linspace(0, 1, 24, dtype="float32").reshape(4, 6)
    # Same config, seeds included: the same outputs, in training and in inference.
    for training in (False, True):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(layer(x, training=training)),
            keras.ops.convert_to_numpy(restored(x, training=training)),
        )


def test_tied_dense_config_round_trip():
    layer = TiedDense(
        3,
        activation="relu",
        transpose_activation="sigmoid",
        kernel_initializer=keras.initializers.GlorotUniform(seed=0),
        kernel_regularizer=keras.regularizers.L2(0.01),
        name="tied",
    )
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    layer(x)
    restored = _round_trip(layer)  # built from the saved build config, weights still fresh
    assert restored.built
    restored.set_weights(layer.get_weights())
    for transpose, inputs in ((False, x), (True, x[:, :3])):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(layer(inputs, transpose=transpose)),
            keras.ops.convert_to_numpy(restored(inputs, transpose=transpose)),
        )


def test_tied_dense_transpose_uses_the_same_kernel():
    layer = TiedDense(3, activation="linear", transpose_activation="linear")
    x = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    code = keras.ops.convert_to_numpy(layer(x))
    back = keras.ops.convert_to_numpy(layer(code, transpose=True))
    kernel, bias, transpose_bias = (keras.ops.convert_to_numpy(w) for w in layer.weights)
    assert kernel.shape == (4, 3) and bias.shape == (3,) and transpose_bias.shape == (4,)
    assert len(layer.weights) == 3  # one kernel, two biases
    np.testing.assert_allclose(code, x @ kernel + bias, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(back, code @ kernel.T + transpose_bias, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer_class", [GaussianNoise, MaskingNoise])
def test_noise_only_while_training(layer_class):
    layer = layer_class(0.5, seed=0)
    x = np.full((200, 10), 0.5, dtype="float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    assert not np.array_equal(keras.ops.convert_to_numpy(layer(x, training=True)), x)


@pytest.mark.parametrize("layer_class", [GaussianNoise, MaskingNoise])
def test_noise_is_reproducible_from_its_seed(layer_class):
    x = np.full((50, 8), 0.5, dtype="float32")

    def draws(seed):
        layer = layer_class(0.3, seed=seed)
        return [keras.ops.convert_to_numpy(layer(x, training=True)) for _ in range(2)]

    first, again, other = draws(7), draws(7), draws(8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])  # fresh noise on every call
    assert not np.array_equal(first[0], other[0])


def test_gaussian_noise_statistics_and_clipping():
    x = np.full((400, 50), 0.5, dtype="float32")
    # A standard deviation above 1, which keras.layers.GaussianNoise refuses.
    noise = keras.ops.convert_to_numpy(GaussianNoise(2.0, seed=0)(x, training=True)) - x
    assert abs(noise.mean()) < 0.05 and abs(noise.std() - 2.0) < 0.05
    clipped = keras.ops.convert_to_numpy(
        GaussianNoise(2.0, clip_min=0.0, clip_max=1.0, seed=0)(x, training=True)
    )
    assert clipped.min() == 0.0 and clipped.max() == 1.0


def test_masking_noise_zeroes_without_rescaling():
    x = np.random.default_rng(0).uniform(0.1, 1.0, size=(400, 50)).astype("float32")
    out = keras.ops.convert_to_numpy(MaskingNoise(0.3, seed=0)(x, training=True))
    zeroed = out == 0
    assert abs(zeroed.mean() - 0.3) < 0.02
    np.testing.assert_array_equal(out[~zeroed], x[~zeroed])  # kept values are not rescaled


@pytest.mark.parametrize(
    ("target", "weight", "l1"),
    [(0.05, 0.1, 0.0), (0.2, 3.0, 0.0), (0.1, 0.5, 0.01), (0.1, 0.0, 0.1)],
)
def test_sparsity_penalty_matches_the_kl_formula(target, weight, l1):
    activations = np.random.default_rng(0).uniform(0.01, 0.6, size=(32, 12))
    layer = SparsityPenalty(target=target, weight=weight, l1=l1)
    penalty = float(keras.ops.convert_to_numpy(layer.penalty(activations.astype("float32"))))
    expected = _kl_penalty(activations, target, weight, l1)
    assert penalty == pytest.approx(expected, rel=1e-5)


def test_sparsity_penalty_is_added_only_while_training():
    activations = np.random.default_rng(0).uniform(0.1, 0.9, size=(16, 4)).astype("float32")
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, SparsityPenalty(target=0.1, weight=1.0)(inputs))
    # The layer is the identity on its inputs; the penalty goes to the model's losses.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(activations)), activations)
    assert model.losses == []
    model(activations, training=True)
    (loss,) = model.losses
    expected = _kl_penalty(activations.astype("float64"), 0.1, 1.0, 0.0)
    assert float(keras.ops.convert_to_numpy(loss)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    ("make_layer", "message"),
    [
        (lambda: GaussianNoise(0.0), "stddev"),
        (lambda: MaskingNoise(1.0), "rate"),
        (lambda: SparsityPenalty(target=1.0), "target"),
    ],
)
def test_invalid_layer_arguments(make_layer, message):
    with pytest.raises(ValueError, match=message):
        make_layer()
