"""Outlier and novelty detection from an autoencoder's reconstruction error."""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context, clone
from sklearn.utils import get_tags
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._base import DOC_LINK_TEMPLATE, BaseAutoencoder
from ._data import dense_rows
from ._inference import INFERENCE_CHUNK
from ._saving import estimator_state, restore_state
from ._stacked import StackedAE


class OutlierDetector(OutlierMixin, BaseEstimator):
    """Flag rows that an autoencoder trained on normal data reconstructs badly.

    ``fit`` trains a clone of ``estimator`` on ``X`` (mostly normal rows).
    A row's score is the fitted autoencoder's ``score_samples``: minus its
    mean squared reconstruction error, or its ELBO for a
    :class:`VariationalAE`, so that, as in scikit-learn's detectors, higher
    means more normal. ``offset_`` is the ``contamination`` quantile of the
    training scores: ``predict`` labels rows scoring below it as outliers
    (-1) and the others as inliers (1), so about a ``contamination`` share of
    the training rows are flagged.

    The detector serves both of scikit-learn's settings: outlier detection
    (``fit_predict`` on data with some outliers) and novelty detection (fit
    on clean data, then ``predict``, ``decision_function`` or
    ``score_samples`` on new rows). Scores and decisions rank rows whatever
    ``contamination`` is; it only sets the threshold.

    Parameters
    ----------
    estimator : skae autoencoder, default=None
        Any estimator derived from :class:`BaseAutoencoder`, fitted or not:
        ``fit`` trains a clone. None uses ``StackedAE(early_stopping=True)``, the
        defaults but with 10% of the training rows held out to stop
        training when their reconstruction error stops improving: of the
        settings compared on held-out training images of mnist10k
        (``benchmarks/outliers.py``), it tied for the best separation of the
        digits.
        Scale the data as the autoencoder expects (for example in a
        ``Pipeline`` after ``MinMaxScaler``).
    contamination : float in (0, 0.5], default=0.1
        Expected share of outliers in the training data; sets ``offset_``.
        There is no ``'auto'`` as in ``IsolationForest``: reconstruction
        errors have no scale-free threshold.
    random_state : int, RandomState instance or None, default=None
        Given to the autoencoder's clone when its own ``random_state`` is
        None; the autoencoder's own seed wins otherwise.

    Attributes
    ----------
    estimator_ : skae autoencoder
        The autoencoder fitted on the training data.
    offset_ : float
        Threshold on ``score_samples``: ``decision_function`` is
        ``score_samples(X) - offset_``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string feature names.

    See Also
    --------
    sklearn.ensemble.IsolationForest : Outliers isolated by random trees.
    sklearn.neighbors.LocalOutlierFactor : Outliers by local density.
    sklearn.svm.OneClassSVM : Outliers outside a kernel boundary.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import OutlierDetector, StackedAE
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> ae = StackedAE(n_components=8, hidden_layer_sizes=(32,), epochs=50)
    >>> detector = OutlierDetector(ae, contamination=0.05, random_state=0)
    >>> detector = detector.fit(X[y == 0])  # a short training, enough for the example
    >>> float((detector.predict(X[y == 0]) == -1).mean())
    0.05...
    >>> bool(detector.decision_function(X[y == 1]).mean() < 0)  # the ones look odd
    True
    """

    _parameter_constraints: dict = {
        "estimator": [BaseAutoencoder, None],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "random_state": ["random_state"],
    }

    _doc_link_module = "skae"
    _doc_link_template = DOC_LINK_TEMPLATE

    def __init__(self, estimator=None, *, contamination=0.1, random_state=None):
        self.estimator = estimator
        self.contamination = contamination
        self.random_state = random_state

    def _make_estimator(self):
        if self.estimator is None:
            # Early stopping tied for first of the settings compared on held-out training
            # images (benchmarks/outliers.py --select): fewer epochs, less memorising. With
            # today's defaults five variants read 0.954-0.955 mean ROC AUC (select round 3).
            estimator = StackedAE(early_stopping=True)
        elif isinstance(self.estimator, BaseAutoencoder):
            estimator = clone(self.estimator)
        else:
            raise TypeError(
                "OutlierDetector needs a skae autoencoder (a BaseAutoencoder such as "
                f"StackedAE or VariationalAE); got {type(self.estimator).__name__}."
            )
        params = estimator.get_params(deep=False)
        if self.random_state is not None and params.get("random_state", 0) is None:
            estimator.set_params(random_state=self.random_state)
        return estimator

    @_fit_context(prefer_skip_nested_validation=False)  # the autoencoder validates its own
    def fit(self, X, y=None, sample_weight=None):
        """Train the autoencoder on ``X`` and set the threshold ``offset_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows, mostly normal ones.
        y : None
            Ignored; present so that the detector fits in a Pipeline and in
            a grid search with labelled validation data.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights, passed to the autoencoder's ``fit``
            (see :meth:`StackedAE.fit`). The threshold is then the weighted
            ``contamination`` quantile of the training scores (NumPy's
            ``inverted_cdf`` quantile with weights), so a row of weight
            zero does not count, and equal weights give the unweighted
            threshold.

        Returns
        -------
        self : object
            The fitted detector.
        """
        # A failed fit (bad data, a diverged training) leaves the detector as it was.
        previous_state = dict(self.__dict__)
        try:
            estimator = self._make_estimator()
            if sample_weight is None:
                estimator.fit(X)
            else:
                estimator.fit(X, sample_weight=sample_weight)
            scores = estimator.score_samples(X)
            # As IsolationForest: a `contamination` share of training scores lies below it.
            offset = _percentile(scores, 100.0 * self.contamination, sample_weight)
            for name in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(name, None)
                if hasattr(estimator, name):
                    setattr(self, name, getattr(estimator, name))
            self.estimator_ = estimator
            self.offset_ = offset
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(previous_state)
            raise
        return self

    def score_samples(self, X):
        """The autoencoder's score of each row (higher is more normal).

        Minus the mean squared reconstruction error for a dense or
        convolutional autoencoder, the ELBO in nats for a
        :class:`VariationalAE`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return np.asarray(self.estimator_.score_samples(X), dtype=np.float64)

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        decision : ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Label each row: 1 for an inlier, -1 for an outlier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            -1 where ``decision_function(X) < 0``, 1 elsewhere.
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    def reconstruction_errors(self, X):
        """Each row's squared reconstruction error per feature, to see why a row is odd.

        The reconstruction is ``estimator_.inverse_transform(
        estimator_.transform(X))`` (for a :class:`VariationalAE`, the decoded
        posterior mean). For the other autoencoders a row's errors average to
        minus its ``score_samples``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Sparse rows are densified one chunk at a time.

        Returns
        -------
        errors : ndarray of shape (n_samples, n_features)
            ``(reconstruction - X) ** 2`` in ``X``'s floating dtype (float64
            for integer input).
        """
        check_is_fitted(self)
        estimator = self.estimator_
        X = estimator._check_X(X, reset=False)
        errors = np.empty(X.shape, dtype=X.dtype)
        for start in range(0, X.shape[0], INFERENCE_CHUNK):
            rows = slice(start, start + INFERENCE_CHUNK)
            original = dense_rows(X, rows, dtype=X.dtype)
            reconstruction = estimator.inverse_transform(estimator.transform(X[rows]))
            errors[rows] = (reconstruction - original) ** 2
        return errors

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        estimator = StackedAE() if self.estimator is None else self.estimator
        if isinstance(estimator, BaseAutoencoder):
            tags.input_tags.sparse = get_tags(estimator).input_tags.sparse
        return tags

    # ------------------------------------------------------------------ protocol
    def __getstate__(self):
        # Parameters and fitted attributes only; estimator_ carries the weights (skae/_saving.py).
        return estimator_state(self, None, None)

    def __setstate__(self, state):
        restore_state(self, state)

    def _network_attributes(self):
        return ()

    def _check_fitted_state(self, network):
        """The saved detector must agree with the autoencoder it holds."""
        if self.estimator_.n_features_in_ != self.n_features_in_:
            raise ValueError(
                f"n_features_in_={self.n_features_in_} disagrees with the saved estimator_'s "
                f"{self.estimator_.n_features_in_}."
            )


def _percentile(scores, q, sample_weight):
    """``np.percentile`` of ``scores``, weighted by ``sample_weight`` unless None or equal."""
    if sample_weight is None:
        return float(np.percentile(scores, q))
    # The autoencoder's fit validated the weights against X.
    weights = _check_sample_weight(sample_weight, scores, dtype=np.float64)
    # Without the zero-weight rows, as the autoencoder was trained.
    scores, weights = scores[weights > 0], weights[weights > 0]
    if np.all(weights == weights[0]):
        return float(np.percentile(scores, q))
    return float(np.percentile(scores, q, weights=weights, method="inverted_cdf"))
