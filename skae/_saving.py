"""The skae saved format: parameters, fitted attributes and weights, nothing else.

A file, like a pickle's state, holds no description of a network. skae rebuilds
each network from its own code and the validated parameters, then sets the
weights: plain numeric arrays whose count, shapes and dtypes must be those of
the rebuilt network. Loading imports nothing a file names and never calls
Keras's deserialization, so a file cannot run code or change Keras's settings;
the limits below are checked before anything is read, so a small file cannot
make ``load`` allocate much more than its own size.
"""

import contextlib
import inspect
import json
import math
import numbers
import os
import struct
import zipfile
import zlib
from itertools import pairwise

import keras
import numpy as np
from sklearn.base import BaseEstimator

FORMAT = "skae"
# Version 1 stored each network as a Keras archive, whose config Keras deserialised.
FORMAT_VERSION = 2
STATE_MEMBER = "estimator.json"
ARRAYS_MEMBER = "arrays.bin"

# Limits, each well above what skae writes (see docs/user_guide/security.rst).
# Parameters, curves and feature names: kilobytes (100k feature names take ~2 MB).
# Parsing costs up to ~15 bytes of memory per byte of JSON, so this bounds it too.
MAX_JSON_BYTES = 4 * 2**20
MAX_JSON_DEPTH = 32  # skae writes at most 8 levels (a classifier's nested autoencoder)
MAX_JSON_CONTAINERS = 100_000  # lists and objects: one per array entry, curve, parameter...
MAX_COMPRESSION_RATIO = 50  # skae's JSON deflates 3-10x; whitespace padding deflates ~1000x
# About 500 million float32 values of weights and optimizer state; below 2 GiB, so
# that no file needs zip64 records, which skae therefore refuses.
MAX_ARRAY_BYTES = 2**31 - 2**24
MAX_MEMBERS = 2
MAX_DIRECTORY_BYTES = 4096  # the zip's central directory: two entries take ~120 bytes
MAX_ARRAYS = 10_000  # one per variable: a few dozen for skae's networks
MAX_ARRAY_NDIM = 8
MAX_SIZE = 2**31 - 1  # any count of features, units or classes
# How far the weights a network's parameters imply may exceed those in the file
# before the network is built (the bound counts biases generously).
_SIZE_BOUND_FACTOR = 8
_SIZE_BOUND_SLACK = 4096

# The dtypes a weight or optimizer variable can have, little-endian: float16 to 64,
# int32/int64 (counters, TensorFlow's seed states), uint32 (JAX's seed states), bool.
ARRAY_DTYPES = frozenset(np.dtype(t).str for t in ("<f2", "<f4", "<f8", "<i4", "<i8", "<u4", "?"))
# Parameters holding live Python objects that a file cannot carry (a pickle keeps them).
_UNSAVED_PARAMS = ("callbacks",)
_VERSION_1 = (
    "its networks are Keras archives, which skae no longer reads since loading them could "
    "run code; load it with the skae that wrote it, from a source you trust, and save it again"
)
_STATE_KEYS = {"format_version", "class", "params", "attributes", "network", "variables"}
_OUTPUT_CONTAINERS = {"default", "pandas", "polars"}


def _estimator_classes():
    import skae

    classes = (getattr(skae, name) for name in skae.__all__)
    return {
        cls.__name__: cls
        for cls in classes
        if isinstance(cls, type) and issubclass(cls, BaseEstimator) and not inspect.isabstract(cls)
    }


# ---------------------------------------------------------------------- value checks
def _check_int(value, name, low=0, high=MAX_SIZE):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {type(value).__name__}.")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}]; got {value}.")
    return int(value)


def _check_real(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number; got {type(value).__name__}.")
    return float(value)


def _check_curve(value, name):
    if not isinstance(value, list):
        raise ValueError(f"{name} must be a list of numbers; got {type(value).__name__}.")
    return [_check_real(v, f"{name}[{i}]") for i, v in enumerate(value)]


def _check_optional_curve(value, name):
    return None if value is None else _check_curve(value, name)


def _check_curves(value, name):
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f"{name} must be None or a list of loss curves.")
    return [_check_curve(v, f"{name}[{i}]") for i, v in enumerate(value)]


def _check_str(value, name):
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string; got {type(value).__name__}.")
    return value


def _check_names(value, name):
    if (
        not isinstance(value, np.ndarray)
        or value.ndim != 1
        or value.dtype != object
        or not all(isinstance(v, str) for v in value)
    ):
        raise ValueError(f"{name} must be a 1-D object array of strings.")
    return value


