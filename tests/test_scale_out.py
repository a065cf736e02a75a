"""Scale-out: a grid search on a Dask cluster, and out-of-core training with partial_fit."""

import logging
import sys
import warnings

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skae import StackedAE

from .conftest import optimizer_steps, tiny


class EpochCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


def test_grid_search_on_a_dask_cluster_matches_a_serial_run(small_digits):
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_backend

    X = small_digits[0][:200]
    y = np.arange(len(X)) % 3  # labels only so the classifier has something to fit
    pipe = Pipeline(
        [
            ("ae", tiny(StackedAE, hidden_layer_sizes=(8,), epochs=2)),
            ("clf", LogisticRegression()),
        ]
    )
    grid = {"ae__n_components": [2, 4]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial = GridSearchCV(pipe, grid, cv=2, refit=False).fit(X, y)
        # Worker processes, not threads: each worker imports its own Keras.
        with (
            distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            with parallel_backend("dask"):
                on_dask = GridSearchCV(pipe, grid, cv=2, refit=False, n_jobs=-1).fit(X, y)
            # The fits ran in the two worker processes, which had to import skae.
            assert list(client.run(lambda: "skae" in sys.modules).values()) == [True, True]
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_allclose(on_dask.cv_results_[key], serial.cv_results_[key], rtol=1e-6)
    assert on_dask.best_params_ == serial.best_params_


@pytest.fixture
def memmapped(tmp_path, small_digits):
    """1,200 digit rows (float32) in a memory-mapped file: 12 batches of 100."""
    X = np.tile(small_digits[0], (4, 1)).astype(np.float32)
    data = np.memmap(tmp_path / "digits.f32", dtype=np.float32, mode="w+", shape=X.shape)
    data[:] = X
    data.flush()
    return np.memmap(tmp_path / "digits.f32", dtype=np.float32, mode="r", shape=X.shape)


def test_partial_fit_streams_a_memory_mapped_array(memmapped):
    counter = EpochCounter()
    ae = tiny(StackedAE, batch_size=100, callbacks=[counter])
    # Blocks of 400 rows, each several batches: one pass (4 mini-batches) per call.
    for i, start in enumerate(range(0, len(memmapped), 400), start=1):
        assert ae.partial_fit(memmapped[start : start + 400]) is ae
        assert ae.n_iter_ == i and len(ae.loss_curve_) == i
        assert counter.epochs == i
        assert optimizer_steps(ae) == 4 * i
    # The whole file in one call: still one pass, over all 12 batches.
    ae.partial_fit(memmapped)
    assert ae.n_iter_ == 4 and optimizer_steps(ae) == 12 + 12
    assert np.all(np.isfinite(ae.loss_curve_))
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]
    codes = ae.transform(memmapped)
    assert codes.shape == (len(memmapped), 2) and codes.dtype == np.float32


def test_dask_ml_incremental_calls_partial_fit_once_per_chunk(small_digits):
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")

    X = small_digits[0][:300]
    X_dask = da.from_array(X, chunks=(100, X.shape[1]))  # three chunks of 100 rows
    # shuffle_blocks=False: Incremental otherwise feeds the chunks in a random order.
    model = wrappers.Incremental(tiny(StackedAE, batch_size=32), shuffle_blocks=False)
    model.fit(X_dask)
    ae = model.estimator_
    assert ae.n_iter_ == 3  # one pass per chunk
    assert optimizer_steps(ae) == 3 * 4  # ceil(100 / 32) batches per pass
    # transform runs chunk by chunk too, and agrees with the fitted estimator's own.
    codes = model.transform(X_dask)
    assert isinstance(codes, da.Array)
    np.testing.assert_array_equal(codes.compute(), ae.transform(X))
    # The same chunks fed by hand give the same model: Incremental adds no magic.
    by_hand = clone(model.estimator)
    for start in range(0, 300, 100):
        by_hand.partial_fit(X[start : start + 100])
    np.testing.assert_array_equal(by_hand.transform(X), ae.transform(X))
