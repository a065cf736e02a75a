"""StackedAE(tied_weights=True): each decoder kernel is its mirrored encoder kernel transposed."""

import pickle
import warnings

import keras
import numpy as np
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning

from skae import StackedAE

# ReLU: _numpy_decoder recomputes the decoder with it.
SETTINGS = dict(
    n_components=8, hidden_layer_sizes=(32,), activation="relu", epochs=15, random_state=0
)


def _fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


def _numpy_decoder(ae, codes):
    """The decoder computed from the *encoder's* kernels transposed, and the decoder biases.

    SETTINGS' network: code -> relu(code @ W1.T + b1') -> sigmoid(h @ W0.T + b0'), where
    W_i is encoder layer i's kernel and b_i' its separate decoder bias.
    """
    layers = [ae.encoder_.get_layer(f"encoder_{i}") for i in range(2)]
    (W0, _, b0), (W1, _, b1) = (
        [keras.ops.convert_to_numpy(w) for w in layer.weights] for layer in layers
    )
    hidden = np.maximum(codes @ W1.T + b1, 0)
    return expit(hidden @ W0.T + b0)


def test_parameter_count_is_the_untied_count_minus_the_decoder_kernels(small_digits):
    X_train, _ = small_digits
    untied = _fit(StackedAE(**{**SETTINGS, "epochs": 1}, tied_weights=False), X_train)
    tied = _fit(StackedAE(**{**SETTINGS, "epochs": 1}, tied_weights=True), X_train)
    decoder_kernels = sum(
        int(np.prod(layer.kernel.shape))
        for layer in untied.model_.layers
        if layer.name.startswith("decoder_")
    )
    assert decoder_kernels == 8 * 32 + 32 * 64
    assert tied.model_.count_params() == untied.model_.count_params() - decoder_kernels
    # One kernel and two biases (encoder, decoder) per tied layer.
    assert [w.shape for w in tied.model_.trainable_weights] == [
        (64, 32),
        (32,),
        (64,),
        (32, 8),
        (8,),
        (32,),
    ]


def test_decoder_is_the_transposed_encoder_after_training_and_pickling(small_digits):
    X_train, X_test = small_digits
    ae = _fit(StackedAE(**SETTINGS, tied_weights=True), X_train)
    codes = ae.transform(X_test)
    np.testing.assert_allclose(
        ae.inverse_transform(codes), _numpy_decoder(ae, codes), rtol=1e-4, atol=1e-5
    )

    restored = pickle.loads(pickle.dumps(ae))
    for name in ("encoder_0", "encoder_1"):
        # Encoder and decoder share one kernel variable, not two equal copies.
        assert restored.decoder_.get_layer(name).kernel is restored.encoder_.get_layer(name).kernel
    np.testing.assert_allclose(restored.inverse_transform(codes), ae.inverse_transform(codes))
    np.testing.assert_allclose(
        restored.inverse_transform(codes), _numpy_decoder(restored, codes), rtol=1e-4, atol=1e-5
    )

    # Training the restored estimator further moves encoder and decoder together.
    restored.partial_fit(X_train)
    assert not np.allclose(restored.transform(X_test), codes)
    codes = restored.transform(X_test)
    np.testing.assert_allclose(
        restored.inverse_transform(codes), _numpy_decoder(restored, codes), rtol=1e-4, atol=1e-5
    )


def test_saved_file_keeps_the_tie(small_digits, tmp_path):
    import skae

    X_train, X_test = small_digits
    ae = _fit(StackedAE(**{**SETTINGS, "epochs": 2}, tied_weights=True), X_train)
    ae.save(tmp_path / "tied.skae")
    loaded = skae.load(tmp_path / "tied.skae")
    assert loaded.model_.count_params() == ae.model_.count_params()
    for name in ("encoder_0", "encoder_1"):
        assert loaded.decoder_.get_layer(name).kernel is loaded.encoder_.get_layer(name).kernel
    codes = loaded.transform(X_test)
    np.testing.assert_array_equal(codes, ae.transform(X_test))
    np.testing.assert_allclose(
        loaded.inverse_transform(codes), _numpy_decoder(loaded, codes), rtol=1e-4, atol=1e-5
    )
