"""
Saving and loading a fitted autoencoder
=======================================

:func:`skae.save` writes a fitted (or unfitted) estimator to one file:
parameters and fitted attributes as JSON and the networks' weights as plain
arrays. :func:`skae.load` rebuilds the networks from skae's own code and
reads the weights back, without executing anything the file names, on any
machine, with or without a GPU.
"""

# %%
# Fit and save
# ------------
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import skae
from skae import StackedAE
from skae.plot import plot_reconstructions

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # short training

X = load_digits().data / 16
ae = StackedAE(n_components=8, hidden_layer_sizes=(32,), epochs=20, random_state=0).fit(X)

folder = Path(tempfile.mkdtemp())
path = folder / "digits_ae.skae"
skae.save(ae, path)  # or ae.save(path)
print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB")

# %%
# The file is a zip archive: ``estimator.json`` holds the parameters and the
# fitted attributes, and ``arrays.bin`` the trained weights as plain arrays.
with zipfile.ZipFile(path) as archive:
    for member in archive.infolist():
        print(f"{member.filename:<16} {member.file_size:>8} bytes")

# %%
# Load and check
# --------------
# The loaded estimator has the same parameters and gives the same codes.
loaded = skae.load(path)
print(loaded)
print("same codes:", np.array_equal(loaded.transform(X), ae.transform(X)))
print("same loss curve:", loaded.loss_curve_ == ae.loss_curve_)

# %%
# It is a complete estimator: it transforms, reconstructs, scores, and can be
# trained further (``warm_start=True`` or ``partial_fit``).
plot_reconstructions(loaded, X, n_images=8)
plt.show()

# %%
# What load refuses
# -----------------
# A file that is not in the skae format raises a ``ValueError`` instead of
# being executed. Pickles of skae estimators work too (``pickle.dumps(ae)``),
# but unpickling can run code from the pickle stream: load only pickles you
# trust, and prefer :func:`skae.save` for files you share.
not_skae = folder / "not_skae.skae"
not_skae.write_bytes(b"print('hello')")
try:
    skae.load(not_skae)
except ValueError as error:
    print("ValueError:", error)

shutil.rmtree(folder)
