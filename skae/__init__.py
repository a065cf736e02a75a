"""skae: scikit-learn compatible autoencoder transformers built on Keras 3."""

# The estimators are imported on first use (PEP 562), so that ``import skae`` alone does
# not import Keras and TensorFlow: ``python -m skae`` imports this package before its
# __main__ runs, and must be able to quiet TensorFlow's start-up logging before TensorFlow
# is imported. A new export goes in _EXPORTS, __all__ and the TYPE_CHECKING block.
import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "BaseAutoencoder": "._base",
    "ConvolutionalAE": "._convolutional",
    "DenoisingAE": "._stacked",
    "EncoderClassifier": "._classifier",
    "OutlierDetector": "._outlier",
    "SparseAE": "._stacked",
    "StackedAE": "._stacked",
    "VariationalAE": "._variational",
    "load": "._saving",
    "save": "._saving",
}

__all__ = [
    "BaseAutoencoder",
    "ConvolutionalAE",
    "DenoisingAE",
    "EncoderClassifier",
    "OutlierDetector",
    "SparseAE",
    "StackedAE",
    "VariationalAE",
    "__version__",
    "load",
    "save",
]

if TYPE_CHECKING:  # for static analysis; at run time __getattr__ imports them
    from ._base import BaseAutoencoder
    from ._classifier import EncoderClassifier
    from ._convolutional import ConvolutionalAE
    from ._outlier import OutlierDetector
    from ._saving import load, save
    from ._stacked import DenoisingAE, SparseAE, StackedAE
    from ._variational import VariationalAE


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value  # later look-ups do not come back here
    return value


def __dir__():
    return sorted({*globals(), *_EXPORTS})
