"""The linear autoencoder spans the subspace of PCA's components."""

import warnings

import keras
import numpy as np
import pytest
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

from skae import StackedAE


def linear_autoencoder(n_components, **params):
    """The linear autoencoder, as documented in StackedAE's docstring."""
    return StackedAE(
        n_components,
        hidden_layer_sizes=(),
        tied_weights=False,
        activation="linear",
        code_activation="linear",
        output_activation="linear",
        random_state=0,
        **params,
    )


def largest_angle_to_pca(ae, X, n_components):
    """Largest principal angle, in degrees, between the decoder's subspace and PCA's."""
    kernel = keras.ops.convert_to_numpy(ae.model_.get_layer("decoder_0").kernel)
    assert kernel.shape == (n_components, X.shape[1])
    # The same subspace, seen from outside: decoded unit codes minus the decoded zero code.
    decoded = ae.inverse_transform(np.vstack([np.eye(n_components), np.zeros(n_components)]))
    np.testing.assert_allclose(decoded[:-1] - decoded[-1], kernel, rtol=1e-3, atol=1e-4)
    components = PCA(n_components).fit(X).components_
    return np.degrees(subspace_angles(kernel.T, components.T).max())


def _fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


# Full-batch Adam: minibatch gradient noise keeps the decoder a few degrees away from PCA's
# subspace where the variances either side of n_components are close (digits: 2.02 and 1.85).
# A fixed budget: the loss plateaus for a while before the last directions line up.
FULL_BATCH = dict(
    batch_size=2000,
    learning_rate=0.1,
    learning_rate_schedule="constant",
    epochs=150,
    n_iter_no_change=150,
)


@pytest.mark.parametrize(
    ("data", "n_components"), [("standardized_digits", 8), ("curved_sheet", 2)]
)
def test_linear_autoencoder_spans_the_pca_subspace(request, data, n_components):
    X = request.getfixturevalue(data)
    assert X.shape[0] <= FULL_BATCH["batch_size"]
    ae = _fit(linear_autoencoder(n_components, **FULL_BATCH), X)
    assert largest_angle_to_pca(ae, X, n_components) < 5.0
