"""
A convolutional autoencoder on the digits
=========================================

A :class:`~skae.ConvolutionalAE` encodes images with convolutions and
pooling and decodes them with convolutions and upsampling. It reads flat
rows through ``image_shape``, so it fits in a ``Pipeline`` of 2-D data, or
arrays of images as they are.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skae import ConvolutionalAE
from skae.plot import plot_reconstructions

X = load_digits().data / 16
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)

# %%
# Two blocks of 16 and 8 filters take an 8 x 8 digit to a 2 x 2 x 8 tensor;
# ``n_components=16`` adds a dense bottleneck of 16 numbers after it. The
# short training keeps the page quick to build.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

cae = ConvolutionalAE(
    n_components=16,
    image_shape=(8, 8, 1),
    filters=(16, 8),
    batch_size=32,
    epochs=30,
    random_state=0,
).fit(X_train)
print(f"codes: {cae.transform(X_test).shape}, test reconstruction MSE {-cae.score(X_test):.4f}")

# %%
# Test digits over their reconstructions.
plot_reconstructions(cae, X_test, n_images=10)
plt.show()
