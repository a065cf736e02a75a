"""
StackedAE against PCA on the digits
===================================

A deep autoencoder and PCA compress scikit-learn's 8 x 8 digits to the same
code size, 8 numbers per image. We compare their reconstruction error on
held-out digits, show the reconstructions with
:func:`skae.plot.plot_reconstructions`, and check how well a logistic
regression classifies digits from their codes.
"""

# %%
# Data
# ----
# Pixels are scaled to [0, 1]; a quarter of the digits is held out.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skae import StackedAE
from skae.plot import plot_loss_curves, plot_reconstructions

X, y = load_digits(return_X_y=True)
X = X / 16
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

# %%
# Fit both with 8 components
# --------------------------
# The autoencoder maps 64 pixels to 64 hidden units and then to an 8-number
# code; the decoder mirrors it. Its output activation resolves to a sigmoid
# because the pixels lie in [0, 1]. It trains for only 40 epochs here, which
# stops before the loss has settled, hence the silenced
# ``ConvergenceWarning``.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

ae = StackedAE(
    n_components=8, hidden_layer_sizes=(64,), batch_size=32, epochs=40, random_state=0
).fit(X_train)
pca = PCA(n_components=8).fit(X_train)


def reconstruction_mse(model, X):
    return np.mean((model.inverse_transform(model.transform(X)) - X) ** 2)


for name, model in [("PCA", pca), ("StackedAE", ae)]:
    clf = LogisticRegression(max_iter=2000).fit(model.transform(X_train), y_train)
    accuracy = clf.score(model.transform(X_test), y_test)
    print(
        f"{name:>9}: test reconstruction MSE {reconstruction_mse(model, X_test):.4f}, "
        f"accuracy of logistic regression on the codes {accuracy:.3f}"
    )

# %%
# The autoencoder's score is minus its mean squared reconstruction error, so
# ``GridSearchCV`` ranks autoencoders by reconstruction without a scorer.
print(f"ae.score(X_test) = {ae.score(X_test):.4f}")

# %%
# Reconstructions
# ---------------
# Each figure shows ten test digits over their reconstructions. Both drawings
# share the originals' grey scale.
fig = plt.figure(figsize=(9, 4.6), layout="constrained")
top, bottom = fig.subfigures(2, 1)
plot_reconstructions(pca, X_test, n_images=10, fig=top)
top.suptitle("PCA, 8 components")
plot_reconstructions(ae, X_test, n_images=10, fig=bottom)
bottom.suptitle("StackedAE, 8 components")
plt.show()

# %%
# Training curve
# --------------
# ``loss_curve_`` holds the training loss after each epoch.
plot_loss_curves(ae)
plt.show()
