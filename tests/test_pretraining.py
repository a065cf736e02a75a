"""Greedy layer-wise pretraining of the stacked autoencoders (pretrain='greedy')."""

import warnings

import keras
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import skae._stacked
from skae import StackedAE


class RecordingAE(StackedAE):
    """A StackedAE that records every layer's weights around each pretraining phase and
    after pretraining, each phase's inputs, and the lower layers' codes computed directly."""

    def _pretrain_phase(self, layers, i, inputs, seeds, weights=None):
        before = _weights(layers)
        expected = self.X_seen_
        for j in range(i):
            expected = keras.ops.convert_to_numpy(layers[f"encoder_{j}"](expected))
        curve = super()._pretrain_phase(layers, i, inputs, seeds, weights)
        self.phases_.append(
            {"before": before, "after": _weights(layers), "inputs": inputs, "expected": expected}
        )
        return curve

    def _pretrain(self, layers, X, rows, seeds, sample_weight=None):
        self.phases_, self.X_seen_ = [], np.asarray(X[rows], dtype="float32")
        super()._pretrain(layers, X, rows, seeds, sample_weight)
        self.pretrained_weights_ = _weights(layers)


def _weights(layers):
    return {
        name: [keras.ops.convert_to_numpy(w).copy() for w in layer.weights]
        for name, layer in layers.items()
    }


def _fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


@pytest.fixture
def count_cached_codes(monkeypatch):
    """Record the layer passed to each predict_in_chunks call made by skae._stacked."""
    calls = []
    original = skae._stacked.predict_in_chunks

    def counting(function, X, *args, **kwargs):
        calls.append((function.name, X.shape))
        return original(function, X, *args, **kwargs)

    monkeypatch.setattr(skae._stacked, "predict_in_chunks", counting)
    return calls


@pytest.mark.parametrize("tied_weights", [False, True], ids=["untied", "tied"])
def test_each_phase_trains_only_its_own_layers_on_cached_codes(
    small_digits, count_cached_codes, tied_weights
):
    X_train, _ = small_digits
    ae = RecordingAE(
        n_components=4,
        hidden_layer_sizes=(24, 12),
        tied_weights=tied_weights,
        pretrain="greedy",
        pretrain_epochs=3,
        epochs=1,
        random_state=0,
    )
    _fit(ae, X_train)
    depth = 3
    assert len(ae.phases_) == depth
    assert [len(curve) for curve in ae.pretrain_loss_curves_] == [3] * depth
    for i, phase in enumerate(ae.phases_):
        own = {f"encoder_{i}"} if tied_weights else {f"encoder_{i}", f"decoder_{depth - 1 - i}"}
        changed = {
            name
            for name, weights in phase["before"].items()
            if any(
                not np.array_equal(a, b) for a, b in zip(weights, phase["after"][name], strict=True)
            )
        }
        assert changed == own, f"phase {i} changed {sorted(changed)}"
        # Phase i learns from the codes of the (already trained) layers below it.
        assert phase["inputs"].shape == phase["expected"].shape
        np.testing.assert_allclose(phase["inputs"], phase["expected"], rtol=1e-5, atol=1e-6)
    # Those codes are computed once per phase (one layer applied to the previous phase's
    # cached codes), not once per epoch: phases 1 and 2 each made one predict_in_chunks call.
    assert count_cached_codes == [("encoder_0", (300, 64)), ("encoder_1", (300, 24))]


def test_fine_tuning_reconstructs_at_least_as_well_as_pretraining(digits):
    X_train, X_test, _, _ = digits
    ae = RecordingAE(
        n_components=8,
        hidden_layer_sizes=(48, 24),
        pretrain="greedy",
        pretrain_epochs=10,
        epochs=30,
        random_state=0,
    )
    _fit(ae, X_train)
    for curve in ae.pretrain_loss_curves_:
        assert curve[-1] < curve[0]  # every phase learned something
    fine_tuned = ae.score(X_test)
    for name, weights in ae.pretrained_weights_.items():
        ae.model_.get_layer(name).set_weights(weights)
    pretrained = ae.score(X_test)
    assert -fine_tuned <= -pretrained