def _check_classes(value, name):
    if not isinstance(value, np.ndarray) or value.ndim != 1 or len(value) < 2:
        raise ValueError(f"{name} must be a 1-D array of at least two labels.")
    if value.dtype == object:
        if not all(isinstance(v, str) for v in value):
            raise ValueError(f"{name} of object dtype must hold strings only.")
    elif value.dtype.kind not in "U" and value.dtype.str not in ARRAY_DTYPES:
        raise ValueError(f"{name} has the unsupported dtype {value.dtype}.")
    if len(np.unique(value)) != len(value):
        raise ValueError(f"{name} holds a label twice.")
    return value


def _check_image_shape(value, name):
    if not isinstance(value, tuple) or len(value) != 3:
        raise ValueError(f"{name} must be a (height, width, channels) tuple.")
    return tuple(_check_int(v, f"{name}[{i}]", low=1) for i, v in enumerate(value))


def _check_input_ndim(value, name):
    if _check_int(value, name) not in (2, 4):
        raise ValueError(f"{name} must be 2 or 4; got {value}.")
    return int(value)


def _check_estimator(value, name):
    if not isinstance(value, BaseEstimator):
        raise ValueError(f"{name} must be an estimator; got {type(value).__name__}.")
    return value


def _check_autoencoder(value, name):
    from ._base import BaseAutoencoder

    if not isinstance(value, BaseAutoencoder) or "model_" not in vars(value):
        raise ValueError(f"{name} must be a fitted skae autoencoder; got {type(value).__name__}.")
    return value


def _check_output_config(value, name):
    if (
        not isinstance(value, dict)
        or not set(value) <= {"transform"}
        or not all(v in _OUTPUT_CONTAINERS for v in value.values())
    ):
        raise ValueError(f"{name} must map 'transform' to one of {sorted(_OUTPUT_CONTAINERS)}.")
    return dict(value)


# What each class's fit sets besides its networks: name -> check. A class has the
# attributes of every class in its MRO. The networks (model_, ...) are rebuilt, not stored.
_FITTED_BY_ALL = {
    "n_features_in_": lambda v, n: _check_int(v, n, low=1),
    "feature_names_in_": _check_names,
    "loss_curve_": _check_curve,
    "validation_loss_curve_": _check_optional_curve,
    "best_loss_": _check_real,
    "n_iter_": _check_int,
}
FITTED_ATTRIBUTES = {
    "BaseAutoencoder": {**_FITTED_BY_ALL, "output_activation_": _check_str},
    "StackedAE": {"pretrain_loss_curves_": _check_curves},
    "ConvolutionalAE": {"image_shape_": _check_image_shape, "input_ndim_": _check_input_ndim},
    "EncoderClassifier": {
        **_FITTED_BY_ALL,
        "autoencoder_": _check_estimator,
        "classes_": _check_classes,
        "n_unlabeled_": _check_int,
    },
    # No network of its own: estimator_ is a saved autoencoder, checked by the same path.
    "OutlierDetector": {
        "n_features_in_": lambda v, n: _check_int(v, n, low=1),
        "feature_names_in_": _check_names,
        "estimator_": _check_autoencoder,
        "offset_": _check_real,
    },
}
# Set by fit only for some data, or by methods other than fit (set_output).
_OPTIONAL_ATTRIBUTES = {
    "feature_names_in_": _check_names,
    "_sklearn_output_config": _check_output_config,
}


def fitted_attributes(cls):
    """Names and checks of the attributes a fitted ``cls`` holds besides its networks."""
    checks = {}
    for klass in reversed(cls.__mro__):
        checks.update(FITTED_ATTRIBUTES.get(klass.__name__, {}))
    return checks


# ---------------------------------------------------------------------- state
def estimator_state(estimator, network, variables):
    """The state of ``estimator`` that pickles and files carry, as plain values.

    ``network`` holds the few fitted values the rebuilt network needs that no
    parameter gives (e.g. the noise's clip range); ``variables`` the arrays of
    the model's and its optimizer's variables. Both are None when unfitted.
    """
    cls = type(estimator)
    allowed = fitted_attributes(cls)
    params = {name: estimator.__dict__[name] for name in cls._get_param_names()}
    attributes = {}
    for name, value in estimator.__dict__.items():
        if name in params or name in estimator._network_attributes():
            continue
        if name not in allowed and name not in _OPTIONAL_ATTRIBUTES:
            raise TypeError(
                f"Cannot save the attribute {name!r} of {cls.__name__}: it is not one that "
                "fit sets, so a saved file could not carry it."
            )
        attributes[name] = value
    return {
        "format_version": FORMAT_VERSION,
        "class": cls.__name__,
        "params": params,
        "attributes": attributes,
        "network": network,
        "variables": variables,
    }


