"""Pickling, copying and the skae saved format."""

import copy
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
from skae import ConvolutionalAE, EncoderClassifier, SparseAE, StackedAE, VariationalAE
from skae._saving import fitted_attributes


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


def test_pickle_holds_plain_arrays_not_keras_objects(fitted):
    state = fitted.__getstate__()
    assert set(state) == {"format_version", "class", "params", "attributes", "network", "variables"}
    assert not any(
        isinstance(v, (keras.Model, keras.layers.Layer)) for v in state["attributes"].values()
    )
    arrays = state["variables"]["model"] + state["variables"]["optimizer"]
    assert arrays and all(type(a) is np.ndarray and a.dtype.kind in "fiub" for a in arrays)
    assert [a.shape for a in state["variables"]["model"]] == [
        tuple(v.shape) for v in fitted.model_.variables
    ]


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
    assert document["estimator"]["class"] == "StackedAE"
    assert sorted(archive.namelist()) == ["arrays.bin", "estimator.json"]


def test_saved_file_of_an_unfitted_estimator(tmp_path):
    skae.save(StackedAE(n_components=7, hidden_layer_sizes=(9, 5)), tmp_path / "ae.skae")
    loaded = skae.load(tmp_path / "ae.skae")
    assert loaded.get_params()["hidden_layer_sizes"] == (9, 5)
    assert not hasattr(loaded, "model_")


def _lambda_archive(folder):
    inputs = keras.Input((64,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    model.save(folder / "lambda.keras")
    return (folder / "lambda.keras").read_bytes()


def test_pickle_state_carrying_a_keras_archive_is_refused(fitted, tmp_path):
    state = fitted.__getstate__()
    state["_keras_archive"] = _lambda_archive(tmp_path)
    forged = StackedAE.__new__(StackedAE)
    with pytest.raises(ValueError, match="keys"):
        forged.__setstate__(state)


def test_pickle_of_format_version_1_is_refused(fitted, tmp_path):
    state = {**fitted.get_params(), "n_features_in_": 64, "_keras_archive": b"PK"}
    with pytest.raises(ValueError, match="format version 1"):
        StackedAE.__new__(StackedAE).__setstate__(state)


def test_saved_file_carrying_a_keras_archive_is_refused(fitted, tmp_path):
    path = tmp_path / "ae.skae"
    fitted.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("blob0.keras", _lambda_archive(tmp_path))
    with pytest.raises(ValueError, match="members|not one skae writes"):
        skae.load(path)


def test_saved_file_of_format_version_1_is_refused(tmp_path):
    path = tmp_path / "old.skae"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("estimator.json", json.dumps({"format": "skae", "format_version": 1}))
    with pytest.raises(ValueError, match="format version 1.*Keras archives"):
        skae.load(path)
    with zipfile.ZipFile(path, "a") as archive:  # as version 1 wrote them: a network member
        archive.writestr("blob0.keras", b"PK")
    with pytest.raises(ValueError, match="'blob0.keras'.*format version 1.*Keras archives"):
        skae.load(path)


def _resume(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.partial_fit(X)
    return estimator.transform(X)


@pytest.mark.parametrize("round_trip", ["pickle", "skae.save"])
def test_training_resumes_exactly_where_the_original_would(
    fitted, small_digits, tmp_path, round_trip
):
    X_train, _ = small_digits
    if round_trip == "pickle":
        restored = pickle.loads(pickle.dumps(fitted))
    else:
        fitted.save(tmp_path / "ae.skae")
        restored = skae.load(tmp_path / "ae.skae")
    assert conftest_steps(restored) == conftest_steps(fitted)  # the optimizer's state came along
    original = copy.deepcopy(fitted)
    np.testing.assert_array_equal(_resume(restored, X_train), _resume(original, X_train))


def conftest_steps(estimator):
    return int(keras.ops.convert_to_numpy(estimator.model_.optimizer.iterations))


FAMILIES = {
    "StackedAE": lambda: StackedAE(n_components=2, hidden_layer_sizes=(4,), epochs=1),
    "SparseAE": lambda: SparseAE(n_components=3, hidden_layer_sizes=(4,), epochs=1),
    "VariationalAE": lambda: VariationalAE(n_components=2, hidden_layer_sizes=(4,), epochs=1),
    "ConvolutionalAE": lambda: ConvolutionalAE(image_shape=(8, 8, 1), filters=(2,), epochs=1),
    "EncoderClassifier": lambda: EncoderClassifier(
        StackedAE(n_components=2, hidden_layer_sizes=(4,), epochs=1), epochs=1
    ),
}


@pytest.mark.parametrize("name", FAMILIES)
def test_a_fit_sets_exactly_the_attributes_a_file_may_carry(name, small_digits, tmp_path):
    X_train, X_test = small_digits
    estimator = FAMILIES[name]().set_params(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X_train[:60], np.arange(60) % 2)
    fitted_names = set(vars(estimator)) - set(estimator.get_params(deep=False))
    stored = fitted_names - set(estimator._network_attributes())
    assert stored == set(fitted_attributes(type(estimator))) - {"feature_names_in_"}
    skae.save(estimator, tmp_path / "e.skae")
    loaded = skae.load(tmp_path / "e.skae")
    assert set(vars(loaded)) == set(vars(estimator)) - {"_trainer"}
    method = "predict_proba" if name == "EncoderClassifier" else "transform"
    np.testing.assert_array_equal(
        getattr(loaded, method)(X_test), getattr(estimator, method)(X_test)
    )


def test_feature_names_and_output_config_round_trip(small_digits, tmp_path):
    pd = pytest.importorskip("pandas")
    X_train, X_test = small_digits
    columns = [f"px{i}" for i in range(X_train.shape[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = StackedAE(n_components=2, hidden_layer_sizes=(4,), epochs=1, random_state=0)
        ae.fit(pd.DataFrame(X_train, columns=columns)).set_output(transform="pandas")
    ae.save(tmp_path / "ae.skae")
    loaded = skae.load(tmp_path / "ae.skae")
    assert list(loaded.feature_names_in_) == columns
    codes = loaded.transform(pd.DataFrame(X_test, columns=columns))
    assert isinstance(codes, pd.DataFrame)
    np.testing.assert_array_equal(codes, ae.transform(pd.DataFrame(X_test, columns=columns)))


def test_a_network_changed_by_set_params_after_fit_is_not_saved(fitted, tmp_path):
    changed = copy.deepcopy(fitted).set_params(hidden_layer_sizes=(8,))
    with pytest.raises(ValueError, match="no longer matches its parameters"):
        changed.save(tmp_path / "ae.skae")
    with pytest.raises(ValueError, match="no longer matches its parameters"):
        pickle.dumps(copy.deepcopy(fitted).set_params(activation="tanh"))


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
    document["estimator"]["class"] = "os.system"
    members["estimator.json"] = json.dumps(document).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match="Unknown estimator class"):
        skae.load(path)


def test_a_file_saved_before_the_learning_rate_schedule_existed_loads_with_a_constant_rate():
    X = np.random.default_rng(0).random((60, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = StackedAE(n_components=2, hidden_layer_sizes=(4,), epochs=2, random_state=0).fit(X)
    state = fitted.__getstate__()
    del state["params"]["learning_rate_schedule"]  # as written before the parameter existed
    restored = StackedAE.__new__(StackedAE)
    restored.__setstate__(state)
    # The rate the file's estimator trained with, so that a refit trains as it did.
    assert restored.learning_rate_schedule == "constant"
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))
