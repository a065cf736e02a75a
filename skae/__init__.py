"""skae: scikit-learn compatible autoencoder transformers built on Keras 3."""

from ._base import BaseAutoencoder
from ._saving import load, save
from ._stacked import DenoisingAE, SparseAE, StackedAE

__version__ = "0.1.0"

__all__ = [
    "BaseAutoencoder",
    "DenoisingAE",
    "SparseAE",
    "StackedAE",
    "__version__",
    "load",
    "save",
]