def network_variables(model):
    """The arrays of ``model``'s variables and of its optimizer's, once built."""
    optimizer = model.optimizer
    built = optimizer is not None and optimizer.built
    return {
        "model": [keras.ops.convert_to_numpy(v) for v in model.variables],
        "optimizer": [keras.ops.convert_to_numpy(v) for v in optimizer.variables] if built else [],
    }


def restore_state(estimator, state):
    """Validate ``state`` and make ``estimator`` (fresh from ``__new__``) hold it.

    The one path of ``load`` and unpickling. Raises ``ValueError`` naming the
    first problem; on error ``estimator`` is left half-made and must be dropped.
    """
    cls = type(estimator)
    if not isinstance(state, dict):
        raise ValueError(f"The saved state of a {cls.__name__} is not a dict.")
    if "format_version" not in state:
        raise ValueError(
            f"This {cls.__name__} was pickled by an older skae, format version 1: {_VERSION_1}."
        )
    if state.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"The saved state has format version {state.get('format_version')!r}; this skae "
            f"reads version {FORMAT_VERSION}."
        )
    if set(state) != _STATE_KEYS:
        raise ValueError(
            f"The saved state has the keys {sorted(state)}; expected {sorted(_STATE_KEYS)}."
        )
    if state["class"] != cls.__name__:
        raise ValueError(
            f"The saved state is that of a {state['class']!r}, not of a {cls.__name__}."
        )

    params = state["params"]
    names = set(cls._get_param_names())
    if isinstance(params, dict):
        # A parameter added after the file was written takes the value with which the
        # file's estimator behaved: {name: value} in the class's _params_added_later
        # (the autoencoders' learning_rate_schedule: 'constant'; EncoderClassifier's
        # class_weight).
        later = getattr(cls, "_params_added_later", {})
        params = {**params, **{n: v for n, v in later.items() if n in names and n not in params}}
    if not isinstance(params, dict) or set(params) != names:
        got = set(params) if isinstance(params, dict) else set()
        raise ValueError(
            f"The saved parameters of {cls.__name__} do not match its parameters: "
            f"unknown {sorted(got - names)}, missing {sorted(names - got)}."
        )
    estimator.__dict__.update(params)
    try:
        estimator._validate_params()
    except (ValueError, TypeError) as error:  # InvalidParameterError is both
        raise ValueError(f"Invalid saved parameter of {cls.__name__}: {error}") from None

    attributes = state["attributes"]
    if not isinstance(attributes, dict):
        raise ValueError("The saved fitted attributes are not a dict.")
    allowed = fitted_attributes(cls)
    fitted = "n_features_in_" in attributes
    for name, value in attributes.items():
        if name in allowed and fitted:
            check = allowed[name]
        elif name in _OPTIONAL_ATTRIBUTES:
            check = _OPTIONAL_ATTRIBUTES[name]
        else:
            raise ValueError(
                f"The saved state sets the attribute {name!r}, which a "
                f"{'fitted' if fitted else 'unfitted'} {cls.__name__} does not have."
            )
        estimator.__dict__[name] = check(value, name)
    if not fitted:
        if state["network"] is not None or state["variables"] is not None:
            raise ValueError(f"The saved {cls.__name__} has weights but no n_features_in_.")
        return estimator
    missing = sorted(set(allowed) - set(attributes) - set(_OPTIONAL_ATTRIBUTES))
    if missing:
        raise ValueError(f"The saved fitted {cls.__name__} lacks the attributes {missing}.")
    names_in = attributes.get("feature_names_in_")
    if names_in is not None and len(names_in) != estimator.n_features_in_:
        raise ValueError(
            f"feature_names_in_ holds {len(names_in)} names for n_features_in_="
            f"{estimator.n_features_in_}."
        )
    if not estimator._network_attributes():  # a meta-estimator: its parts carry the weights
        if state["network"] is not None or state["variables"] is not None:
            raise ValueError(f"A saved {cls.__name__} carries no weights of its own.")
        estimator._check_fitted_state(None)
        return estimator
    if estimator.n_iter_ != len(estimator.loss_curve_):
        raise ValueError(
            f"n_iter_={estimator.n_iter_} disagrees with the {len(estimator.loss_curve_)} "
            "epochs of loss_curve_."
        )
    model_arrays, optimizer_arrays = _check_variables(state["variables"])
    # The family checks the fitted values against the parameters and bounds the
    # network's size before anything is built.
    bound = estimator._check_fitted_state(state["network"])
    declared = sum(a.size for a in model_arrays)
    if bound is not None and bound > _SIZE_BOUND_FACTOR * declared + _SIZE_BOUND_SLACK:
        raise ValueError(
            f"The saved parameters describe a network of up to {bound} weights, but the "
            f"saved arrays hold {declared} values."
        )
    model = estimator._rebuild_networks(state["network"])
    _assign(model.variables, model_arrays, "the network")
    if optimizer_arrays:
        # Built now, as the first training step would, so that training resumes
        # from the saved optimizer state (moments, step count, loss scale).
        model.optimizer.build(model.trainable_variables)
        _assign(model.optimizer.variables, optimizer_arrays, "the optimizer")
    return estimator


