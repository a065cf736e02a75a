"""Pickling, copying and the skae saved format."""

import copy
import io
import json
import pickle
import warnings
import zipfile

import joblib
import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import skae
from skae import StackedAE
from skae._saving import model_to_bytes


@pytest.fixture(scope="module")
def fitted(small_digits):
    X_train, _ = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return StackedAE(n_components=3, hidden_layer_sizes=(16,), epochs=3, random_state=0).fit(
            X_train
        )


def assert_same_outputs(a, b, X):
    codes = a.transform(X)
    np.testing.assert_array_equal(codes, b.transform(X))
    np.testing.assert_array_equal(a.inverse_transform(codes), b.inverse_transform(codes))
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))


def test_pickle_round_trip_gives_identical_outputs(fitted, small_digits):
    _, X_test = small_digits
    restored = pickle.loads(pickle.dumps(fitted))
    assert_same_outputs(fitted, restored, X_test)
    assert restored.loss_curve_ == fitted.loss_curve_
    assert restored.get_params() == fitted.get_params()


def test_pickle_holds_a_keras_archive_not_keras_objects(fitted):
    state = fitted.__getstate__()
    assert not any(isinstance(v, (keras.Model, keras.layers.Layer)) for v in state.values())
    assert zipfile.is_zipfile(io.BytesIO(state["_keras_archive"]))
    names = zipfile.ZipFile(io.BytesIO(state["_keras_archive"])).namelist()
    assert "config.json" in names


def test_joblib_and_deepcopy(fitted, small_digits, tmp_path):
    _, X_test = small_digits
    joblib.dump(fitted, tmp_path / "ae.joblib")
    assert_same_outputs(fitted, joblib.load(tmp_path / "ae.joblib"), X_test)
    copied = copy.deepcopy(fitted)
    assert copied.model_ is not fitted.model_
    assert_same_outputs(fitted, copied, X_test)


def test_clone_is_unfitted_with_equal_params(fitted):
    cloned = clone(fitted)
    assert cloned.get_params() == fitted.get_params()
    assert not hasattr(cloned, "model_")


def test_unpickled_estimator_keeps_training(fitted, small_digits):
    X_train, _ = small_digits
    restored = pickle.loads(pickle.dumps(fitted))
    restored.partial_fit(X_train)
    assert restored.n_iter_ == fitted.n_iter_ + 1


def test_unfitted_estimator_pickles(small_digits):
    ae = pickle.loads(pickle.dumps(StackedAE(n_components=5)))
    assert ae.n_components == 5 and not hasattr(ae, "model_")


def test_saved_file_round_trip(fitted, small_digits, tmp_path):
    _, X_test = small_digits
    path = tmp_path / "ae.skae"
    fitted.save(path)
    loaded = skae.load(path)
    assert type(loaded) is StackedAE
    assert_same_outputs(fitted, loaded, X_test)
    assert loaded.get_params() == fitted.get_params()
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("estimator.json"))
    assert document["estimator"]["__estimator__"] == "StackedAE"


def test_saved_file_of_an_unfitted_estimator(tmp_path):
    skae.save(StackedAE(n_components=7, hidden_layer_sizes=(9, 5)), tmp_path / "ae.skae")
    loaded = skae.load(tmp_path / "ae.skae")
    assert loaded.get_params()["hidden_layer_sizes"] == (9, 5)
    assert not hasattr(loaded, "model_")


def _lambda_archive():
    inputs = keras.Input((64,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    return model_to_bytes(keras.Model(inputs, outputs))


def test_pickle_with_a_lambda_layer_is_refused(fitted):
    state = fitted.__getstate__()
    state["_keras_archive"] = _lambda_archive()
    forged = StackedAE.__new__(StackedAE)
    with pytest.raises(ValueError, match="(?i)lambda"):
        forged.__setstate__(state)


def test_saved_file_with_a_lambda_layer_is_refused(fitted, tmp_path):
    path = tmp_path / "ae.skae"
    fitted.save(path)
    forged = tmp_path / "forged.skae"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(forged, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            target.writestr(name, _lambda_archive() if name.endswith(".keras") else data)
    with pytest.raises(ValueError, match="(?i)lambda"):
        skae.load(forged)


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: b"not a zip file at all", id="not a zip"),
        pytest.param(lambda data: b"", id="empty"),
    ],
)
def test_corrupted_saved_file_is_refused(fitted, tmp_path, corrupt):
    path = tmp_path / "ae.skae"
    fitted.save(path)
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(ValueError, match="skae saved file|corrupted"):
        skae.load(path)


def test_saved_file_naming_a_foreign_class_is_refused(fitted, tmp_path):
    path = tmp_path / "ae.skae"
    fitted.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    document = json.loads(members["estimator.json"])
    document["estimator"]["__estimator__"] = "os.system"
    members["estimator.json"] = json.dumps(document).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match="Unknown estimator class"):
        skae.load(path)
