"""Plots of fitted autoencoders: reconstructions, codes, training, features, samples.

Every function draws with matplotlib, which is imported only when a function
is called (install it with ``pip install matplotlib``, or ``pip install
".[plot]"`` in a checkout of skae), takes the figure or axes to draw into
when given, and returns the artists it drew, so that a caller can restyle
them or read back what is shown.

Image functions accept flat rows of ``n_features`` values together with
``image_shape`` (a square ``(side, side)`` is inferred when it is None), or
arrays of images of shape ``(n_samples, height, width)`` or
``(n_samples, height, width, channels)``, which are flattened row by row
before they reach the estimator.
"""

import math
from numbers import Integral

import keras
import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "plot_anomalies",
    "plot_first_layer_features",
    "plot_latent_space",
    "plot_loss_curves",
    "plot_reconstructions",
    "plot_samples",
]


# ---------------------------------------------------------------------- helpers
def _pyplot(caller):
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            f"{caller} needs matplotlib; install it with `pip install matplotlib` (or "
            "`pip install '.[plot]'` in a checkout of skae)."
        ) from error
    return plt


def _check_count(value, name):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def _image_shape(n_features, image_shape):
    """Validate ``image_shape`` against ``n_features``, or infer a square one."""
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"Cannot infer a square image from n_features={n_features}; pass image_shape, "
                "e.g. (height, width) or (height, width, channels)."
            )
        return (side, side)
    try:
        shape = tuple(int(s) for s in image_shape)
    except (TypeError, ValueError):
        raise ValueError(
            "image_shape must be (height, width) or (height, width, channels); "
            f"got {image_shape!r}."
        ) from None
    if (
        len(shape) not in (2, 3)
        or min(shape) < 1
        or (len(shape) == 3 and shape[2] not in (1, 3, 4))
    ):
        raise ValueError(
            "image_shape must be (height, width) or (height, width, channels) with 1, 3 or 4 "
            f"channels; got {image_shape!r}."
        )
    if math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={shape} holds {math.prod(shape)} values, but the data have "
            f"n_features={n_features}."
        )
    return shape


def _split_images(X, image_shape, name="X"):
    """``(rows for the estimator, image shape)`` from flat rows or an image array."""
    if hasattr(X, "iloc") or sp.issparse(X):
        return X, image_shape
    X = np.asarray(X)
    if X.ndim in (3, 4):
        shape = X.shape[1:]
        if image_shape is not None and _image_shape(math.prod(shape), image_shape) != shape:
            raise ValueError(
                f"image_shape={tuple(image_shape)} does not match the images in {name}, "
                f"of shape {shape}."
            )
        return X.reshape(X.shape[0], -1), shape
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be rows of shape (n_samples, n_features) or images of shape "
            f"(n_samples, height, width[, channels]); got an array of shape {X.shape}."
        )
    return X, image_shape


def _head(X, n):
    """The first ``n`` rows of ``X``, in ``X``'s own container."""
    if hasattr(X, "iloc"):
        return X.iloc[:n]
    if sp.issparse(X):
        return X.tocsr()[:n]
    return X[:n]


def _dense(X):
    if sp.issparse(X):
        return X.toarray()
    return np.asarray(X)


def _shape(X):
    return X.shape if hasattr(X, "shape") else np.shape(X)


def _n_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _to_image(row, shape):
    image = np.asarray(row).reshape(shape)
    # imshow wants (height, width) for one channel.
    return image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image


def _new_figure(plt, fig, figsize):
    if fig is None:
        return plt.figure(figsize=figsize)
    if not hasattr(fig, "subplots"):
        raise TypeError(f"fig must be a matplotlib Figure or SubFigure; got {fig!r}.")
    return fig


def _bare(ax):
    """Hide ticks but keep the axes, so a y label still shows."""
    ax.set_xticks([])
    ax.set_yticks([])