def network_size_bound(estimator):
    """An upper bound on the weights of the network that ``estimator``'s parameters give.

    Computed from the sizes alone, before anything is built, so that a file whose
    parameters describe a huge network is refused before Keras allocates it.
    Dense chains (StackedAE, VariationalAE) and convolutional stacks; None for
    other networks.
    """
    n_features = estimator.n_features_in_
    if hasattr(estimator, "filters") and hasattr(estimator, "image_shape_"):
        height, width, channels = estimator.image_shape_
        filters = [int(f) for f in estimator.filters]
        kernel = int(estimator.kernel_size) ** 2
        chain = [channels, *filters]
        bound = sum(2 * kernel * (a + 1) * (b + 1) for a, b in pairwise(chain))
        for _ in filters:
            height, width = -(-height // 2), -(-width // 2)
        if estimator.n_components is not None:
            bound += 2 * (height * width * filters[-1] + 1) * (int(estimator.n_components) + 1)
        return bound
    if hasattr(estimator, "hidden_layer_sizes"):
        chain = [n_features, *(int(s) for s in estimator.hidden_layer_sizes)]
        chain.append(int(estimator.n_components))
        # Encoder and decoder, and VariationalAE's second head: three times the chain.
        return sum(3 * (a + 1) * (b + 1) for a, b in pairwise(chain))
    return None


def _check_variables(variables):
    if not isinstance(variables, dict) or set(variables) != {"model", "optimizer"}:
        raise ValueError("The saved weights must be a dict of 'model' and 'optimizer' arrays.")
    out = []
    for part in ("model", "optimizer"):
        arrays = variables[part]
        if not isinstance(arrays, list) or len(arrays) > MAX_ARRAYS:
            raise ValueError(f"The saved {part} weights must be a list of arrays.")
        out.append([_check_array(a, f"{part} array {i}") for i, a in enumerate(arrays)])
    return out


def _check_array(value, name):
    if not isinstance(value, np.ndarray):
        raise ValueError(f"The saved {name} is not a NumPy array.")
    value = np.asarray(value)  # e.g. a joblib memmap
    dtype = value.dtype
    if dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"The saved {name} has a structured dtype {dtype}.")
    little = dtype.newbyteorder("<") if dtype.byteorder == ">" else dtype
    if little.str not in ARRAY_DTYPES:
        raise ValueError(f"The saved {name} has the dtype {dtype}, which is not plain numeric.")
    return value.astype(little, copy=False)


def _assign(variables, arrays, what):
    if len(variables) != len(arrays):
        raise ValueError(
            f"The saved file holds {len(arrays)} arrays for {what}, but the one its "
            f"parameters describe has {len(variables)} variables."
        )
    for variable, array in zip(variables, arrays, strict=True):
        shape, dtype = tuple(variable.shape), np.dtype(variable.dtype)
        if array.shape != shape or array.dtype != dtype:
            raise ValueError(
                f"The saved array for {variable.path} of {what} has shape {array.shape} and "
                f"dtype {array.dtype}; the network built from the parameters needs {shape} "
                f"and {dtype}."
            )
    for variable, array in zip(variables, arrays, strict=True):
        variable.assign(array)


def layer_mismatch(expected, model):
    """The first layer of ``model`` that the layers ``expected`` would not rebuild, or None.

    Compared by class and configuration, seeds aside (the saved seed states
    and weights replace what seeds give). Called when saving, so that a file
    never holds weights for a network its parameters do not describe (e.g.
    parameters changed with ``set_params`` after ``fit``).
    """

    def config(layer):
        ignored = ("seed", "kernel_initializer", "bias_initializer")
        return type(layer), {k: v for k, v in layer.get_config().items() if k not in ignored}

    live = {
        layer.name: layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    }
    for name in sorted(set(live) | set(expected)):
        if name not in live or name not in expected or config(live[name]) != config(expected[name]):
            return name
    return None


# ---------------------------------------------------------------------- the file
def _encode(value, arrays, where):
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, np.ndarray):
        return _encode_small_array(value, where)
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays, where) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"Cannot save {where}: a dict with non-string keys.")
        return {"__dict__": {k: _encode(v, arrays, f"{where}[{k!r}]") for k, v in value.items()}}
    if isinstance(value, BaseEstimator):
        return {"__estimator__": _encode_estimator(value, arrays)}
    if isinstance(value, np.random.RandomState):
        return None  # documented: a RandomState instance is saved as random_state=None
    raise TypeError(f"Cannot save {where} of type {type(value).__name__} in the skae format.")


