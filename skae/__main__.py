"""``python -m skae``: autoencoders against PCA on scikit-learn's digits.

Prints, for the same code size, the test reconstruction error and the test
accuracy of a LogisticRegression trained on the codes.
"""

import argparse
import contextlib
import os
import re
import sys
import threading
import time
import warnings

# TensorFlow's C++ log lines, with their severity: absl's format ("I0000 00:00:1796162493.754928
# 11384 port.cc:153] ...") and TensorFlow's older one ("2025-09-17 14:44:05.157831: I
# external/local_xla/xla/tsl/cuda/cudart_stub.cc:32] ..."); absl's banner and the second
# line of cpu_feature_guard's notice go with the informational lines.
_LOG_LINE = re.compile(
    rb"(?:([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ([IWEF]))"
    rb" \S+:\d+\] "
)
_NOTICE = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|To enable the following instructions: "
)


def _log_level():
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def _hidden(line, level):
    """Whether TF_CPP_MIN_LOG_LEVEL=level hides ``line`` (bytes) of standard error."""
    match = _LOG_LINE.match(line)
    if match:
        return b"IWEF".index(match.group(1) or match.group(2)) < level
    return level > 0 and _NOTICE.match(line) is not None


@contextlib.contextmanager
def _tensorflow_log_level_applied():
    """Apply TF_CPP_MIN_LOG_LEVEL to every TensorFlow C++ log line written to stderr.

    TensorFlow writes some lines through absl before absl's logging is initialised
    (oneDNN, CUDA drivers, cuInit), whatever TF_CPP_MIN_LOG_LEVEL says, so they are
    filtered here, at file descriptor 2, where C++ writes them. Everything else written
    to stderr (Python's warnings and tracebacks) passes through unchanged.
    """
    level = _log_level()
    try:
        sys.stderr.flush()
        original = os.dup(2) if level > 0 else None
    except (AttributeError, OSError, ValueError):  # no usable fd 2: nothing to filter
        original = None
    if original is None:
        yield
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward():
        with open(read_end, "rb") as pipe:
            for line in pipe:
                if not _hidden(line, level):
                    os.write(original, line)

    forwarder = threading.Thread(target=forward, name="skae-stderr", daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # closes our last write end of the pipe: the forwarder ends
        forwarder.join(timeout=5)  # unless a child process still holds one
        if not forwarder.is_alive():
            os.close(original)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skae", description=__doc__)
    parser.add_argument("--n-components", type=int, nargs="+", default=[8])
    parser.add_argument(
        "--epochs", type=int, default=None, help="StackedAE's epochs (default: its 'auto')"
    )
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)
    # A newcomer's console shows TensorFlow's C++ logging only on request. Set before
    # TensorFlow is imported (``import skae`` does not import it). 3, not 2: TensorFlow logs a
    # missing GPU driver as an error ("failed call to cuInit") on every machine without one,
    # and real failures reach Python as exceptions. A user's own setting is kept.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _tensorflow_log_level_applied():
        _compare(args)


def _compare(args):
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
                n_components, epochs=args.epochs or "auto", random_state=args.random_state
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
            note = "  (epochs ran out: still improving)" if budget_used else ""
            print(
                f"{name:<12} {n_components:>9} {mse:>10.5f} {accuracy:>12.3f} {seconds:>7.1f}{note}"
            )


if __name__ == "__main__":
    main()
