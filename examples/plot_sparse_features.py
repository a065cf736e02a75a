"""
Sparse codes and the features they learn
========================================

A :class:`~skae.SparseAE` adds a KL-divergence penalty that pushes each code
unit's mean activation towards ``sparsity_target``, so each unit answers to
only a few inputs. Here the code layer reads the pixels directly
(``hidden_layer_sizes=()``), so :func:`skae.plot.plot_first_layer_features`
shows what each code unit responds to.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skae import SparseAE, StackedAE
from skae.plot import plot_first_layer_features

X = load_digits().data / 16

# %%
# With and without the penalty
# ----------------------------
# Both networks have a 36-unit sigmoid code; only the first adds the sparsity
# penalty, with target mean activation 0.05. The penalty is added to the
# mean squared error, which is small for pixels in [0, 1], so its weight
# ``sparsity_weight`` is small too (0.01, below the default of 0.03). A
# little weight decay (``l2``) shrinks the weights of the border pixels,
# which are blank in almost every digit, so that the
# features below show strokes rather than leftover random weights. The
# short training (40 epochs at a raised learning rate) keeps the page quick
# to build.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

settings = dict(
    n_components=36,
    hidden_layer_sizes=(),
    l2=1e-5,
    learning_rate=0.01,
    batch_size=32,
    epochs=40,
    random_state=0,
)
sparse = SparseAE(sparsity_weight=0.01, sparsity_target=0.05, **settings).fit(X)
dense = StackedAE(code_activation="sigmoid", **settings).fit(X)

for name, model in [("SparseAE", sparse), ("StackedAE", dense)]:
    codes = model.transform(X)
    print(
        f"{name:>9}: mean code activation {codes.mean():.3f}, "
        f"share of activations above 0.5 {np.mean(codes > 0.5):.3f}, "
        f"reconstruction MSE {-model.score(X):.4f}"
    )

# %%
# First-layer features
# --------------------
# Each image is one code unit's weights on the 64 pixels, on its own colour
# scale.
fig = plt.figure(figsize=(10, 5.4), layout="constrained")
left, right = fig.subfigures(1, 2)
plot_first_layer_features(sparse, fig=left)
left.suptitle("SparseAE")
plot_first_layer_features(dense, fig=right)
right.suptitle("StackedAE, sigmoid code")
plt.show()

# %%
# Code activations
# ----------------
# The penalty leaves most activations near zero.
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
bins = np.linspace(0, 1, 41)
ax.hist(sparse.transform(X).ravel(), bins=bins, alpha=0.7, label="SparseAE")
ax.hist(dense.transform(X).ravel(), bins=bins, alpha=0.7, label="StackedAE")
ax.set_xlabel("code activation")
ax.set_ylabel("count")
ax.set_yscale("log")
ax.legend()
plt.show()