def _image_grid(plt, fig, images, *, cmap, vmin=None, vmax=None, titles=None):
    """Draw ``images`` on a near-square grid of ``fig``; return the AxesImages."""
    n = len(images)
    n_cols = math.ceil(math.sqrt(n))
    n_rows = math.ceil(n / n_cols)
    fig = _new_figure(plt, fig, (1.2 * n_cols, 1.2 * n_rows))
    axes = np.asarray(fig.subplots(n_rows, n_cols, squeeze=False)).ravel()
    drawn = np.empty(n, dtype=object)
    for i, ax in enumerate(axes):
        if i >= n:
            ax.set_visible(False)
            continue
        drawn[i] = ax.imshow(images[i], cmap=cmap, vmin=vmin, vmax=vmax)
        _bare(ax)
        if titles is not None:
            ax.set_title(titles[i], fontsize="small")
    return drawn


# ---------------------------------------------------------------------- plots
def plot_reconstructions(
    estimator, X, *, n_images=10, image_shape=None, X_noisy=None, cmap="gray", fig=None
):
    """Show images over their reconstructions.

    The reconstruction of a row is ``estimator.inverse_transform(
    estimator.transform(row))``, so any fitted transformer with an
    ``inverse_transform`` (a skae autoencoder, ``PCA``) can be shown. With
    ``X_noisy`` a middle row shows the corrupted images and the estimator
    reconstructs from them, which shows what a denoising autoencoder does.

    Parameters
    ----------
    estimator : fitted transformer with ``inverse_transform``
        For example a fitted :class:`~skae.StackedAE`.
    X : array-like of shape (n_samples, n_features) or (n_samples, height, width[, channels])
        The original images: flat rows (with ``image_shape``) or an array
        of images. Only the first ``n_images`` are shown.
    n_images : int, default=10
        Number of columns; at most ``n_samples``.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(height, width, channels)`` of one image
        when ``X`` holds flat rows. None infers a square image from
        ``n_features``.
    X_noisy : array-like of the same shape as X, default=None
        Corrupted versions of ``X``; when given they are shown in a middle
        row and reconstructed instead of ``X``.
    cmap : str or Colormap, default='gray'
        Colormap of single-channel images. All images share the colour
        scale of the originals shown, so brightness is comparable.
    fig : matplotlib Figure or SubFigure, default=None
        Where to draw (a grid of new axes is added to it); a new figure
        when None.

    Returns
    -------
    images : ndarray of matplotlib.image.AxesImage, shape (n_rows, n_images)
        Row 0 holds the originals, then the noisy images when ``X_noisy``
        is given, and the last row the reconstructions.
        ``images[0, 0].figure`` is the figure.

    See Also
    --------
    plot_samples : Images generated by a variational autoencoder.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import StackedAE
    >>> from skae.plot import plot_reconstructions
    >>> X = load_digits().data / 16
    >>> ae = StackedAE(n_components=8, hidden_layer_sizes=(32,), epochs=5, random_state=0)
    >>> ae = ae.fit(X)  # a short training, enough for the example
    >>> images = plot_reconstructions(ae, X, n_images=8)
    >>> images.shape
    (2, 8)
    """
    plt = _pyplot("plot_reconstructions")
    check_is_fitted(estimator)
    n_images = _check_count(n_images, "n_images")
    rows, shape = _split_images(X, image_shape)
    n_images = min(n_images, _n_rows(rows))
    originals = _dense(_head(rows, n_images))
    shape = _image_shape(originals.shape[1], shape)
    shown = [originals]
    source = _head(rows, n_images)
    if X_noisy is not None:
        noisy_rows, _ = _split_images(X_noisy, shape, name="X_noisy")
        if _n_rows(noisy_rows) != _n_rows(rows) or noisy_rows.shape[1] != originals.shape[1]:
            raise ValueError(
                f"X_noisy must have the shape of X; got {_shape(X_noisy)} for X of shape "
                f"{_shape(X)}."
            )
        source = _head(noisy_rows, n_images)
        shown.append(_dense(source))
    shown.append(_dense(estimator.inverse_transform(estimator.transform(source))))

    labels = ["original", "reconstruction"]
    if X_noisy is not None:
        labels.insert(1, "noisy")
    vmin, vmax = float(np.min(originals)), float(np.max(originals))
    fig = _new_figure(plt, fig, (1.1 * n_images, 1.2 * len(shown)))
    axes = np.asarray(fig.subplots(len(shown), n_images, squeeze=False))
    drawn = np.empty(axes.shape, dtype=object)
    for r, (data, label) in enumerate(zip(shown, labels, strict=True)):
        for c in range(n_images):
            ax = axes[r, c]
            drawn[r, c] = ax.imshow(_to_image(data[c], shape), cmap=cmap, vmin=vmin, vmax=vmax)
            _bare(ax)
        axes[r, 0].set_ylabel(label, fontsize="small")
    return drawn


