"""scikit-learn's own estimator checks over every public estimator."""

import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from skae import (
    ConvolutionalAE,
    DenoisingAE,
    EncoderClassifier,
    SparseAE,
    StackedAE,
    VariationalAE,
)

from .conftest import FLOAT32_ROUNDING, GREEDY_TIED_DROPOUT, STOCHASTIC_WEIGHTS, tiny

# One instance per public class, plus one that combines the options that change the network
# (tied weights, greedy pretraining, masking noise). Each instance costs about 45 checks, so
# variants that only change parameter values (the linear autoencoder, sparsity targets) are
# covered by their own test modules instead.
ESTIMATORS = [
    tiny(StackedAE),
    tiny(DenoisingAE, noise_level=0.1),
    tiny(DenoisingAE, **GREEDY_TIED_DROPOUT),
    tiny(SparseAE, n_components=3),
    tiny(VariationalAE),
    # The defaults: the checks' data are not images in [0, 1], so rows as 1-D signals and the
    # squared error (loss="auto").
    ConvolutionalAE(filters=(2,), epochs=2, batch_size=16, random_state=0),
    EncoderClassifier(
        tiny(StackedAE), epochs=10, learning_rate=0.01, batch_size=16, random_state=0
    ),
]

# The check ends by fitting labels {-1, 1}; -1 marks unlabeled rows in scikit-learn's
# semi-supervised convention, which sklearn's check exempts its own LabelPropagation,
# LabelSpreading and SelfTrainingClassifier from by name. test_classifier.py covers string,
# object and integer labels instead.
SEMI_SUPERVISED_LABELS = (
    "semi-supervised: y == -1 marks unlabeled rows (scikit-learn's convention), so the check's "
    "{-1, 1} labels leave one class; string and integer labels are tested in test_classifier.py"
)


# The check fits 3 unscaled blobs (std 20) with class weights {0: 1000, 1: 1e-4, 2: 1e-4}
# and wants over 87% of predictions in class 0: the 10 fine-tuning epochs above gave 86%, 30
# gave 100%. tests/test_sample_weight.py tests class_weight itself.
SHORT_FINE_TUNING = (
    "the common checks' EncoderClassifier fine-tunes 10 epochs, 86% class 0 on the check's "
    "unscaled blobs against the 87% it asks (30 epochs: 100%); class_weight is tested in "
    "test_sample_weight.py"
)


def expected_failed_checks(estimator):
    failures = dict(STOCHASTIC_WEIGHTS)
    # The ConvolutionalAE above (no dense code layer) passes them: its convolutions gave
    # each row the same float32 outputs wherever it sat in a batch.
    if not isinstance(estimator, ConvolutionalAE):
        failures["check_methods_sample_order_invariance"] = FLOAT32_ROUNDING
        failures["check_methods_subset_invariance"] = FLOAT32_ROUNDING
    if isinstance(estimator, EncoderClassifier):
        failures["check_classifiers_classes"] = SEMI_SUPERVISED_LABELS
        failures["check_class_weight_classifiers"] = SHORT_FINE_TUNING
    return failures


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    # The tiny settings stop training long before convergence on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
