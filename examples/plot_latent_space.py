"""
A two-dimensional latent space of the digits
============================================

With ``n_components=2`` an autoencoder's codes can be drawn directly.
:func:`skae.plot.plot_latent_space` scatters them, one colour per digit, next
to the first two principal components.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

from skae import StackedAE
from skae.plot import plot_latent_space

X, y = load_digits(return_X_y=True)
X = X / 16

# %%
# A two-number code
# -----------------
# The encoder is 64 -> 128 -> 64 -> 2 and the decoder mirrors it. A
# two-dimensional code is a hard bottleneck: the network has to place
# whole digit classes in the plane to reconstruct them. The 60 epochs used
# here are too few for the loss to settle (hence the silenced
# ``ConvergenceWarning``), but the classes already separate.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

ae = StackedAE(
    n_components=2, hidden_layer_sizes=(128, 64), batch_size=32, epochs=60, random_state=0
).fit(X)
pca = PCA(n_components=2).fit(X)

print(f"reconstruction MSE: StackedAE {-ae.score(X):.4f}")

# %%
# Codes coloured by digit
# -----------------------
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
plot_latent_space(pca, X, y, ax=left, s=6)
left.set_title("PCA, first two components")
plot_latent_space(ae, X, y, ax=right, s=6)
right.set_title("StackedAE, n_components=2")
plt.show()
