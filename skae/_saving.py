"""The skae saved format: one zip file, parameters as JSON, networks as .keras archives.

Loading never unpickles and never imports a class named by the file: estimator
classes come from skae's own public API, and networks load through Keras's safe
mode, which refuses ``Lambda`` layers and unregistered classes.
"""

import io
import json
import os
import tempfile
import zipfile

import keras
import numpy as np
from sklearn.base import BaseEstimator

FORMAT = "skae"
FORMAT_VERSION = 1
_STATE_MEMBER = "estimator.json"
# Parameters holding live Python objects that a JSON file cannot carry.
_UNSAVED_PARAMS = ("callbacks",)


def _estimator_classes():
    import skae

    classes = (getattr(skae, name) for name in skae.__all__)
    return {
        cls.__name__: cls
        for cls in classes
        if isinstance(cls, type) and issubclass(cls, BaseEstimator)
    }


def _encode(value, members, where):
    if isinstance(value, (bytes, bytearray)):
        name = f"blob{len(members)}.keras"
        members[name] = bytes(value)
        return {"__bytes__": name}
    if isinstance(value, np.ndarray):
        if value.dtype == object and not all(isinstance(v, str) for v in value.ravel()):
            raise TypeError(f"Cannot save {where}: an object array of non-strings.")
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, members, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, members, where) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"Cannot save {where}: a dict with non-string keys.")
        return {"__dict__": {k: _encode(v, members, f"{where}[{k!r}]") for k, v in value.items()}}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, BaseEstimator):
        return _encode_estimator(value, members)
    if isinstance(value, np.random.RandomState):
        return None  # documented: a RandomState instance is saved as random_state=None
    raise TypeError(f"Cannot save {where} of type {type(value).__name__} in the skae format.")


def _encode_estimator(estimator, members):
    name = type(estimator).__name__
    if _estimator_classes().get(name) is not type(estimator):
        raise TypeError(f"Only skae estimators can be saved in the skae format; got {name}.")
    state = dict(estimator.__getstate__())
    for param in _UNSAVED_PARAMS:
        if param in state:
            state[param] = None
    return {"__estimator__": name, "state": _encode(state, members, name)}


def _decode(value, archive):
    if isinstance(value, list):
        return [_decode(v, archive) for v in value]
    if not isinstance(value, dict):
        return value
    if "__bytes__" in value:
        return archive.read(value["__bytes__"])
    if "__ndarray__" in value:
        dtype = np.dtype(value["dtype"])
        return np.array(value["__ndarray__"], dtype=object if dtype.kind == "O" else dtype)
    if "__tuple__" in value:
        return tuple(_decode(v, archive) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v, archive) for k, v in value["__dict__"].items()}
    if "__estimator__" in value:
        cls = _estimator_classes().get(value["__estimator__"])
        if cls is None:
            raise ValueError(f"Unknown estimator class {value['__estimator__']!r} in saved file.")
        estimator = cls.__new__(cls)
        estimator.__setstate__(_decode(value["state"], archive))
        return estimator
    raise ValueError(f"Unrecognised entry in saved file: {sorted(value)}.")


def save(estimator, path):
    """Save a skae estimator (fitted or not) to ``path``.

    The file is a zip holding the estimator's parameters and fitted
    attributes as JSON and each network in Keras's ``.keras`` format. It
    loads with :func:`load` on any machine, with or without a GPU.
    ``callbacks`` are not saved (they hold live objects), and a
    ``RandomState`` instance as ``random_state`` is saved as ``None``.

    Parameters
    ----------
    estimator : skae estimator
        Any estimator that ``skae`` exports, fitted or not.
    path : str or path-like
        Where to write the file; an existing file is replaced.

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
    members = {}
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": _encode_estimator(estimator, members),
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_STATE_MEMBER, json.dumps(document))
        for name, data in members.items():
            archive.writestr(name, data)


def load(path):
    """Load an estimator saved with ``save``, without executing code from the file.

    Parameters
    ----------
    path : str, path-like or binary file object

    Returns
    -------
    estimator : skae estimator

    Raises
    ------
    ValueError
        If the file is not a skae file, is truncated or corrupted, names an
        unknown estimator, or holds a network that would need arbitrary code
        (such as a ``Lambda`` layer) to load.

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
    >>> skae.save(skae.DenoisingAE(noise_level=0.3), path)
    >>> skae.load(path)
    DenoisingAE(noise_level=0.3)
    >>> with open(path, "wb") as file:
    ...     _ = file.write(b"not a skae file")
    >>> skae.load(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: '...model.skae' is not a skae saved file (not a zip archive): ...
    >>> folder.cleanup()
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError) as error:
        raise ValueError(
            f"{path!r} is not a skae saved file (not a zip archive): {error}"
        ) from None
    with archive:
        try:
            document = json.loads(archive.read(_STATE_MEMBER))
        except KeyError:
            raise ValueError(f"{path!r} is not a skae saved file (no {_STATE_MEMBER}).") from None
        except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, EOFError) as error:
            raise ValueError(f"{path!r} is corrupted: {error}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"{path!r} is not a skae saved file.")
        if document.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path!r} has format version {document.get('format_version')!r}; this skae "
                f"reads version {FORMAT_VERSION}."
            )
        try:
            return _decode(document["estimator"], archive)
        except (KeyError, zipfile.BadZipFile, EOFError) as error:
            raise ValueError(f"{path!r} is corrupted: {error}") from None


def model_to_bytes(model):
    """The model in Keras's own ``.keras`` format, as bytes."""
    # keras.saving.save_model only takes paths ending in ".keras".
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as file:
            return file.read()


def model_from_bytes(data):
    """Load a ``.keras`` archive from bytes in Keras's safe mode.

    Raises ``ValueError`` for data that is not a Keras archive or that asks
    for arbitrary code (a ``Lambda`` layer, an unregistered class).
    """
    if not isinstance(data, (bytes, bytearray)) or not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValueError(
            "The saved network is not a valid .keras archive (truncated or corrupted)."
        )
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as file:
            file.write(data)
        try:
            return keras.saving.load_model(path, safe_mode=True)
        except Exception as error:  # Keras raises many types for bad archives
            raise ValueError(f"Could not load the saved network safely: {error}") from error
