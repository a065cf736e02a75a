"""
Finding odd digits with an autoencoder
======================================

An :class:`~skae.OutlierDetector` trains an autoencoder on normal rows and
flags the rows it reconstructs badly. Here the normal rows are the eights of
scikit-learn's digits: the detector sees only eights while training, then
scores test digits of every class. Scores follow scikit-learn's detectors
(higher is more normal), so ROC AUC and ``IsolationForest`` compare directly.
"""

# %%
# Data
# ----
# Pixels scaled to [0, 1]; the training rows are the eights of a 75% split.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from skae import OutlierDetector, StackedAE
from skae.plot import plot_anomalies

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.25, random_state=0)
normal = 8
eights = X_train[y_train == normal]
print(f"{len(eights)} training eights; {len(X_test)} test digits, {sum(y_test == normal)} eights")

# %%
# Training
# --------
# ``contamination`` only sets the threshold ``offset_``: a tenth of the
# training eights score below it. The short training (60 epochs of a small
# network) keeps the page quick to build.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

ae = StackedAE(n_components=8, hidden_layer_sizes=(32,), batch_size=16, epochs=60)
detector = OutlierDetector(ae, contamination=0.1, random_state=0).fit(eights)
print(f"offset_ = {detector.offset_:.4f} (minus a reconstruction MSE)")
print(f"training eights flagged: {np.mean(detector.predict(eights) == -1):.0%}")

# %%
# How well are the other digits told apart?
# -----------------------------------------
# ``decision_function`` is negative for outliers. ROC AUC takes the other
# digits as the positive class, scored by minus the decision.
is_other = y_test != normal
decision = detector.decision_function(X_test)
forest = IsolationForest(random_state=0).fit(eights)
print(f"OutlierDetector ROC AUC: {roc_auc_score(is_other, -decision):.3f}")
print(f"IsolationForest ROC AUC: {roc_auc_score(is_other, -forest.score_samples(X_test)):.3f}")
print(f"test eights flagged: {np.mean(detector.predict(X_test[~is_other]) == -1):.0%}")
print(f"other digits flagged: {np.mean(detector.predict(X_test[is_other]) == -1):.0%}")

# %%
# The most anomalous test digits
# ------------------------------
# :func:`~skae.plot.plot_anomalies` shows the lowest-scoring rows (titled
# with their score), the autoencoder's reconstruction, which looks like an
# eight, and each pixel's squared error
# (:meth:`~skae.OutlierDetector.reconstruction_errors`): where the digit
# departs from an eight.
fig = plt.figure(figsize=(9, 4), layout="constrained")
plot_anomalies(detector, X_test, n_images=10, fig=fig)
fig.suptitle("Test digits least like the training eights")
plt.show()