def plot_latent_space(estimator, X, y=None, *, ax=None, **scatter_kwargs):
    """Scatter the 2-D codes of ``X``, coloured by label.

    Codes with more than two components are shown through their first two;
    project them first (e.g. ``PCA`` or ``TSNE`` on ``estimator.transform(X)``)
    to see more. Class labels get a discrete colour each and a legend;
    continuous targets get a colour bar.

    Parameters
    ----------
    estimator : fitted transformer
        For example a fitted :class:`~skae.StackedAE` with ``n_components=2``.
    X : array-like of shape (n_samples, n_features) or (n_samples, height, width[, channels])
        Data to encode; image arrays are flattened row by row.
    y : array-like of shape (n_samples,), default=None
        Labels or values that colour the points.
    ax : matplotlib Axes, default=None
        Where to draw; new axes in a new figure when None.
    **scatter_kwargs
        Passed to ``Axes.scatter`` (e.g. ``s``, ``alpha``, ``cmap``).

    Returns
    -------
    points : matplotlib.collections.PathCollection
        The scatter; its offsets are the codes' first two components.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import StackedAE
    >>> from skae.plot import plot_latent_space
    >>> X, y = load_digits(return_X_y=True)
    >>> ae = StackedAE(n_components=2, hidden_layer_sizes=(32,), epochs=5, random_state=0)
    >>> ae = ae.fit(X / 16)  # a short training, enough for the example
    >>> points = plot_latent_space(ae, X / 16, y, s=5)
    >>> points.get_offsets().shape
    (1797, 2)
    """
    plt = _pyplot("plot_latent_space")
    check_is_fitted(estimator)
    rows, _ = _split_images(X, None)
    codes = np.asarray(estimator.transform(rows))
    if codes.ndim != 2 or codes.shape[1] < 2:
        raise ValueError(
            f"plot_latent_space needs codes with at least 2 components; {type(estimator).__name__} "
            f"gives codes of shape {codes.shape}."
        )
    if ax is None:
        _, ax = plt.subplots()
    kwargs = {"s": 10, **scatter_kwargs}
    colour_bar = legend = None
    if y is not None:
        if "c" in scatter_kwargs:
            raise TypeError("Pass either y or c to plot_latent_space, not both.")
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != codes.shape[0]:
            raise ValueError(
                f"y must have one label per sample: shape ({codes.shape[0]},); got {y.shape}."
            )
        if type_of_target(y) == "continuous":
            kwargs.setdefault("cmap", "viridis")
            kwargs["c"] = y
            colour_bar = True
        else:
            classes, kwargs["c"] = np.unique(y, return_inverse=True)
            k = len(classes)
            name = "tab10" if k <= 10 else "tab20" if k <= 20 else "viridis"
            # One colour per class: class i is drawn with colour i of k.
            kwargs["cmap"] = plt.get_cmap(kwargs.get("cmap", name)).resampled(k)
            kwargs.setdefault("vmin", -0.5)
            kwargs.setdefault("vmax", k - 0.5)
            legend = classes
    points = ax.scatter(codes[:, 0], codes[:, 1], **kwargs)
    names = _code_names(estimator, codes.shape[1])
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    if colour_bar:
        ax.figure.colorbar(points, ax=ax)
    if legend is not None:
        handles, _ = points.legend_elements(num=None)
        ax.legend(handles, [str(label) for label in legend], title="label", fontsize="small")
    return points


