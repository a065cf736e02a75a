"""A classifier that pretrains an autoencoder without labels, then fine-tunes its encoder."""

import warnings
from math import prod
from numbers import Integral, Real

import keras
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import (
    _OPTIMIZERS,
    DOC_LINK_TEMPLATE,
    BaseAutoencoder,
    _check_fit_weights,
    _check_float32_range,
)
from ._data import TrainingRows
from ._engine import Trainer, make_optimizer, resolve_jit_compile, resolve_verbose
from ._inference import make_inference_function, predict_in_chunks
from ._saving import estimator_state, network_variables, restore_state
from ._seeding import SeedStream, seed_from_random_state

# The marker of an unlabeled sample, as in sklearn.semi_supervised.
UNLABELED = -1


def _unlabeled_mask(y):
    """True where ``y`` holds the unlabeled marker -1.

    Numeric labels: the value -1. Object arrays (e.g. strings mixed with -1,
    as ``SelfTrainingClassifier`` takes them): entries that are the number
    -1. Arrays of strings have no unlabeled rows: the string ``"-1"`` is a
    class like any other.
    """
    if y.dtype.kind in "biuf":
        return y == UNLABELED
    if y.dtype == object:
        return np.fromiter(
            (
                isinstance(v, (Integral, Real, np.number))
                and not isinstance(v, (bool, np.bool_))
                and v == UNLABELED
                for v in y
            ),
            dtype=bool,
            count=len(y),
        )
    return np.zeros(len(y), dtype=bool)


def _validation_split(targets, validation_fraction, seed):
    """Stratified (when every class allows it) split of labeled positions."""
    n_samples = len(targets)
    n_validation = int(round(validation_fraction * n_samples))
    if n_validation < 1 or n_validation >= n_samples:
        raise ValueError(
            f"early_stopping with validation_fraction={validation_fraction} needs at least one "
            f"training and one validation sample; got {n_samples} labeled samples."
        )
    rng = np.random.default_rng(seed)
    counts = np.bincount(targets)
    n_classes = len(counts)
    if counts.min() >= 2 and n_classes <= n_validation <= n_samples - n_classes:
        # Each class gives about validation_fraction of its rows, at least one and
        # never all; the totals are then adjusted to n_validation.
        validation = []
        per_class = np.maximum(1, np.floor(counts * validation_fraction)).astype(int)
        per_class = np.minimum(per_class, counts - 1)
        while per_class.sum() < n_validation:
            room = np.flatnonzero(per_class < counts - 1)
            per_class[rng.choice(room)] += 1
        while per_class.sum() > n_validation:
            room = np.flatnonzero(per_class > 1)
            per_class[rng.choice(room)] -= 1
        for label, k in enumerate(per_class):
            members = np.flatnonzero(targets == label)
            validation.append(rng.choice(members, size=k, replace=False))
        validation = np.sort(np.concatenate(validation))
    else:
        validation = np.sort(rng.permutation(n_samples)[:n_validation])
    train = np.setdiff1d(np.arange(n_samples), validation)
    return train, validation


