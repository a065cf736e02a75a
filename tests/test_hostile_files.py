"""Hostile saved files and pickle states, one group per attack class.

Every file here is built by the tests from a genuine save. Each load must raise
``ValueError``, write no file, leave Keras's and the global random states as they
were, and stay within a memory budget (``tracemalloc`` peak). The bounds hold before
anything is built: bombs and huge declarations are refused within a few MB.
"""

import copy
import io
import json
import os
import pickle
import random
import struct
import tempfile
import time
import tracemalloc
import warnings
import zipfile

import keras
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import skae
from skae import DenoisingAE, EncoderClassifier, StackedAE
from skae._saving import MAX_JSON_BYTES, MAX_JSON_DEPTH

SMALL_MIB = 4  # refused from the directory or a small JSON alone
# Refused from a JSON member at the size limit, which reading and scanning copy a few times.
LARGE_JSON_MIB = SMALL_MIB + 4 * MAX_JSON_BYTES / 2**20
BUILD_MIB = 48  # refused after skae rebuilt the (tiny) network


@pytest.fixture(scope="module")
def saved(small_digits):
    """A genuine file of a tiny DenoisingAE (gaussian noise, so a clip range): its members."""
    X_train, _ = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = DenoisingAE(
            n_components=2, hidden_layer_sizes=(4,), epochs=1, batch_size=16, random_state=0
        ).fit(X_train[:40])
    buffer = io.BytesIO()
    skae.save(ae, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return ae, buffer.getvalue(), members


@pytest.fixture(scope="module")
def saved_classifier(small_digits):
    X_train, _ = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = EncoderClassifier(
            StackedAE(n_components=2, hidden_layer_sizes=(4,), epochs=1), epochs=1, random_state=0
        ).fit(X_train[:40], np.arange(40) % 2)
    buffer = io.BytesIO()
    skae.save(clf, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return clf, members


def _zip(members, compression=zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names, on purpose
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in members.items() if isinstance(members, dict) else members:
                kind = zipfile.ZIP_STORED if name == "arrays.bin" else compression
                archive.writestr(name, data, compress_type=kind)
    return buffer.getvalue()


def _with_document(members, edit):
    document = json.loads(members["estimator.json"])
    edit(document)
    return _zip({**members, "estimator.json": json.dumps(document)})


def _global_state():
    return (
        keras.config.floatx(),
        keras.config.image_data_format(),
        keras.config.epsilon(),
        keras.config.dtype_policy().name,
        pickle.dumps(np.random.get_state()),  # noqa: NPY002 (the global state is the point)
        random.getstate(),
    )


def _refused(tmp_path, monkeypatch, attempt, match, max_mib):
    """Run ``attempt`` and check the promises of a refusal."""
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where anything temporary goes
    before_files = sorted(os.listdir(tmp_path))
    before = _global_state()
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match) as caught:
            attempt()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not os.listdir(scratch), "a refused load wrote a temporary file"
    assert sorted(os.listdir(tmp_path)) == before_files, "a refused load wrote a file"
    assert _global_state() == before, "a refused load changed a global setting"
    assert peak < max_mib * 2**20, f"peak memory {peak / 2**20:.1f} MiB"
    return caught.value


def assert_file_refused(data, tmp_path, monkeypatch, match, max_mib=BUILD_MIB):
    path = tmp_path / "hostile.skae"
    path.write_bytes(data)
    return _refused(tmp_path, monkeypatch, lambda: skae.load(path), match, max_mib)


def assert_state_refused(cls, state, tmp_path, monkeypatch, match, max_mib=BUILD_MIB):
    return _refused(
        tmp_path, monkeypatch, lambda: cls.__new__(cls).__setstate__(state), match, max_mib
    )


# ------------------------------------------------------------- 1. code named by a stored config
# A Lambda layer naming Keras's own public set_floatx, with the argument it would get.
LAMBDA_LAYER = {
    "module": "keras.layers",
    "class_name": "Lambda",
    "registered_name": None,
    "config": {
        "name": "lambda",
        "function": {
            "module": "keras.config",
            "class_name": "function",
            "config": "set_floatx",
            "registered_name": "function",
        },
        "arguments": {"value": "float16"},
    },
}


def _keras_archive_naming_a_function():
    config = {"module": "keras", "class_name": "Sequential", "config": {"layers": [LAMBDA_LAYER]}}
    return _zip(
        {
            "metadata.json": json.dumps({"keras_version": keras.__version__}),
            "config.json": json.dumps(config),
        }
    )


def test_a_keras_archive_member_naming_a_function_is_refused(saved, tmp_path, monkeypatch):
    _, _, members = saved
    archive = _keras_archive_naming_a_function()
    data = _zip({**members, "blob0.keras": archive})
    assert_file_refused(data, tmp_path, monkeypatch, "3 members", SMALL_MIB)
    data = _zip({"estimator.json": members["estimator.json"], "blob0.keras": archive})
    assert_file_refused(data, tmp_path, monkeypatch, "'blob0.keras'.*not one skae writes")


def test_a_version_1_file_with_a_keras_network_is_refused(saved, tmp_path, monkeypatch):
    document = {
        "format": "skae",
        "format_version": 1,
        "estimator": {"__estimator__": "StackedAE", "state": {"_keras_archive": {"__bytes__": 0}}},
    }
    data = _zip({"estimator.json": json.dumps(document)})
    assert_file_refused(data, tmp_path, monkeypatch, "format version 1", SMALL_MIB)
    data = _zip({"estimator.json": json.dumps(document), "blob0.keras": b"PK"})
    assert_file_refused(data, tmp_path, monkeypatch, "not one skae writes", SMALL_MIB)


@pytest.mark.parametrize(
    "activation",
    [
        "set_floatx",
        {"__dict__": {"module": "keras.config", "class_name": "function", "config": "set_floatx"}},
    ],
    ids=["name", "keras object reference"],
)
def test_a_parameter_naming_a_function_is_refused(saved, tmp_path, monkeypatch, activation):
    _, _, members = saved

    def edit(document):
        document["estimator"]["params"]["activation"] = activation

    data = _with_document(members, edit)
    assert_file_refused(data, tmp_path, monkeypatch, "activation")


def test_a_pickle_state_carrying_a_keras_config_is_refused(saved, tmp_path, monkeypatch):
    ae, _, _ = saved
    state = ae.__getstate__()
    forged = copy.deepcopy(state)
    forged["network"]["config"] = LAMBDA_LAYER
    assert_state_refused(DenoisingAE, forged, tmp_path, monkeypatch, "exactly 'noise_range'")
    forged = {**state, "_keras_archive": _keras_archive_naming_a_function()}
    assert_state_refused(DenoisingAE, forged, tmp_path, monkeypatch, "keys")


# ------------------------------------------------------------- 2. path traversal member names
@pytest.mark.parametrize(
    "name", ["../escaped.txt", "/tmp/absolute.txt", "nested/estimator.json", "..\\escaped.txt"]
)
def test_member_names_other_than_skaes_are_refused(saved, tmp_path, monkeypatch, name):
    _, _, members = saved
    data = _zip({"estimator.json": members["estimator.json"], name: b"payload"})
    assert_file_refused(data, tmp_path, monkeypatch, "not one skae writes", SMALL_MIB)
    assert not (tmp_path.parent / "escaped.txt").exists()


# ------------------------------------------------------------- 3. zip bombs and huge declarations
def test_a_whitespace_padded_json_bomb_is_refused_from_the_directory(saved, tmp_path, monkeypatch):
    _, _, members = saved
    padded = members["estimator.json"] + b" " * (4 * MAX_JSON_BYTES)  # 32 MB, deflates to 32 kB
    data = _zip({**members, "estimator.json": padded})
    assert len(data) < 100_000
    assert_file_refused(data, tmp_path, monkeypatch, "declares .* bytes, over the limit", SMALL_MIB)


def test_a_json_member_expanding_too_much_is_refused(saved, tmp_path, monkeypatch):
    _, _, members = saved
    padded = members["estimator.json"] + b" " * (MAX_JSON_BYTES // 2)  # under the size limit
    data = _zip({**members, "estimator.json": padded})
    assert_file_refused(data, tmp_path, monkeypatch, "expands .* times", SMALL_MIB)


def _patch_member(data, name, **fields):
    """Rewrite fields of ``name``'s local header and central directory entry in place."""
    data = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo(name)
    local = {"flags": 6, "method": 8, "file_size": 22}  # offsets in the local header
    central = {"flags": 8, "method": 10, "file_size": 24}  # ... in the directory entry
    entry = data.find(b"PK\x01\x02")
    while struct.unpack_from("<I", data, entry + 42)[0] != info.header_offset:
        entry = data.find(b"PK\x01\x02", entry + 4)
    for field, value in fields.items():
        form = "<I" if field == "file_size" else "<H"
        struct.pack_into(form, data, info.header_offset + local[field], value)
        struct.pack_into(form, data, entry + central[field], value)
    return bytes(data)


def test_a_member_whose_stream_exceeds_its_declared_size_is_refused(saved, tmp_path, monkeypatch):
    _, _, members = saved
    padded = members["estimator.json"] + b" " * 2**20
    # Declared as 100 bytes, within every limit: reading stops there and the CRC fails.
    data = _patch_member(
        _zip({**members, "estimator.json": padded}), "estimator.json", file_size=100
    )
    assert_file_refused(data, tmp_path, monkeypatch, "corrupted|CRC|UTF-8", SMALL_MIB)


@pytest.mark.parametrize(
    "shape", [[2**40], [2**20, 2**20, 2**20], [-1], [1.5], [True], "64"], ids=str
)
def test_a_huge_or_invalid_declared_array_shape_is_refused(saved, tmp_path, monkeypatch, shape):
    _, _, members = saved

    def edit(document):
        document["estimator"]["variables"]["model"][1]["shape"] = shape

    data = _with_document(members, edit)
    assert_file_refused(data, tmp_path, monkeypatch, "bytes at offset|shape|integer", SMALL_MIB)


@pytest.mark.parametrize(
    "params",
    [
        {"hidden_layer_sizes": {"__tuple__": [2**20]}},
        {"n_components": 2**30},
    ],
    ids=["hidden layer of a million units", "a billion components"],
)
def test_parameters_implying_a_huge_network_are_refused_before_building(
    saved, tmp_path, monkeypatch, params
):
    _, _, members = saved

    def edit(document):
        document["estimator"]["params"].update(params)

    data = _with_document(members, edit)
    assert_file_refused(data, tmp_path, monkeypatch, "network of up to", SMALL_MIB)


def test_a_huge_n_features_in_is_refused_before_building(saved, tmp_path, monkeypatch):
    _, _, members = saved

    def edit(document):
        document["estimator"]["attributes"]["n_features_in_"] = 2**31 - 1

    data = _with_document(members, edit)
    assert_file_refused(data, tmp_path, monkeypatch, "network of up to", SMALL_MIB)


# ------------------------------------------------------------- 4. too many members
def test_too_many_members_are_refused_before_zipfile_reads_them(saved, tmp_path, monkeypatch):
    _, _, members = saved
    many = [("estimator.json", members["estimator.json"])]
    many += [(f"m{i}", b"") for i in range(5000)]
    assert_file_refused(_zip(many), tmp_path, monkeypatch, "5001 members", SMALL_MIB)


def test_a_duplicated_member_is_refused(saved, tmp_path, monkeypatch):
    _, _, members = saved
    twice = [("estimator.json", members["estimator.json"])] * 2
    assert_file_refused(_zip(twice), tmp_path, monkeypatch, "2 members", SMALL_MIB)


def test_a_zip64_archive_is_refused(saved, tmp_path, monkeypatch):
    _, _, members = saved
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        with archive.open("estimator.json", "w", force_zip64=True) as member:
            member.write(members["estimator.json"])
    data = bytearray(buffer.getvalue())
    # A zip64 end-of-directory locator just before the end record, as large archives have.
    end = data.rfind(b"PK\x05\x06")
    data[end:end] = b"PK\x06\x07" + bytes(16)
    assert_file_refused(bytes(data), tmp_path, monkeypatch, "zip64|zip archive", SMALL_MIB)


# ------------------------------------------------------------- 5. deep JSON nesting
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_deeply_nested_json_is_refused_before_parsing(saved, tmp_path, monkeypatch, depth):
    _, _, members = saved
    document = members["estimator.json"].decode()
    nested = document.replace('"activation": "elu"', f'"activation": {"[" * depth}{"]" * depth}')
    assert nested != document
    # Stored: deflated, deep brackets would already fail the compression-ratio limit.
    data = _zip({**members, "estimator.json": nested}, compression=zipfile.ZIP_STORED)
    assert_file_refused(data, tmp_path, monkeypatch, "nests .* levels deep", SMALL_MIB)


def test_json_that_would_make_a_naive_scanner_quadratic_is_read_in_linear_time(
    saved, tmp_path, monkeypatch
):
    _, _, members = saved
    # Escaped quotes without an end: a backtracking string regex takes minutes on this.
    text = '{"format": "' + '\\"' * (MAX_JSON_BYTES // 4)
    data = _zip({**members, "estimator.json": text}, compression=zipfile.ZIP_STORED)
    started = time.perf_counter()
    assert_file_refused(data, tmp_path, monkeypatch, "corrupted", LARGE_JSON_MIB)
    assert time.perf_counter() - started < 10


def test_json_opening_too_many_containers_is_refused_before_parsing(saved, tmp_path, monkeypatch):
    _, _, members = saved
    text = '{"format": "skae", "x": [' + "[]," * (MAX_JSON_BYTES // 4) + "[]]}"
    data = _zip({**members, "estimator.json": text}, compression=zipfile.ZIP_STORED)
    assert_file_refused(data, tmp_path, monkeypatch, "opens .* lists and objects", LARGE_JSON_MIB)


def _parsed_depth(value):
    children = value.values() if isinstance(value, dict) else value
    if not isinstance(value, (dict, list)):
        return 0
    return 1 + max((_parsed_depth(v) for v in children), default=0)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, {"b": "x[y"}], "c": "\\"[[["}',
        '["\\\\", [[]]]',
        '[[["\\\\\\"]"]]]',
        '{"\u00e9": "[\u00fc]", "k": "\\\\\\\\"}',
        '["\\n[", {"\\\\": ["]"]}]',
    ],
)
def test_the_depth_scan_agrees_with_the_parser(saved, text):
    from skae._saving import _json_shape

    for data in (text.encode(), saved[2]["estimator.json"]):
        parsed = json.loads(data)
        assert _json_shape(data)[0] == _parsed_depth(parsed)


# ------------------------------------------------------------- 6. wrong dtypes
@pytest.mark.parametrize(
    "dtype", ["|O", [["a", "<f4"]], "|V8", ">f4", "<c8", "<M8[ns]", "<U4"], ids=str
)
def test_array_dtypes_other_than_plain_numbers_are_refused(saved, tmp_path, monkeypatch, dtype):
    _, _, members = saved

    def edit(document):
        document["estimator"]["variables"]["model"][1]["dtype"] = dtype

    data = _with_document(members, edit)
    assert_file_refused(data, tmp_path, monkeypatch, "not plain numeric", SMALL_MIB)


def test_an_attribute_array_of_objects_is_refused(saved_classifier, tmp_path, monkeypatch):
    _, members = saved_classifier

    def edit(document):
        document["estimator"]["attributes"]["classes_"] = {
            "__ndarray__": [{"__dict__": {}}, 1],
            "dtype": "object",
        }

    data = _with_document(members, edit)
    assert_file_refused(data, tmp_path, monkeypatch, "strings only")


@pytest.mark.parametrize(
    "array",
    [
        np.array([object()] * 8, dtype=object),
        np.zeros(8, dtype=[("a", "<f4")]),
        np.zeros(8, dtype="<c8"),
    ],
    ids=["object", "structured", "complex"],
)
def test_pickle_states_with_non_numeric_arrays_are_refused(saved, tmp_path, monkeypatch, array):
    ae, _, _ = saved
    state = ae.__getstate__()
    state["variables"]["model"][1] = array
    assert_state_refused(DenoisingAE, state, tmp_path, monkeypatch, "dtype|structured")


def test_big_endian_arrays_of_a_pickle_state_are_normalised(saved, small_digits):
    ae, _, _ = saved
    state = ae.__getstate__()
    state["variables"]["model"] = [
        a.astype(a.dtype.newbyteorder(">")) for a in state["variables"]["model"]
    ]
    restored = DenoisingAE.__new__(DenoisingAE)
    restored.__setstate__(state)
    np.testing.assert_array_equal(
        restored.transform(small_digits[1]), ae.transform(small_digits[1])
    )


# ------------------------------------------------------------- 7. attribute injection
@pytest.mark.parametrize("name", ["transform", "fit", "__class__", "model_", "_inference", "foo_"])
def test_attributes_a_fit_does_not_set_are_refused(saved, tmp_path, monkeypatch, name):
    _, _, members = saved

    def edit(document):
        document["estimator"]["attributes"][name] = 1

    data = _with_document(members, edit)
    assert_file_refused(data, tmp_path, monkeypatch, f"'{name}', which a fitted", SMALL_MIB)


def test_a_pickle_state_injecting_a_method_is_refused(saved, tmp_path, monkeypatch):
    ae, _, _ = saved
    state = ae.__getstate__()
    state["attributes"]["transform"] = print
    assert_state_refused(DenoisingAE, state, tmp_path, monkeypatch, "'transform'", SMALL_MIB)


@pytest.mark.parametrize(
    "where, key, value, match",
    [
        ("params", "hidden_layer_sizes", {"__tuple__": [5]}, "needs"),
        ("params", "n_components", 3, "needs"),
        ("params", "noise_clip", False, "clip range"),
        ("params", "epochs", -1, "epochs"),
        ("params", "surprise", 1, "unknown \\['surprise'\\]"),
        ("attributes", "n_features_in_", 63, "needs"),
        ("attributes", "output_activation_", "tanh", "output_activation_"),
        ("attributes", "n_iter_", 7, "n_iter_"),
        ("attributes", "loss_curve_", "fast", "loss_curve_"),
        ("attributes", "feature_names_in_", {"__ndarray__": ["a"], "dtype": "object"}, "names"),
        ("network", "noise_range", [1.0, 0.0], "low <= high"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_values_that_disagree_with_each_other_or_the_weights_are_refused(
    saved, tmp_path, monkeypatch, where, key, value, match
):
    _, _, members = saved

    def edit(document):
        document["estimator"][where][key] = value

    data = _with_document(members, edit)
    assert_file_refused(data, tmp_path, monkeypatch, match)


@pytest.mark.parametrize("name", ["os.system", "BaseAutoencoder", "load", "Pipeline", 7])
def test_a_class_that_is_not_a_skae_estimator_is_refused(saved, tmp_path, monkeypatch, name):
    _, _, members = saved

    def edit(document):
        document["estimator"]["class"] = name

    data = _with_document(members, edit)
    assert_file_refused(data, tmp_path, monkeypatch, "Unknown estimator class", SMALL_MIB)


@pytest.mark.parametrize("node", [[], "StackedAE", None, {"class": "StackedAE"}], ids=str)
def test_a_document_that_is_not_an_estimator_is_refused(saved, tmp_path, monkeypatch, node):
    _, _, members = saved

    def edit(document):
        document["estimator"] = node

    data = _with_document(members, edit)
    assert_file_refused(data, tmp_path, monkeypatch, "exactly the keys", SMALL_MIB)


def test_a_pickle_state_of_another_class_is_refused(saved, tmp_path, monkeypatch):
    ae, _, _ = saved
    state = ae.__getstate__()
    assert_state_refused(StackedAE, state, tmp_path, monkeypatch, "not of a StackedAE")
    assert_state_refused(DenoisingAE, ["not", "a", "dict"], tmp_path, monkeypatch, "not a dict")


def test_a_nested_autoencoder_goes_through_the_same_checks(saved_classifier, tmp_path, monkeypatch):
    clf, members = saved_classifier

    def wrong_weights(document):
        nested = document["estimator"]["attributes"]["autoencoder_"]["__estimator__"]
        nested["params"]["n_components"] = 3

    data = _with_document(members, wrong_weights)
    assert_file_refused(data, tmp_path, monkeypatch, "needs")

    def injected(document):
        nested = document["estimator"]["attributes"]["autoencoder_"]["__estimator__"]
        nested["attributes"]["predict"] = 0

    data = _with_document(members, injected)
    assert_file_refused(data, tmp_path, monkeypatch, "'predict'")

    # In a file, dropping the nested estimator also orphans its arrays: refused too.
    def not_an_estimator(document):
        document["estimator"]["attributes"]["autoencoder_"] = "StackedAE"

    data = _with_document(members, not_an_estimator)
    assert_file_refused(data, tmp_path, monkeypatch, "declares .* bytes at offset")
    state = clf.__getstate__()
    state["attributes"]["autoencoder_"] = "StackedAE"
    match = "autoencoder_ must be an estimator"
    assert_state_refused(EncoderClassifier, state, tmp_path, monkeypatch, match)


# ------------------------------------------------------------- 8. truncated and corrupted files
@pytest.mark.parametrize("keep", [0, 0.1, 0.5, 0.9, -1])
def test_truncated_files_are_refused(saved, tmp_path, monkeypatch, keep):
    _, data, _ = saved
    end = len(data) - 1 if keep == -1 else int(keep * len(data))
    assert_file_refused(data[:end], tmp_path, monkeypatch, "skae saved file|corrupted", SMALL_MIB)


def test_random_byte_flips_raise_value_error_only(saved, tmp_path):
    _, data, _ = saved
    rng = np.random.default_rng(0)
    path = tmp_path / "flipped.skae"
    before = _global_state()
    outcomes = {"refused": 0, "loaded": 0}
    for position in rng.integers(0, len(data), size=150):
        flipped = bytearray(data)
        flipped[position] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(flipped))
        try:
            skae.load(path)
            outcomes["loaded"] += 1  # e.g. a flip in an unused header field
        except ValueError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 100, outcomes
    assert _global_state() == before


@pytest.mark.parametrize(
    "text, match",
    [
        (b"\xff\xfe not utf-8", "UTF-8"),
        (b"[1, 2, 3]", "not a skae saved file"),
        (b'{"format": "skae", "format": "skae"}', "repeats a key"),
        (b'{"format": "skae", "format_version": 2, "estimator": {}, "x": 1}', "top-level"),
        (b"{" * 10, "nests|corrupted"),
    ],
)
def test_a_corrupted_document_is_refused(saved, tmp_path, monkeypatch, text, match):
    _, _, members = saved
    data = _zip({**members, "estimator.json": text})
    assert_file_refused(data, tmp_path, monkeypatch, match, SMALL_MIB)


def test_arrays_member_with_extra_bytes_is_refused(saved, tmp_path, monkeypatch):
    _, _, members = saved
    data = _zip({**members, "arrays.bin": members["arrays.bin"] + bytes(8)})
    assert_file_refused(data, tmp_path, monkeypatch, "no array uses")


# ------------------------------------------------------------- 9. encryption, 10. compression
def test_an_encrypted_member_is_refused(saved, tmp_path, monkeypatch):
    _, data, _ = saved
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        flags = archive.getinfo("estimator.json").flag_bits
    data = _patch_member(data, "estimator.json", flags=flags | 0x1)
    assert_file_refused(data, tmp_path, monkeypatch, "encrypted", SMALL_MIB)


@pytest.mark.parametrize(
    "member, method",
    [
        ("estimator.json", 99),
        ("estimator.json", zipfile.ZIP_LZMA),
        ("arrays.bin", zipfile.ZIP_DEFLATED),
        ("arrays.bin", zipfile.ZIP_BZIP2),
    ],
)
def test_an_unknown_or_unexpected_compression_method_is_refused(
    saved, tmp_path, monkeypatch, member, method
):
    _, data, _ = saved
    data = _patch_member(data, member, method=method)
    assert_file_refused(data, tmp_path, monkeypatch, "compression method", SMALL_MIB)
