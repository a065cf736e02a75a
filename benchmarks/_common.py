"""Shared pieces of the benchmark scripts: data, model discovery, timing and output.

The scripts are run from the repository root, e.g. ``python benchmarks/representations.py``;
each has a ``--smoke`` mode (tiny data, one or two epochs) that the test suite runs so the
scripts cannot rot. Results go to ``benchmarks/results/`` as JSON, a markdown table and PNG
plots; a smoke run writes to a temporary folder unless ``--out`` is given.
"""

import inspect
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
MNIST10K = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist10k.npz"
SEED = 0


# ---------------------------------------------------------------------- command line
def add_common_arguments(parser, *, families=True):
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny data and epochs, to check that the script runs (numbers are meaningless)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: benchmarks/results, or a temporary folder with --smoke)",
    )
    parser.add_argument(
        "--mnist",
        type=Path,
        default=Path(os.environ.get("SKAE_MNIST10K", MNIST10K)),
        help="path of mnist10k.npz (default: ../shared/data/mnist10k.npz or $SKAE_MNIST10K)",
    )
    if not families:
        return
    parser.add_argument(
        "--families",
        nargs="+",
        default=None,
        help="skae autoencoder classes to run (default: every one in skae.__all__)",
    )


def output_folder(args):
    if args.out is not None:
        folder = args.out
    elif args.smoke:
        folder = Path(tempfile.mkdtemp(prefix="skae-bench-smoke-"))
    else:
        folder = RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ---------------------------------------------------------------------- data
def load_digits_split():
    """scikit-learn's digits scaled to [0, 1], split 75/25 with random_state 0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data / 16.0, data.target, test_size=0.25, random_state=SEED
    )
    return {
        "name": "digits",
        "X_train": X_train,
        "X_test": X_test,
        "y_train": y_train,
        "y_test": y_test,
        "image_shape": (8, 8),
    }


def load_mnist10k(path=MNIST10K):
    """mnist10k.npz: 8,000 train and 2,000 test MNIST digits, pixels scaled to [0, 1]."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: pass --mnist PATH or set SKAE_MNIST10K (see ../shared/data)."
        )
    with np.load(path) as data:
        X_train = data["x_train"].reshape(len(data["x_train"]), -1) / 255.0
        X_test = data["x_test"].reshape(len(data["x_test"]), -1) / 255.0
        y_train, y_test = data["y_train"].astype(np.int64), data["y_test"].astype(np.int64)
    return {
        "name": "mnist10k",
        "X_train": X_train,
        "X_test": X_test,
        "y_train": y_train,
        "y_test": y_test,
        "image_shape": (28, 28),
    }


def shrink(dataset, n_train, n_test):
    """The first rows of a dataset, for smoke runs."""
    small = dict(dataset)
    for key, n in (
        ("X_train", n_train),
        ("y_train", n_train),
        ("X_test", n_test),
        ("y_test", n_test),
    ):
        small[key] = dataset[key][:n]
    return small


def label_subset(y, n_labels, seed):
    """Indices of ``n_labels`` rows drawn stratified by class (all rows if n >= len(y))."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    if n_labels >= len(y):
        return rows
    subset, _ = train_test_split(rows, train_size=n_labels, stratify=y, random_state=seed)
    return np.sort(subset)


# ---------------------------------------------------------------------- models
def skae_families(names=None):
    """The concrete autoencoder classes that ``skae`` exports, by name.

    New families are picked up as soon as they appear in ``skae.__all__``.
    """
    import skae

    families = {}
    for name in skae.__all__:
        obj = getattr(skae, name)
        if (
            inspect.isclass(obj)
            and issubclass(obj, skae.BaseAutoencoder)
            and not inspect.isabstract(obj)
        ):
            families[name] = obj
    if names is not None:
        unknown = sorted(set(names) - set(families))
        if unknown:
            raise SystemExit(f"Unknown skae families {unknown}; available: {sorted(families)}")
        families = {name: families[name] for name in names}
    return families


# Per-family settings for images, for families whose constructor asks for the image shape.
_IMAGE_SHAPE_PARAMETERS = ("image_shape", "input_shape")


def make_autoencoder(cls, n_components, *, image_shape=None, **settings):
    """``cls(n_components=...)`` with those of ``settings`` that ``cls`` takes.

    Families differ in their parameters (a convolutional one needs the image
    shape, others have none); settings a family does not take are dropped.
    """
    estimator = cls(n_components=n_components)
    params = estimator.get_params(deep=False)
    accepted = {k: v for k, v in settings.items() if k in params}
    if image_shape is not None:
        for name in _IMAGE_SHAPE_PARAMETERS:
            if name in params:
                accepted[name] = tuple(image_shape)
    return estimator.set_params(**accepted)


def logistic_regression(**params):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, **params)


# ---------------------------------------------------------------------- bookkeeping
class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False


def gpu_names():
    """The GPUs that Keras's backend computes on (empty on a CPU-only machine)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [str(d.device_kind) for d in jax.devices() if d.platform == "gpu"]
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def machine_info():
    import importlib.metadata

    import keras
    import sklearn

    import skae

    def version(name):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "tensorflow": version("tensorflow"),
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "skae": skae.__version__,
        "gpus": gpu_names(),
        # Fit times are wall-clock: a machine shared with other jobs makes them longer.
        "load_average_1_5_15_min": [round(x, 2) for x in os.getloadavg()],
    }


def resident_mb():
    """This process's resident memory now, in MiB (Linux's /proc/self/statm)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def write_results(folder, name, payload, render, plot=None):
    """The one results writer: ``name``.json, ``name``.md (``render(payload)``) and, when
    ``plot`` is given, whatever ``plot(payload, folder)`` draws (``name``.png)."""
    write_json(folder, name, payload)
    write_text(folder, f"{name}.md", render(payload))
    if plot is not None:
        plot(payload, folder)


def write_json(folder, name, payload):
    path = Path(folder) / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    return path


def write_text(folder, name, text):
    path = Path(folder) / name
    path.write_text(text)
    return path


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine_line(machine):
    return (
        f"Machine: {machine['platform']}, {machine['cpu_count']} CPUs"
        f"{', GPU ' + ', '.join(machine['gpus']) if machine['gpus'] else ', no GPU'}; "
        f"Python {machine['python']}, scikit-learn {machine['scikit-learn']}, "
        f"TensorFlow {machine['tensorflow']}, Keras {machine['keras']} "
        f"(backend {machine.get('keras_backend', 'tensorflow')}), skae {machine['skae']}."
        + (
            f" Load average over the last 15 minutes when the run ended: "
            f"{machine['load_average_1_5_15_min'][2]} (fit times are wall-clock)."
            if "load_average_1_5_15_min" in machine
            else ""
        )
    )


def pyplot():
    """matplotlib's pyplot on the Agg backend, or None when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no plots (pip install 'skae[plot]').")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def command_line(script, argv):
    """The command that regenerates a result, quoted so that it pastes into a shell (JSON
    arguments such as ``--select {"epochs": 5}`` hold braces, quotes and spaces)."""
    return shlex.join(["python", f"benchmarks/{script}", *argv])