def _encode_small_array(value, where):
    # Fitted attributes such as classes_ and feature_names_in_: 1-D, inline in the JSON.
    if value.ndim != 1:
        raise TypeError(f"Cannot save {where}: a {value.ndim}-D array attribute.")
    if value.dtype == object and all(isinstance(v, str) for v in value):
        return {"__ndarray__": value.tolist(), "dtype": "object"}
    if value.dtype.kind == "U":
        return {"__ndarray__": value.tolist(), "dtype": "str"}
    little = value.dtype.newbyteorder("<") if value.dtype.byteorder == ">" else value.dtype
    if little.str not in ARRAY_DTYPES:
        raise TypeError(f"Cannot save {where}: an array of dtype {value.dtype}.")
    return {"__ndarray__": value.tolist(), "dtype": little.str}


def _encode_estimator(estimator, arrays):
    name = type(estimator).__name__
    if _estimator_classes().get(name) is not type(estimator):
        raise TypeError(f"Only skae estimators can be saved in the skae format; got {name}.")
    state = estimator.__getstate__()
    params = {
        k: None if k in _UNSAVED_PARAMS else _encode(v, arrays, f"{name}.{k}")
        for k, v in state["params"].items()
    }
    attributes = {k: _encode(v, arrays, f"{name}.{k}") for k, v in state["attributes"].items()}
    variables = state["variables"]
    if variables is not None:
        variables = {part: [_add_array(a, arrays) for a in variables[part]] for part in variables}
    return {
        "class": name,
        "params": params,
        "attributes": attributes,
        "network": state["network"],
        "variables": variables,
    }


def _add_array(value, arrays):
    value = np.asarray(value, order="C")  # ascontiguousarray would make 0-d arrays 1-d
    if value.dtype.byteorder == ">":
        value = value.astype(value.dtype.newbyteorder("<"))
    offset = sum(a.nbytes for a in arrays)
    arrays.append(value)
    return {"dtype": value.dtype.str, "shape": list(value.shape), "offset": offset}


class _Reader:
    """Decodes the JSON document, taking arrays from the blob in document order."""

    def __init__(self, blob):
        self.blob = blob
        self.cursor = 0
        self.n_arrays = 0
        self.classes = _estimator_classes()

    def value(self, value, where):
        if isinstance(value, list):
            return [self.value(v, where) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1 and "__tuple__" in value and isinstance(value["__tuple__"], list):
            return tuple(self.value(v, where) for v in value["__tuple__"])
        if len(value) == 1 and "__dict__" in value and isinstance(value["__dict__"], dict):
            return {k: self.value(v, where) for k, v in value["__dict__"].items()}
        if len(value) == 1 and "__estimator__" in value:
            return self.estimator(value["__estimator__"])
        if set(value) == {"__ndarray__", "dtype"}:
            return _decode_small_array(value["__ndarray__"], value["dtype"], where)
        raise ValueError(f"Unrecognised entry in {where}: keys {sorted(value)[:5]}.")

    def estimator(self, node):
        keys = {"class", "params", "attributes", "network", "variables"}
        if not isinstance(node, dict) or set(node) != keys:
            raise ValueError(f"An estimator entry must have exactly the keys {sorted(keys)}.")
        name = node["class"]
        cls = self.classes.get(name) if isinstance(name, str) else None
        if cls is None:
            raise ValueError(f"Unknown estimator class {name!r} in saved file.")
        for part in ("params", "attributes"):
            if not isinstance(node[part], dict):
                raise ValueError(f"The {part} of the saved {name} are not a dict.")
        state = {
            "format_version": FORMAT_VERSION,
            "class": name,
            "params": {k: self.value(v, f"{name}.{k}") for k, v in node["params"].items()},
            "attributes": {k: self.value(v, f"{name}.{k}") for k, v in node["attributes"].items()},
            "network": node["network"],
            "variables": self.variables(node["variables"], name),
        }
        estimator = cls.__new__(cls)
        restore_state(estimator, state)
        return estimator

    def variables(self, variables, name):
        if variables is None:
            return None
        if not isinstance(variables, dict) or set(variables) != {"model", "optimizer"}:
            raise ValueError(f"The weights of the saved {name} must be 'model' and 'optimizer'.")
        out = {}
        for part in ("model", "optimizer"):
            entries = variables[part]
            if not isinstance(entries, list):
                raise ValueError(f"The {part} weights of the saved {name} are not a list.")
            out[part] = [self.array(e, f"{name} {part} array {i}") for i, e in enumerate(entries)]
        return out

    def array(self, entry, where):
        self.n_arrays += 1
        if self.n_arrays > MAX_ARRAYS:
            raise ValueError(f"The file holds more than {MAX_ARRAYS} arrays.")
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "offset"}:
            raise ValueError(f"{where} must have exactly the keys dtype, shape and offset.")
        dtype, shape = entry["dtype"], entry["shape"]
        if not isinstance(dtype, str) or dtype not in ARRAY_DTYPES:
            raise ValueError(f"{where} has the dtype {dtype!r}, which is not plain numeric.")
        if not isinstance(shape, list) or len(shape) > MAX_ARRAY_NDIM:
            raise ValueError(f"{where} must have a shape of at most {MAX_ARRAY_NDIM} sizes.")
        shape = tuple(_check_int(s, f"{where} shape") for s in shape)
        offset = _check_int(entry["offset"], f"{where} offset", high=MAX_ARRAY_BYTES)
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize  # Python integers: no overflow
        if offset != self.cursor or offset + nbytes > len(self.blob):
            raise ValueError(
                f"{where} declares {nbytes} bytes at offset {offset}, but {ARRAYS_MEMBER} holds "
                f"{len(self.blob)} bytes and the next array starts at {self.cursor}."
            )
        self.cursor += nbytes
        return np.frombuffer(self.blob, dtype=dtype, count=math.prod(shape), offset=offset).reshape(
            shape
        )