def _code_names(estimator, n_components):
    try:
        names = list(estimator.get_feature_names_out())
    except Exception:  # not every transformer names its outputs
        names = []
    if len(names) != n_components:
        names = [f"component {i}" for i in range(n_components)]
    return names


def plot_loss_curves(estimator, *, ax=None):
    """Plot the training loss, and the validation loss when recorded, per epoch.

    Parameters
    ----------
    estimator : fitted estimator with ``loss_curve_``
        A fitted skae autoencoder (or ``MLPRegressor``). Its
        ``validation_loss_curve_`` is drawn too when it is not None; after
        warm starts it covers the last epochs only and is aligned with them.
    ax : matplotlib Axes, default=None
        Where to draw; new axes in a new figure when None.

    Returns
    -------
    lines : list of matplotlib.lines.Line2D
        The training curve, then the validation curve when drawn; x is the
        epoch number, starting at 1.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import StackedAE
    >>> from skae.plot import plot_loss_curves
    >>> X = load_digits().data / 16
    >>> ae = StackedAE(hidden_layer_sizes=(32,), epochs=5, early_stopping=True, random_state=0)
    >>> ae = ae.fit(X)  # a short training, enough for the example
    >>> [line.get_label() for line in plot_loss_curves(ae)]
    ['training', 'validation']
    """
    plt = _pyplot("plot_loss_curves")
    from matplotlib.ticker import MaxNLocator

    check_is_fitted(estimator)
    if getattr(estimator, "loss_curve_", None) is None:
        raise TypeError(
            f"plot_loss_curves needs an estimator with a loss_curve_; "
            f"{type(estimator).__name__} has none."
        )
    if ax is None:
        _, ax = plt.subplots()
    loss = np.asarray(estimator.loss_curve_, dtype=float)
    n_epochs = len(loss)
    lines = ax.plot(np.arange(1, n_epochs + 1), loss, label="training")
    validation = getattr(estimator, "validation_loss_curve_", None)
    if validation is not None:
        validation = np.asarray(validation, dtype=float)
        epochs = np.arange(n_epochs - len(validation) + 1, n_epochs + 1)
        lines += ax.plot(epochs, validation, label="validation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    return lines


def plot_first_layer_features(
    estimator, *, image_shape=None, n_features=None, cmap="gray", fig=None
):
    """Show each first-layer unit's input weights as an image.

    The first layer of ``estimator.encoder_`` with a 2-D ``kernel`` (a
    ``Dense`` or tied-weight layer) must read the input features directly;
    column ``j`` of its kernel, reshaped to ``image_shape``, is the pattern
    that unit ``j`` responds to. Each image has its own colour scale.

    Parameters
    ----------
    estimator : fitted skae autoencoder
        For example a fitted :class:`~skae.StackedAE`.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(height, width, channels)`` of one input;
        None infers a square image from ``n_features_in_``.
    n_features : int, default=None
        Show the first ``n_features`` units only; all units when None.
    cmap : str or Colormap, default='gray'
        Colormap of single-channel images.
    fig : matplotlib Figure or SubFigure, default=None
        Where to draw (a near-square grid of new axes is added to it); a
        new figure when None.

    Returns
    -------
    images : ndarray of matplotlib.image.AxesImage, shape (n_features,)
        ``images[j]`` shows unit ``j``; unused grid cells are hidden.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import StackedAE
    >>> from skae.plot import plot_first_layer_features
    >>> X = load_digits().data / 16
    >>> ae = StackedAE(n_components=16, hidden_layer_sizes=(), epochs=5, random_state=0)
    >>> ae = ae.fit(X)  # a short training, enough for the example
    >>> plot_first_layer_features(ae).shape
    (16,)
    """
    plt = _pyplot("plot_first_layer_features")
    check_is_fitted(estimator)
    encoder = getattr(estimator, "encoder_", None)
    if encoder is None:
        raise TypeError(
            "plot_first_layer_features needs a fitted autoencoder with an encoder_ network; "
            f"got {type(estimator).__name__}."
        )
    kernel = _first_kernel(encoder)
    n_inputs = getattr(estimator, "n_features_in_", kernel.shape[0])
    if kernel.shape[0] != n_inputs:
        raise ValueError(
            f"The first dense layer of the encoder reads {kernel.shape[0]} values, not the "
            f"n_features_in_={n_inputs} input features, so its weights are not images."
        )
    shape = _image_shape(kernel.shape[0], image_shape)
    n_units = kernel.shape[1]
    if n_features is not None:
        n_units = min(_check_count(n_features, "n_features"), n_units)
    images = [_to_image(kernel[:, j], shape) for j in range(n_units)]
    return _image_grid(plt, fig, images, cmap=cmap)


def _first_kernel(encoder):
    for layer in encoder.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and len(kernel.shape) == 2:
            return keras.ops.convert_to_numpy(kernel)
    raise ValueError(f"The encoder {encoder.name!r} has no layer with a 2-D kernel.")


def plot_samples(
    estimator, n_samples=16, *, image_shape=None, random_state=None, cmap="gray", fig=None
):
    """Show a grid of samples drawn from a generative autoencoder.

    The images are ``estimator.sample(n_samples, random_state=random_state)``,
    for example decoded draws from a variational autoencoder's prior.

    Parameters
    ----------
    estimator : fitted estimator with a ``sample(n_samples, random_state=None)`` method
        Its samples are rows in the input space (or images).
    n_samples : int, default=16
        Number of samples, shown on a near-square grid.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(height, width, channels)`` of one sample
        when the samples are flat rows; None infers a square image.
    random_state : int, RandomState instance or None, default=None
        Passed to ``sample``; an integer gives the same grid every time.
    cmap : str or Colormap, default='gray'
        Colormap of single-channel images. All samples share one colour scale.
    fig : matplotlib Figure or SubFigure, default=None
        Where to draw (a grid of new axes is added to it); a new figure
        when None.

    Returns
    -------
    images : ndarray of matplotlib.image.AxesImage, shape (n_samples,)
        ``images[i]`` shows sample ``i``; unused grid cells are hidden.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae.plot import plot_samples
    >>> from skae import VariationalAE  # doctest: +SKIP
    >>> X = load_digits().data / 16
    >>> vae = VariationalAE(n_components=2, epochs=20, random_state=0).fit(X)  # doctest: +SKIP
    >>> plot_samples(vae, 9, random_state=0).shape  # doctest: +SKIP
    (9,)
    """
    plt = _pyplot("plot_samples")
    if not callable(getattr(estimator, "sample", None)):
        raise TypeError(
            f"plot_samples needs a generative estimator with a sample(n_samples, random_state) "
            f"method, such as a variational autoencoder; {type(estimator).__name__} has none."
        )
    check_is_fitted(estimator)
    n_samples = _check_count(n_samples, "n_samples")
    samples = estimator.sample(n_samples, random_state=random_state)
    rows, shape = _split_images(samples, image_shape, name="the samples")
    rows = _dense(rows)
    shape = _image_shape(rows.shape[1], shape)
    images = [_to_image(row, shape) for row in rows]
    return _image_grid(
        plt, fig, images, cmap=cmap, vmin=float(np.min(rows)), vmax=float(np.max(rows))
    )


def plot_anomalies(
    detector, X, *, n_images=10, image_shape=None, show_errors=True, cmap="gray", fig=None
):
    """Show the most anomalous images over their reconstructions and pixel errors.

    The ``n_images`` rows of ``X`` with the lowest ``detector.score_samples``
    are shown, most anomalous first, each titled with its score, over the
    autoencoder's reconstruction and, with ``show_errors``, the squared error
    of each pixel (:meth:`~skae.OutlierDetector.reconstruction_errors`),
    which shows what made the row odd.

    Parameters
    ----------
    detector : fitted OutlierDetector or fitted autoencoder
        Ranks the rows by ``score_samples`` and reconstructs them with its
        ``estimator_`` (an :class:`~skae.OutlierDetector`) or itself: any
        fitted estimator with ``score_samples``, ``transform`` and
        ``inverse_transform``, such as a skae autoencoder or ``PCA``.
    X : array-like of shape (n_samples, n_features) or (n_samples, height, width[, channels])
        The images to rank: flat rows (with ``image_shape``) or an array of
        images.
    n_images : int, default=10
        Number of columns; at most ``n_samples``.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(height, width, channels)`` of one image
        when ``X`` holds flat rows. None infers a square image from
        ``n_features``.
    show_errors : bool, default=True
        Add a row with each pixel's squared reconstruction error (averaged
        over channels), on a colour scale shared by the row.
    cmap : str or Colormap, default='gray'
        Colormap of single-channel images and of the errors. The images and
        reconstructions share the colour scale of the originals shown.
    fig : matplotlib Figure or SubFigure, default=None
        Where to draw (a grid of new axes is added to it); a new figure
        when None.

    Returns
    -------
    images : ndarray of matplotlib.image.AxesImage, shape (n_rows, n_images)
        Row 0 holds the originals, row 1 the reconstructions and, with
        ``show_errors``, row 2 the squared errors; column 0 is the most
        anomalous row. ``images[0, 0].figure`` is the figure.

    See Also
    --------
    plot_reconstructions : The first images over their reconstructions.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import OutlierDetector, StackedAE
    >>> from skae.plot import plot_anomalies
    >>> X = load_digits().data / 16
    >>> ae = StackedAE(n_components=8, hidden_layer_sizes=(32,), epochs=5)
    >>> detector = OutlierDetector(ae, random_state=0)
    >>> detector = detector.fit(X)  # a short training, enough for the example
    >>> images = plot_anomalies(detector, X, n_images=6)
    >>> images.shape
    (3, 6)
    """
    plt = _pyplot("plot_anomalies")
    check_is_fitted(detector)
    autoencoder = getattr(detector, "estimator_", detector)
    if not all(
        callable(getattr(owner, method, None))
        for owner, method in [
            (detector, "score_samples"),
            (autoencoder, "transform"),
            (autoencoder, "inverse_transform"),
        ]
    ):
        raise TypeError(
            "plot_anomalies needs a fitted OutlierDetector or autoencoder (score_samples, "
            f"transform and inverse_transform); got {type(detector).__name__}."
        )
    n_images = _check_count(n_images, "n_images")
    rows, shape = _split_images(X, image_shape)
    scores = np.asarray(detector.score_samples(rows))
    n_images = min(n_images, scores.shape[0])
    # A stable sort: ties keep the rows' order, so the figure is reproducible.
    worst = np.argsort(scores, kind="stable")[:n_images]
    chosen = _take(rows, worst)
    originals = _dense(chosen)
    shape = _image_shape(originals.shape[1], shape)
    reconstructions = _dense(autoencoder.inverse_transform(autoencoder.transform(chosen)))
    shown = [originals, reconstructions]
    labels = ["original", "reconstruction"]
    if show_errors:
        shown.append((reconstructions - originals) ** 2)
        labels.append("squared error")

    vmin, vmax = float(np.min(originals)), float(np.max(originals))
    fig = _new_figure(plt, fig, (1.1 * n_images, 1.3 * len(shown)))
    axes = np.asarray(fig.subplots(len(shown), n_images, squeeze=False))
    drawn = np.empty(axes.shape, dtype=object)
    for r, (data, label) in enumerate(zip(shown, labels, strict=True)):
        is_error = label == "squared error"
        for c in range(n_images):
            image = _to_image(data[c], shape)
            if is_error and image.ndim == 3:
                image = image.mean(axis=2)
            limits = (0.0, float(np.max(data)) or 1.0) if is_error else (vmin, vmax)
            drawn[r, c] = axes[r, c].imshow(image, cmap=cmap, vmin=limits[0], vmax=limits[1])
            _bare(axes[r, c])
        axes[r, 0].set_ylabel(label, fontsize="small")
    for c in range(n_images):
        axes[0, c].set_title(f"{scores[worst[c]]:.3g}", fontsize="small")
    return drawn


def _take(X, rows):
    """Rows ``rows`` of ``X``, in ``X``'s own container."""
    if hasattr(X, "iloc"):
        return X.iloc[rows]
    if sp.issparse(X):
        return X.tocsr()[rows]
    return np.asarray(X)[rows]
