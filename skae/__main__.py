"""``python -m skae``: autoencoders against PCA on scikit-learn's digits.

Prints, for the same code size, the test reconstruction error and the test
accuracy of a LogisticRegression trained on the codes.
"""

import argparse
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skae", description=__doc__)
    parser.add_argument("--n-components", type=int, nargs="+", default=[8])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from skae import StackedAE

    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.25, random_state=args.random_state
    )
    print(f"digits: {len(X_train)} train / {len(X_test)} test images of 8x8 pixels in [0, 1]")
    print(f"{'model':<12} {'code size':>9} {'recon MSE':>10} {'LR accuracy':>12} {'fit s':>7}")
    for n_components in args.n_components:
        models = {
            "PCA": PCA(n_components, random_state=args.random_state),
            "StackedAE": StackedAE(
                n_components, epochs=args.epochs, random_state=args.random_state
            ),
        }
        for name, reducer in models.items():
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                reducer.fit(X_train)
            budget_used = any(issubclass(w.category, ConvergenceWarning) for w in caught)
            seconds = time.perf_counter() - start
            codes = reducer.transform(X_test)
            mse = ((reducer.inverse_transform(codes) - X_test) ** 2).mean()
            # Equivalent to Pipeline([(name, reducer), ("lr", LogisticRegression())]) with the
            # reducer fitted once on the training images (without their labels).
            classifier = LogisticRegression(max_iter=2000).fit(reducer.transform(X_train), y_train)
            accuracy = classifier.score(codes, y_test)
            note = "  (all epochs used: still improving)" if budget_used else ""
            print(
                f"{name:<12} {n_components:>9} {mse:>10.5f} {accuracy:>12.3f} {seconds:>7.1f}{note}"
            )


if __name__ == "__main__":
    main()