def _decode_small_array(values, dtype, where):
    if not isinstance(values, list) or len(values) > MAX_SIZE:
        raise ValueError(f"{where} must be a list of values.")
    if dtype in ("object", "str"):
        if not all(isinstance(v, str) for v in values):
            raise ValueError(f"{where} must hold strings only.")
        return np.array(values, dtype=object if dtype == "object" else str)
    if not isinstance(dtype, str) or dtype not in ARRAY_DTYPES:
        raise ValueError(f"{where} has the dtype {dtype!r}, which is not plain numeric.")
    kind = np.dtype(dtype).kind
    types = {"b": (bool,), "f": (int, float)}.get(kind, (int,))
    if not all(isinstance(v, types) and (kind == "b" or not isinstance(v, bool)) for v in values):
        raise ValueError(f"{where} holds values that are not of dtype {dtype}.")
    try:
        return np.array(values, dtype=dtype)
    except OverflowError:
        raise ValueError(f"{where} holds values out of the range of {dtype}.") from None


def save(estimator, path):
    """Save a skae estimator (fitted or not) to ``path``.

    The file is a zip of two members: the parameters and fitted attributes as
    JSON, and the weights (with the optimizer's state) as raw little-endian
    arrays. It holds no description of a network: :func:`load` rebuilds each
    network from skae's own code and the parameters, so the file loads on any
    machine, with or without a GPU, and cannot run code (see
    :ref:`security`). ``callbacks`` are not saved (they hold live objects),
    and a ``RandomState`` instance as ``random_state`` is saved as ``None``.

    Parameters
    ----------
    estimator : skae estimator
        Any estimator that ``skae`` exports, fitted or not.
    path : str or path-like
        Where to write the file; an existing file is replaced.

    Raises
    ------
    ValueError
        If the fitted networks no longer match the parameters (e.g. after
        ``set_params`` changed a layer size): the file could not rebuild them.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> from sklearn.datasets import load_digits
    >>> import skae
    >>> X = load_digits().data / 16
    >>> ae = skae.StackedAE(n_components=4, hidden_layer_sizes=(16,), epochs=2, random_state=0)
    >>> ae = ae.fit(X)  # a short training, enough for the example
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "digits.skae")
    ...     skae.save(ae, path)
    ...     loaded = skae.load(path)
    >>> loaded
    StackedAE(epochs=2, hidden_layer_sizes=(16,), n_components=4, random_state=0)
    >>> bool((loaded.transform(X) == ae.transform(X)).all())
    True
    """
    arrays = []
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": _encode_estimator(estimator, arrays),
    }
    text = json.dumps(document)
    n_bytes = sum(a.nbytes for a in arrays)
    if n_bytes > MAX_ARRAY_BYTES:
        raise ValueError(
            f"The estimator's weights take {n_bytes} bytes, over the {MAX_ARRAY_BYTES} that "
            "load reads; pickle it instead."
        )
    if len(text) > MAX_JSON_BYTES:
        raise ValueError(
            f"The estimator's parameters and attributes take {len(text)} bytes of JSON, over "
            f"the {MAX_JSON_BYTES} that load reads."
        )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(STATE_MEMBER, text, compress_type=zipfile.ZIP_DEFLATED)
        if arrays:
            # Stored, not compressed: weights barely compress, and a stored member's
            # size on disk bounds what reading it allocates.
            with archive.open(ARRAYS_MEMBER, "w") as member:
                for array in arrays:
                    member.write(array.tobytes())


