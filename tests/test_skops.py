"""A whole Pipeline saved with skops and loaded back with an explicit list of trusted types."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skae import ConvolutionalAE, EncoderClassifier, StackedAE, VariationalAE

sio = pytest.importorskip("skops.io")

TINY = dict(n_components=4, hidden_layer_sizes=(8,), epochs=2, batch_size=32, random_state=0)


@pytest.fixture(autouse=True)
def _quiet(no_convergence_warnings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the unlabeled rows, said once
        yield


@pytest.fixture(scope="module")
def data(digits):
    X_train, X_test, y_train, _ = digits
    return X_train[:300] * 16, y_train[:300], X_test[:50] * 16


@pytest.mark.parametrize(
    "autoencoder, trusted",
    [
        (StackedAE(**TINY), "skae._stacked.StackedAE"),
        (VariationalAE(**TINY), "skae._variational.VariationalAE"),
        (
            ConvolutionalAE(image_shape=(8, 8), filters=(2,), epochs=2, random_state=0),
            "skae._convolutional.ConvolutionalAE",
        ),
    ],
    ids=["StackedAE", "VariationalAE", "ConvolutionalAE"],
)
def test_pipeline_round_trip_with_a_trusted_list(autoencoder, trusted, data, tmp_path):
    X, y, X_test = data
    pipe = make_pipeline(MinMaxScaler(), autoencoder, LogisticRegression(max_iter=500)).fit(X, y)
    path = tmp_path / "pipe.skops"
    sio.dump(pipe, path)
    # The autoencoder is the only type skops does not trust by default; its network is
    # stored as .keras bytes and rebuilt in Keras's safe mode.
    assert sio.get_untrusted_types(file=path) == [trusted]
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.load(path)
    loaded = sio.load(path, trusted=[trusted])
    np.testing.assert_array_equal(loaded.predict(X_test), pipe.predict(X_test))
    np.testing.assert_array_equal(loaded[:2].transform(X_test), pipe[:2].transform(X_test))
    # The loaded autoencoder trains further.
    loaded[1].partial_fit(loaded[0].transform(X))
    assert loaded[1].n_iter_ == pipe[1].n_iter_ + 1


def test_encoder_classifier_in_a_pipeline(data, tmp_path):
    X, y, X_test = data
    y_partial = y.copy()
    y_partial[100:] = -1
    clf = EncoderClassifier(StackedAE(**TINY), epochs=2, random_state=0)
    pipe = make_pipeline(MinMaxScaler(), clf).fit(X, y_partial)
    path = tmp_path / "clf.skops"
    sio.dump(pipe, path)
    trusted = ["skae._classifier.EncoderClassifier", "skae._stacked.StackedAE"]
    assert sorted(sio.get_untrusted_types(file=path)) == trusted
    loaded = sio.load(path, trusted=trusted)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), pipe.predict_proba(X_test))
