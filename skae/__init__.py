"""skae: scikit-learn compatible autoencoder transformers built on Keras 3."""

from ._base import BaseAutoencoder
from ._classifier import EncoderClassifier
from ._convolutional import ConvolutionalAE
from ._outlier import OutlierDetector
from ._saving import load, save
from ._stacked import DenoisingAE, SparseAE, StackedAE
from ._variational import VariationalAE

__version__ = "0.1.0"

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