def load(path):
    """Load an estimator saved with :func:`save`, rebuilding its networks from skae's code.

    The file's parameters, attributes and arrays are checked before use and
    no network description is read from it, so loading runs no code from the
    file and changes no global setting (see :ref:`security` for what is
    checked and the limits).

    Parameters
    ----------
    path : str, path-like or binary file object

    Returns
    -------
    estimator : skae estimator

    Raises
    ------
    ValueError
        If the file is not a skae file of this format version, is truncated
        or corrupted, exceeds a limit, or holds parameters, attributes or
        weights that do not fit together; the message names the problem.

    See Also
    --------
    save : Write an estimator to a file.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import skae
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "model.skae")
    >>> skae.save(skae.DenoisingAE(noise_level=0.5), path)
    >>> skae.load(path)
    DenoisingAE(noise_level=0.5)
    >>> with open(path, "wb") as file:
    ...     _ = file.write(b"not a skae file")
    >>> skae.load(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: '...model.skae' is not a skae saved file (not a zip archive): ...
    >>> folder.cleanup()
    """
    file = open(path, "rb") if isinstance(path, (str, os.PathLike)) else path
    try:
        # zipfile reads the whole central directory on opening: bound it first.
        _check_directory(file, path)
        try:
            archive = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, EOFError, ValueError, struct.error) as error:
            raise ValueError(
                f"{path!r} is not a skae saved file (not a zip archive): {error}"
            ) from None
    except BaseException:
        if file is not path:
            file.close()
        raise
    with archive, file if file is not path else contextlib.nullcontext():
        try:
            document, blob = _read_archive(archive, path)
            if document.get("format_version") == 1:
                raise ValueError(f"{path!r} has format version 1: {_VERSION_1}.")
            if document.get("format_version") != FORMAT_VERSION:
                raise ValueError(
                    f"{path!r} has format version {document.get('format_version')!r}; this "
                    f"skae reads version {FORMAT_VERSION}."
                )
            if set(document) != {"format", "format_version", "estimator"}:
                raise ValueError(f"{path!r} has unexpected top-level keys {sorted(document)}.")
            reader = _Reader(blob)
            estimator = reader.estimator(document["estimator"])
            if reader.cursor != len(blob):
                raise ValueError(
                    f"{ARRAYS_MEMBER} holds {len(blob) - reader.cursor} bytes that no array uses."
                )
            return estimator
        except ValueError as error:
            message = str(error)
            if repr(path) not in message:
                message = f"{path!r} is refused: {message}"
            raise ValueError(message) from None
        except (
            TypeError,
            KeyError,
            AttributeError,
            IndexError,
            OverflowError,
            RecursionError,
            NotImplementedError,
            RuntimeError,
            EOFError,
            struct.error,
            zipfile.BadZipFile,
            zlib.error,
        ) as error:  # a backstop: every refusal is a ValueError
            raise ValueError(f"{path!r} is corrupted: {type(error).__name__}: {error}") from None


def _check_directory(file, path):
    """Refuse, from the end record, a zip whose directory is larger than skae writes."""
    file.seek(0, os.SEEK_END)
    size = file.tell()
    tail_size = min(size, 22 + 65535)  # the end record and the longest zip comment
    file.seek(size - tail_size)
    tail = file.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return  # not a zip: zipfile says so
    if at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        raise ValueError(f"{path!r} is a zip64 archive, which skae never writes.")
    entries, directory_size = struct.unpack("<HI", tail[at + 10 : at + 16])
    if entries > MAX_MEMBERS or directory_size > MAX_DIRECTORY_BYTES:
        raise ValueError(
            f"{path!r} has {entries} members in a {directory_size}-byte directory; a skae file "
            f"has at most {MAX_MEMBERS} members ({STATE_MEMBER}, {ARRAYS_MEMBER})."
        )
    file.seek(0)


