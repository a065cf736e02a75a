"""
Denoising digits
================

A :class:`~skae.DenoisingAE` is trained to reconstruct clean digits from
corrupted copies: while training, each input is corrupted afresh with gaussian
noise, and the loss compares the reconstruction with the clean input. At
prediction time no noise is added, so ``inverse_transform(transform(X_noisy))``
removes the noise. PCA, which projects onto the digits' main directions,
is the baseline.
"""

# %%
# Data and corruption
# -------------------
# Test digits are corrupted with gaussian noise of standard deviation 0.3
# (the pixels lie in [0, 1]) and clipped back to [0, 1].
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skae import DenoisingAE
from skae.plot import plot_reconstructions

X = load_digits().data / 16
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
rng = np.random.default_rng(0)
X_test_noisy = np.clip(X_test + rng.normal(scale=0.3, size=X_test.shape), 0, 1)

# %%
# Training
# --------
# ``noise_level`` is the standard deviation of the training noise; with the
# default ``noise_clip=True`` the corrupted inputs are clipped to the training
# data's range. ``noise="dropout"`` would instead zero each pixel with
# probability ``noise_level``. The short training (40 epochs) keeps the page
# quick to build.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

dae = DenoisingAE(
    n_components=16,
    hidden_layer_sizes=(128,),
    noise="gaussian",
    noise_level=0.3,
    batch_size=32,
    epochs=40,
    random_state=0,
).fit(X_train)
pca = PCA(n_components=16).fit(X_train)

# %%
# How far from the clean digits?
# ------------------------------
# Mean squared distance to the clean test digits of the noisy digits and of
# each model's reconstruction of them.


def mse(a, b):
    return np.mean((a - b) ** 2)


print(f"noisy input          : {mse(X_test_noisy, X_test):.4f}")
for name, model in [("PCA, 16 components", pca), ("DenoisingAE", dae)]:
    denoised = model.inverse_transform(model.transform(X_test_noisy))
    print(f"{name:<21}: {mse(denoised, X_test):.4f}")

# %%
# Originals, noisy inputs, reconstructions
# ----------------------------------------
# With ``X_noisy``, :func:`~skae.plot.plot_reconstructions` shows the noisy
# digits in a middle row and reconstructs from them.
fig = plt.figure(figsize=(9, 6.6), layout="constrained")
top, bottom = fig.subfigures(2, 1)
plot_reconstructions(pca, X_test, X_noisy=X_test_noisy, n_images=10, fig=top)
top.suptitle("PCA, 16 components")
plot_reconstructions(dae, X_test, X_noisy=X_test_noisy, n_images=10, fig=bottom)
bottom.suptitle("DenoisingAE")
plt.show()
