"""
A variational autoencoder: latent space and samples
===================================================

A :class:`~skae.VariationalAE` learns a probabilistic code: the encoder gives
a gaussian posterior for each digit, and its ``transform`` returns the
posterior means. Because the prior over codes is a standard normal,
decoding draws from it (``sample``) generates new digits.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skae import VariationalAE
from skae.plot import plot_latent_space, plot_samples

X, y = load_digits(return_X_y=True)
X = X / 16

# %%
# Training
# --------
# Pixels in [0, 1] select the Bernoulli likelihood (binary cross-entropy
# summed over the pixels). The loss is the negative evidence lower bound in
# nats per digit; ``score`` returns the mean ELBO (higher is better). The
# short training keeps the page quick to build.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

vae = VariationalAE(
    n_components=2, hidden_layer_sizes=(128,), batch_size=32, epochs=40, random_state=0
).fit(X)
print(f"likelihood: {vae.likelihood_}, mean ELBO: {vae.score(X):.1f} nats per digit")

# %%
# Posterior means, coloured by digit
# ----------------------------------
plot_latent_space(vae, X, y, s=6)
plt.show()

# %%
# New digits from the prior
# -------------------------
# :func:`~skae.plot.plot_samples` decodes 25 draws from N(0, I); the images
# are the decoder's pixel probabilities.
plot_samples(vae, 25, random_state=0)
plt.show()