def _read_archive(archive, path):
    """The document and the arrays blob, after the limits on the zip's directory."""
    infos = archive.infolist()
    names = [info.filename for info in infos]
    # Only the two names skae writes: no paths, no "..", no other files (Keras archives).
    for name in names[:100]:
        if name not in (STATE_MEMBER, ARRAYS_MEMBER):
            old = ""
            if name.endswith(".keras"):
                old = f" (as in format version 1 files: {_VERSION_1})"
            raise ValueError(
                f"{path!r} holds the member {name!r}, which is not one skae writes{old}."
            )
    if STATE_MEMBER not in names:
        raise ValueError(f"{path!r} is not a skae saved file (no {STATE_MEMBER}).")
    if len(infos) > MAX_MEMBERS or len(set(names)) != len(names):
        raise ValueError(
            f"{path!r} has {len(infos)} members; a skae file has {STATE_MEMBER} and at most "
            f"{ARRAYS_MEMBER}."
        )
    for info in infos:
        if info.flag_bits & 0x1:
            raise ValueError(f"{path!r}: the member {info.filename!r} is encrypted.")
        allowed = (zipfile.ZIP_STORED,)
        if info.filename == STATE_MEMBER:
            allowed = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
        if info.compress_type not in allowed:
            raise ValueError(
                f"{path!r}: the member {info.filename!r} uses compression method "
                f"{info.compress_type}; skae reads only {list(allowed)} there."
            )
    state = archive.getinfo(STATE_MEMBER)
    if state.file_size > MAX_JSON_BYTES:
        raise ValueError(
            f"{path!r}: {STATE_MEMBER} declares {state.file_size} bytes, over the limit of "
            f"{MAX_JSON_BYTES}."
        )
    if state.file_size > MAX_COMPRESSION_RATIO * state.compress_size + 4096:
        raise ValueError(
            f"{path!r}: {STATE_MEMBER} expands {state.file_size / max(state.compress_size, 1):.0f}"
            f" times, over the limit of {MAX_COMPRESSION_RATIO} (a decompression bomb?)."
        )
    text = _read_member(archive, state, path)
    depth, containers = _json_shape(text)
    if depth > MAX_JSON_DEPTH:
        raise ValueError(
            f"{path!r}: {STATE_MEMBER} nests {depth} levels deep, over the limit of "
            f"{MAX_JSON_DEPTH}."
        )
    if containers > MAX_JSON_CONTAINERS:
        raise ValueError(
            f"{path!r}: {STATE_MEMBER} opens {containers} lists and objects, over the limit of "
            f"{MAX_JSON_CONTAINERS}."
        )
    try:
        text = text.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path!r} is corrupted: {STATE_MEMBER} is not UTF-8: {error}") from None
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{path!r} is corrupted: {STATE_MEMBER}: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a skae saved file.")
    blob = b""
    if ARRAYS_MEMBER in names:
        info = archive.getinfo(ARRAYS_MEMBER)
        if info.file_size > MAX_ARRAY_BYTES or info.file_size != info.compress_size:
            raise ValueError(
                f"{path!r}: {ARRAYS_MEMBER} declares {info.file_size} bytes "
                f"({info.compress_size} stored); the limit is {MAX_ARRAY_BYTES}, stored as is."
            )
        blob = _read_member(archive, info, path)
    return document, blob


def _read_member(archive, info, path):
    # zipfile stops at the declared size and checks the CRC, so reading allocates at
    # most the size that the limits above allowed, whatever the data stream holds.
    with archive.open(info) as member:
        data = member.read(info.file_size)
        if member.read(1):
            raise ValueError(f"{path!r}: {info.filename} holds more than its declared size.")
    if len(data) != info.file_size:
        raise ValueError(f"{path!r} is truncated: {info.filename} is short.")
    return data


_STRUCTURE = b'"[]{}'
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)
_STEPS = np.zeros(256, dtype=np.int8)
_STEPS[[ord("["), ord("{")]] = 1
_STEPS[[ord("]"), ord("}")]] = -1


def _json_shape(data):
    """How deep the UTF-8 JSON ``data`` nests outside strings, and how many containers it opens.

    Linear in the bytes, with a few copies at most, and run before parsing. An
    escaped backslash or quote cannot end a string, so those go first (bytes.replace
    pairs backslashes left to right, as JSON does); then only quotes and brackets
    are kept, and a bracket after an odd number of quotes is inside a string.
    Multi-byte UTF-8 characters never contain these ASCII bytes.
    """
    kept = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    quotes = depth = deepest = containers = 0
    chunk = 2**16  # small chunks keep NumPy's temporaries small
    for start in range(0, len(kept), chunk):
        codes = np.frombuffer(kept[start : start + chunk], dtype=np.uint8)
        is_quote = codes == ord('"')
        inside = (np.cumsum(is_quote, dtype=np.int32) + quotes) % 2 == 1
        quotes += int(is_quote.sum())
        steps = np.where(inside, 0, _STEPS[codes]).astype(np.int8)
        containers += int((steps == 1).sum())
        levels = np.cumsum(steps, dtype=np.int32) + depth
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
    return deepest, containers


def _unique_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"A JSON object repeats a key among {sorted(set(keys))[:5]}.")
    return dict(pairs)
