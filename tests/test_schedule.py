"""The dense families' training defaults: the cosine schedule, epochs='auto', a relative tol,
and a ConvergenceWarning only where the budget was too short."""

import math
import warnings

import keras
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skae import DenoisingAE, SparseAE, StackedAE
from skae._data import AUTO_EPOCHS, AUTO_STEPS, resolve_batch_size, resolve_epochs
from skae._engine import TrainingResult, _Monitor, annealed_gain, learning_rates


class RecordRates(keras.callbacks.Callback):
    """The optimizer's learning rate during each epoch."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_epoch_begin(self, epoch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def small(**params):
    settings = dict(n_components=4, hidden_layer_sizes=(16,), random_state=0)
    settings.update(params)
    return StackedAE(**settings)


def test_cosine_schedule_warms_up_then_anneals_to_zero():
    rates = learning_rates(5e-3, 40, "cosine")
    assert len(rates) == 40
    warmup = round(0.08 * 40)
    assert rates[:warmup] == sorted(rates[:warmup]) and rates[warmup - 1] < 5e-3
    assert rates[warmup:] == sorted(rates[warmup:], reverse=True)
    assert rates[warmup] == pytest.approx(5e-3, rel=1e-2)  # the peak follows the warm-up
    assert rates[-1] < 1e-3 * 5e-3  # annealed: each epoch at its midpoint's rate
    assert learning_rates(5e-3, 7, "constant") == [5e-3] * 7
    assert learning_rates(5e-3, 1, "cosine") == [5e-3]


@pytest.mark.usefixtures("no_convergence_warnings")
def test_fit_sets_each_epochs_rate_and_partial_fit_uses_learning_rate(small_digits):
    X_train, _ = small_digits
    recorder = RecordRates()
    ae = small(epochs=12, learning_rate=4e-3, callbacks=[recorder]).fit(X_train)
    np.testing.assert_allclose(recorder.rates, learning_rates(4e-3, 12, "cosine"), rtol=1e-6)
    # A pass after the annealed fit trains at learning_rate, not at the schedule's last rate.
    recorder.rates.clear()
    ae.partial_fit(X_train)
    np.testing.assert_allclose(recorder.rates, [4e-3], rtol=1e-6)
    constant = RecordRates()
    small(epochs=3, learning_rate_schedule="constant", callbacks=[constant]).fit(X_train)
    np.testing.assert_allclose(constant.rates, [small().learning_rate] * 3, rtol=1e-6)


@pytest.mark.parametrize(
    "n_rows, batch_size, epochs",
    [(300, 64, AUTO_EPOCHS[1]), (1_347, 64, AUTO_EPOCHS[1]), (8_000, 128, 40), (60_000, 256, 11)],
)
def test_auto_epochs_give_about_a_fixed_number_of_steps(n_rows, batch_size, epochs):
    assert resolve_batch_size("auto", n_rows) == batch_size
    assert resolve_epochs("auto", n_rows, batch_size) == epochs
    steps = math.ceil(n_rows / batch_size) * epochs
    assert steps >= min(AUTO_STEPS, AUTO_EPOCHS[1] * math.ceil(n_rows / batch_size))
    assert resolve_epochs(7, n_rows, batch_size) == 7


def test_default_fit_runs_its_whole_schedule_without_a_warning(small_digits):
    X_train, _ = small_digits  # 300 rows: 5 steps an epoch, so 'auto' gives the most epochs
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ae = small().fit(X_train)
    assert ae.n_iter_ == AUTO_EPOCHS[1] == len(ae.loss_curve_)
    assert ae.loss_curve_[-1] < 0.5 * ae.loss_curve_[0]


def test_a_schedule_too_short_to_flatten_the_curve_warns_with_what_to_raise(small_digits):
    X_train, _ = small_digits
    with pytest.warns(ConvergenceWarning, match=r"cosine learning-rate schedule.*Raise epochs"):
        small(epochs=3).fit(X_train)


def test_a_noisy_loss_at_the_end_of_the_schedule_is_not_read_as_still_improving():
    # DenoisingAE's defaults on standardized wine (133 rows, 3 batches an epoch): its noise
    # moves the annealed loss by up to 0.3% of the fit's decrease between epochs, which a
    # last-epoch rule read as "still improving" (warnings at k = 2 to 5).
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_train, _ = train_test_split(load_wine().data, test_size=0.25, random_state=0)
    X_train = StandardScaler().fit_transform(X_train)
    for k in (3, 4):  # the sizes whose last epoch gained most: 0.32% and 0.34% of the decrease
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            DenoisingAE(n_components=k, random_state=0).fit(X_train)


def test_the_stopping_rule_averages_the_last_tenth_of_the_epochs():
    flat = 1.0 + np.exp(-np.arange(100) / 5.0)
    assert annealed_gain(flat) < 1e-4
    # Noise of 0.5% of the decrease at the end: the last epoch alone gains 0.5%, the means not.
    noisy = flat + 0.005 * np.tile([1.0, -1.0], 50) * (np.arange(100) >= 80)
    assert noisy[-2] - noisy[-1] >= 0.005 * (noisy[0] - noisy.min())
    assert annealed_gain(noisy) < 1e-3
    # Cut short: the last tenth is still falling fast.
    assert annealed_gain(flat[:10]) > 1e-2
    # No decrease over the fit: flat or rising is done, falling back towards the start is not.
    assert annealed_gain([0.5, 0.5, 0.6]) == 0.0 and annealed_gain([0.5, 0.7, 0.6]) == np.inf


@pytest.mark.parametrize("cls", [StackedAE, DenoisingAE, SparseAE])
def test_dense_families_share_the_training_defaults(cls):
    params = cls().get_params()
    assert params["learning_rate_schedule"] == "cosine" and params["epochs"] == "auto"
    assert params["activation"] == "elu" and params["tol"] == 1e-3


def test_tol_is_relative_to_the_loss():
    # The same curve at two scales stops at the same epoch.
    curve = [1.0, 0.5, 0.4, 0.39, 0.3899, 0.38985, 0.3898, 0.38979, 0.38978, 0.38977]
    stops = []
    for scale in (1.0, 1e6):
        result = TrainingResult()
        monitor = _Monitor(result, monitor="loss", tol=1e-3, n_iter_no_change=3, keep_best=False)
        monitor.set_model(one_layer_model())
        for epoch, loss in enumerate(curve):
            monitor.on_epoch_end(epoch, {"loss": loss * scale})
            if result.converged:
                break
        stops.append(len(result.loss_curve))
    assert stops[0] == stops[1] == 7


def one_layer_model():
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    return model