class EncoderClassifier(ClassifierMixin, BaseEstimator):
    """Pretrain an autoencoder without labels, then fine-tune its encoder with a softmax head.

    ``fit`` clones ``autoencoder`` and trains the clone on every row of
    ``X`` (labels are not used), copies its fitted encoder, puts a dense
    softmax layer on the code and trains encoder and head together with
    the cross-entropy of the labeled rows (``freeze_encoder=True`` trains
    the head only, which is multinomial logistic regression on the codes).
    The ``autoencoder`` parameter is never changed, and the fitted clone
    ``autoencoder_`` keeps the pretrained weights: fine-tuning acts on a
    copy of its encoder.

    Semi-supervised data follow scikit-learn's convention
    (:mod:`sklearn.semi_supervised`): rows labeled ``-1`` are unlabeled and
    used for pretraining only. For numeric labels the value -1 marks them;
    for labels of object dtype, the number -1 among, e.g., strings. An
    array of strings has no unlabeled rows (the string ``"-1"`` is a class);
    NumPy turns a list mixing strings and -1 into strings, so pass such
    labels as an object array, as for ``SelfTrainingClassifier``. The first
    fit of an estimator that finds unlabeled rows says how many with a
    ``UserWarning`` (``n_unlabeled_`` keeps the count; later fits that also
    find some do not warn again), since ``-1`` may also be a class in data
    not meant as semi-supervised.

    Parameters
    ----------
    autoencoder : skae autoencoder, default=None
        The autoencoder to pretrain: any skae autoencoder (a subclass of
        :class:`BaseAutoencoder`), whose fitted ``encoder_``, a Keras model
        from the input to the code, is fine-tuned. ``None`` means
        ``StackedAE()``. An already fitted autoencoder wrapped in
        :class:`sklearn.frozen.FrozenEstimator` is used as it is, without
        pretraining. Other estimators get a ``TypeError`` before any
        training. The encoder keeps its training-time layers (input noise,
        code penalties) while being fine-tuned.
    freeze_encoder : bool, default=False
        If True, the encoder's weights stay as pretrained and only the
        softmax head is trained.
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the fine-tuning loss, as in scikit-learn's
        classifiers: ``{label: weight}`` (classes not named weigh 1; a label
        that is not among the labeled rows' classes is a ValueError), or
        'balanced', ``n_labeled / (n_classes * np.bincount(y_labeled))``,
        computed over the labeled rows only (unlabeled rows, -1, do not
        count). They multiply ``sample_weight`` in fine-tuning; pretraining
        the autoencoder uses ``sample_weight`` alone.
    optimizer : {'adam', 'adamw', 'nadam', 'rmsprop', 'sgd'}, default='adam'
        Optimizer of the fine-tuning phase.
    learning_rate : float, default=1e-3
        Learning rate of the fine-tuning phase.
    batch_size : int, default=32
        Mini-batch size of the fine-tuning phase, capped at the number of
        labeled training samples.
    epochs : int, default=200
        Maximum number of passes over the labeled data.
    shuffle : bool, default=True
        Reshuffle the labeled data every epoch.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the labeled data (stratified when
        every class has at least two members), stop when the validation
        cross-entropy stops improving and keep the best weights. Otherwise
        training stops when the training loss stops improving.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
        Epochs without an improvement of at least ``tol`` before stopping.
    tol : float, default=1e-4
        Minimum improvement of the monitored loss, relative to its best value
        (0.001 is 0.1%).
    verbose : {0, 1, 2, 'auto'}, default=0
        0 is silent; 1 and 2 print one line per fine-tuning epoch; 'auto'
        prints when standard output is a terminal.
    random_state : int, RandomState instance or None, default=None
        Seeds the head's initial weights, the shuffling and the validation
        split. It also seeds the autoencoder's clone when the autoencoder's
        own ``random_state`` is None. Global random states are never touched.

    Attributes
    ----------
    autoencoder_ : estimator
        The fitted clone of ``autoencoder`` (with its pretrained weights).
    model_ : keras.Model
        The fine-tuned network: the encoder's layers, then the softmax head.
    classes_ : ndarray of shape (n_classes,)
        The class labels seen among the labeled rows.
    loss_curve_ : list of float
        Fine-tuning cross-entropy (plus any penalties of the encoder) at the
        end of each epoch.
    validation_loss_curve_ : list of float or None
        Validation cross-entropy per epoch when ``early_stopping`` is True.
    best_loss_ : float
        Lowest monitored loss.
    n_iter_ : int
        Number of fine-tuning epochs run.
    n_unlabeled_ : int
        Number of rows labeled -1 (unlabeled) in the training data.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string feature names.

    See Also
    --------
    StackedAE : The default autoencoder.
    sklearn.semi_supervised.SelfTrainingClassifier : Another way to use unlabeled rows.
    sklearn.neural_network.MLPClassifier : The same network trained from random weights.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skae import EncoderClassifier, StackedAE
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> y_partial = y.copy()
    >>> y_partial[200:] = -1  # only the first 200 digits keep their labels
    >>> clf = EncoderClassifier(
    ...     StackedAE(n_components=16, hidden_layer_sizes=(64,), epochs=20),
    ...     epochs=50,
    ...     random_state=0,
    ... )
    >>> clf = clf.fit(X, y_partial)
    >>> bool(clf.score(X[200:], y[200:]) > 0.7)  # accuracy on the digits it had no label for
    True
    """

    _doc_link_module = "skae"
    _doc_link_template = DOC_LINK_TEMPLATE

    _parameter_constraints: dict = {
        "autoencoder": [HasMethods(["fit"]), None],
        "freeze_encoder": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "optimizer": [StrOptions(_OPTIMIZERS)],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": [StrOptions({"auto"}), Interval(Integral, 0, 2, closed="both")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        autoencoder=None,
        *,
        freeze_encoder=False,
        class_weight=None,
        optimizer="adam",
        learning_rate=1e-3,
        batch_size=32,
        epochs=200,
        shuffle=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        verbose=0,
        random_state=None,
    ):
        self.autoencoder = autoencoder
        self.freeze_encoder = freeze_encoder
        self.class_weight = class_weight
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------------ training
    # Files saved before the parameter existed load with the value they trained with.
    _params_added_later = {"class_weight": None}

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Pretrain the autoencoder on all of ``X``, then fine-tune on the labeled rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, labeled and unlabeled. CSR/CSC matrices are
            densified one batch at a time.
        y : array-like of shape (n_samples,)
            Class labels; -1 marks an unlabeled row (see the class notes).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row. The autoencoder is pretrained
            with them (see :meth:`StackedAE.fit`) and the fine-tuning
            cross-entropy of the labeled rows is ``sum(w * loss) / sum(w)``
            with ``w`` the sample weight times the class weight
            (``class_weight``). Rows of weight zero are removed before
            anything is trained; labeled rows whose class weighs zero are
            left out of fine-tuning.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        # validate_data(reset=True) writes n_features_in_ before anything can fail:
        # keep the whole previous state so a failed call leaves the estimator as it was.
        previous_state = dict(self.__dict__)
        try:
            return self._fit(X, y, sample_weight)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(previous_state)
            raise

    def _fit(self, X, y, sample_weight):
        autoencoder = self._autoencoder()
        frozen = isinstance(autoencoder, FrozenEstimator)
        if not isinstance(autoencoder.estimator if frozen else autoencoder, BaseAutoencoder):
            raise TypeError(
                "autoencoder must be a skae autoencoder (a BaseAutoencoder, whose fitted "
                "encoder_ is fine-tuned), or a fitted one wrapped in FrozenEstimator; got "
                f"{autoencoder!r}."
            )
        X, y = validate_data(
            self,
            X,
            y,
            reset=True,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
            y_numeric=False,
        )
        _check_float32_range(X, "X")
        X, y, sample_weight = _check_fit_weights(sample_weight, X, y)
        labeled = ~_unlabeled_mask(y)
        if not labeled.any():
            raise ValueError(
                "Every sample is unlabeled (y == -1): EncoderClassifier needs labeled samples "
                "to fine-tune on."
            )
        n_unlabeled = int(np.count_nonzero(~labeled))
        if n_unlabeled and not getattr(self, "n_unlabeled_", 0):
            warnings.warn(
                f"{n_unlabeled} of {len(y)} rows are labeled -1 and treated as unlabeled "
                "(scikit-learn's semi-supervised convention): they pretrain the autoencoder "
                "but are not fine-tuned on. Pass the labels as strings to make '-1' a class.",
                UserWarning,
                stacklevel=4,
            )
        y_labeled = y[labeled]
        check_classification_targets(y_labeled)
        encoder_labels = LabelEncoder()
        targets = np.full(len(y), -1, dtype=np.int32)
        targets[labeled] = encoder_labels.fit_transform(y_labeled)
        classes = encoder_labels.classes_
        if len(classes) < 2:
            raise ValueError(
                "EncoderClassifier needs labeled samples of at least two classes; got one "
                f"class, {classes[0]!r}."
            )

        tuning_weights = self._fine_tuning_weights(y, labeled, classes, sample_weight)

        seeds = SeedStream(seed_from_random_state(self.random_state))
        autoencoder = clone(autoencoder)
        params = autoencoder.get_params(deep=False)
        # An unseeded autoencoder follows the classifier's seed (a frozen one is left alone).
        autoencoder_seed = seeds()
        if "random_state" in params and params["random_state"] is None:
            autoencoder.set_params(random_state=autoencoder_seed)
        if sample_weight is None:
            autoencoder.fit(X, None)  # FrozenEstimator.fit requires y
        else:
            autoencoder.fit(X, None, sample_weight=sample_weight)
        encoder = self._fitted_encoder(autoencoder, X.shape[1])

        # Rows whose class weighs zero are left out, as zero sample weights are.
        if tuning_weights is None:
            labeled_rows = np.flatnonzero(labeled)
        else:
            labeled_rows = np.flatnonzero(labeled & (tuning_weights > 0))
        validation_rows = None
        if self.early_stopping:
            kept, held_out = _validation_split(
                targets[labeled_rows], self.validation_fraction, seeds()
            )
            labeled_rows, validation_rows = labeled_rows[kept], labeled_rows[held_out]

        batch_size = min(int(self.batch_size), len(labeled_rows))
        model = self._build_model(encoder, len(classes), seeds)
        trainer = Trainer(
            model,
            loss="sparse_categorical_crossentropy",
            batch_size=batch_size,
            jit_compile=model.jit_compile,
        )
        result = trainer.fit(
            TrainingRows(
                X,
                labeled_rows,
                batch_size,
                targets=targets,
                weights=tuning_weights,
                shuffle=self.shuffle,
            ),
            epochs=int(self.epochs),
            seed=seeds(),
            validation=(
                None
                if validation_rows is None
                else TrainingRows(
                    X, validation_rows, batch_size, targets=targets, weights=tuning_weights
                )
            ),
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            verbose=resolve_verbose(self.verbose),
        )
        if result.diverged_at is not None:
            raise ValueError(
                f"Fine-tuning diverged: the loss became non-finite at epoch {result.diverged_at}. "
                f"Lower learning_rate (now {self.learning_rate}) or scale the data."
            )

        # Commit: only a successful fit changes the estimator.
        self.autoencoder_ = autoencoder
        self.classes_ = classes
        self._set_model(model)
        self.loss_curve_ = result.loss_curve
        self.validation_loss_curve_ = result.validation_loss_curve or None
        self.best_loss_ = result.best_loss
        self.n_iter_ = len(self.loss_curve_)
        self.n_unlabeled_ = n_unlabeled
        if not (result.converged or result.stopped_by_callback):
            warnings.warn(
                f"EncoderClassifier ran its {self.epochs} fine-tuning epochs without the loss "
                f"improving by less than tol={self.tol} for {self.n_iter_no_change} epochs; "
                "the training may not have converged. Raise epochs to train longer.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _fine_tuning_weights(self, y, labeled, classes, sample_weight):
        """Each row's weight in fine-tuning (sample weight times class weight), or None."""
        class_weight = self.class_weight
        if class_weight is None:
            return sample_weight
        if isinstance(class_weight, dict):
            unknown = [label for label in class_weight if label not in set(classes)]
            if unknown:
                raise ValueError(
                    f"class_weight names the labels {unknown}, which are not among the classes "
                    f"of the labeled rows, {classes.tolist()}."
                )
            values = np.asarray(list(class_weight.values()), dtype=np.float64)
            if not np.all(np.isfinite(values) & (values >= 0)):
                raise ValueError(
                    f"class_weight must map labels to finite non-negative weights; got "
                    f"{class_weight!r}."
                )
        weights = np.ones(len(y)) if sample_weight is None else sample_weight.copy()
        # The unlabeled rows (-1) neither count for 'balanced' nor are fine-tuned on.
        weights[labeled] *= compute_sample_weight(class_weight, y[labeled])
        if not np.any(weights[labeled] > 0):
            raise ValueError(
                f"class_weight={class_weight!r} with these sample weights gives every labeled "
                "row weight zero: there is nothing to fine-tune on."
            )
        return weights

    def _autoencoder(self):
        if self.autoencoder is None:
            from ._stacked import StackedAE

            return StackedAE()
        return self.autoencoder

    @staticmethod
    def _fitted_encoder(autoencoder, n_features):
        encoder = getattr(autoencoder, "encoder_", None)
        if not isinstance(encoder, keras.Model):
            raise TypeError(
                "The autoencoder must expose, once fitted, an encoder_ attribute holding a "
                f"keras.Model; {type(autoencoder).__name__} has {type(encoder).__name__}."
            )
        input_shape = tuple(encoder.inputs[0].shape[1:])
        if None in input_shape or prod(input_shape) != n_features:
            raise ValueError(
                f"The autoencoder's encoder takes inputs of shape {input_shape}, which does not "
                f"hold the {n_features} features of X."
            )
        return encoder

    def _build_model(self, encoder, n_classes, seeds):
        # A copy, so that fine-tuning leaves the fitted autoencoder_ as pretrained.
        copy = keras.models.clone_model(encoder)
        copy.set_weights(encoder.get_weights())
        copy.trainable = not self.freeze_encoder
        code = copy.outputs[0]
        probabilities = keras.layers.Dense(
            n_classes,
            activation="softmax",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
            name="softmax_head",
        )(code)
        model = keras.Model(copy.inputs[0], probabilities, name="EncoderClassifier")
        model.compile(
            optimizer=make_optimizer(self.optimizer, self.learning_rate),
            loss="sparse_categorical_crossentropy",
            # The autoencoder's choice of XLA, made concrete for this backend and device.
            jit_compile=resolve_jit_compile(getattr(self.autoencoder, "jit_compile", "auto")),
        )
        return model

    def _set_model(self, model):
        self.model_ = model
        self._inference = make_inference_function(model)

    # ------------------------------------------------------------------ inference
    def predict_proba(self, X):
        """Class probabilities of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; rows sum to one.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32)
        )
        _check_float32_range(X, "X")
        shape = tuple(self.model_.inputs[0].shape[1:])
        proba = predict_in_chunks(lambda rows: self._inference(rows.reshape((-1, *shape))), X)
        proba = proba.astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    # ------------------------------------------------------------------ protocol
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def __getstate__(self):
        # Parameters, fitted attributes (the autoencoder_ nested) and weights only.
        if "model_" not in self.__dict__:
            return estimator_state(self, None, None)
        model = self.model_
        optimizer = model.optimizer
        encoder_trainable = any(
            layer.trainable
            for layer in model.layers
            if layer.weights and layer.name != "softmax_head"
        )
        if type(optimizer).__name__.lower() != self.optimizer or encoder_trainable == bool(
            self.freeze_encoder
        ):
            raise ValueError(
                "Cannot save this EncoderClassifier: its fitted network no longer matches its "
                "optimizer or freeze_encoder parameter (changed with set_params after fit); "
                "restore the parameters or refit."
            )
        return estimator_state(self, {}, network_variables(model))

    def __setstate__(self, state):
        restore_state(self, state)

    def _network_attributes(self):
        return ("model_", "_inference")

    def _check_fitted_state(self, network):
        """Check the fitted values a saved state gives; return a bound on the weights."""
        if network != {}:
            raise ValueError("The saved network entry of an EncoderClassifier must be empty.")
        try:
            encoder = self._fitted_encoder(self.autoencoder_, self.n_features_in_)
        except (ValueError, TypeError) as error:
            raise ValueError(f"The saved autoencoder_ does not fit: {error}") from None
        n_codes = int(encoder.outputs[0].shape[-1])
        return encoder.count_params() + (n_codes + 1) * (len(self.classes_) + 1)

    def _rebuild_networks(self, network):
        encoder = self._fitted_encoder(self.autoencoder_, self.n_features_in_)
        # The saved weights replace the head's initial values: any seed will do.
        model = self._build_model(encoder, len(self.classes_), SeedStream(0))
        self._set_model(model)
        return model
