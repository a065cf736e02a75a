"""Continuing training (warm_start, partial_fit) after set_params changed the network."""

import numpy as np
import pytest

from skae import ConvolutionalAE, StackedAE, VariationalAE

from .conftest import optimizer_steps

TINY = dict(n_components=4, hidden_layer_sizes=(8,), epochs=2, batch_size=16, random_state=0)
CHANGES = {
    "n_components": 6,
    "hidden_layer_sizes": (8, 6),
}


pytestmark = pytest.mark.usefixtures("no_convergence_warnings")


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).random((64, 12))


def continue_training(estimator, how, X):
    if how == "partial_fit":
        return estimator.partial_fit(X)
    return estimator.set_params(warm_start=True).fit(X)


@pytest.mark.parametrize("how", ["fit", "partial_fit"])
@pytest.mark.parametrize("param", CHANGES)
def test_continuing_after_a_network_parameter_changed_is_refused(param, how, X):
    ae = StackedAE(**TINY)
    ae.fit(X) if how == "fit" else ae.partial_fit(X)
    codes = ae.transform(X)
    steps = optimizer_steps(ae)

    ae.set_params(**{param: CHANGES[param]}, warm_start=how == "fit")
    state = dict(ae.__dict__)
    with pytest.raises(ValueError, match=rf"warm_start and partial_fit .* `{param}` does not"):
        continue_training(ae, how, X)
    # Left as it was: the same network, weights and fitted attributes.
    assert ae.__dict__.keys() == state.keys()
    assert all(ae.__dict__[k] is v for k, v in state.items())
    assert optimizer_steps(ae) == steps
    np.testing.assert_array_equal(ae.transform(X), codes)

    # Back to the old value it continues; a fresh fit builds the new network.
    ae.set_params(**{param: TINY[param]})
    continue_training(ae, how, X)
    assert optimizer_steps(ae) > steps
    ae.set_params(**{param: CHANGES[param]}, warm_start=False).fit(X)
    n_components = ae.get_params()["n_components"]
    assert ae.transform(X).shape == (len(X), n_components)
    assert len(ae.get_feature_names_out()) == n_components
    assert ae.inverse_transform(ae.transform(X)).shape == X.shape


def test_the_message_names_every_changed_parameter_with_both_values(X):
    ae = StackedAE(**TINY).fit(X)
    ae.set_params(n_components=6, activation="tanh", warm_start=True)
    with pytest.raises(ValueError) as error:
        ae.fit(X)
    message = str(error.value)
    assert "`n_components`, `activation`" in message
    assert "n_components=4 (now 6)" in message
    assert "activation='elu' (now 'tanh')" in message


def test_training_parameters_and_equal_values_may_change(X):
    ae = StackedAE(**TINY, warm_start=True).fit(X)
    steps = optimizer_steps(ae)
    # Same values in other types (NumPy, lists) and parameters of the training loop only.
    ae.set_params(
        n_components=np.int64(4),
        hidden_layer_sizes=[np.int32(8)],
        epochs=1,
        batch_size=32,
        tol=1e-3,
        shuffle=False,
    )
    ae.fit(X).partial_fit(X)
    assert optimizer_steps(ae) == steps + 2 + 2


@pytest.mark.parametrize(
    "make, param, value",
    [
        (lambda: VariationalAE(**TINY), "beta", 2.0),
        (lambda: VariationalAE(**TINY), "learning_rate", 1e-2),
        (
            lambda: ConvolutionalAE(
                image_shape=(3, 4), filters=(2,), epochs=1, batch_size=16, random_state=0
            ),
            "filters",
            (3,),
        ),
    ],
    ids=["VariationalAE-beta", "VariationalAE-learning_rate", "ConvolutionalAE-filters"],
)
def test_other_families_refuse_their_network_parameters(make, param, value, X):
    ae = make().fit(X)
    codes = ae.transform(X)
    ae.set_params(**{param: value})
    with pytest.raises(ValueError, match=f"`{param}`"):
        ae.partial_fit(X)
    np.testing.assert_array_equal(ae.transform(X), codes)
