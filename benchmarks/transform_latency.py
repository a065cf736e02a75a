"""Transform latency of a fitted StackedAE against PCA and Keras's Model.predict.

Run: python benchmarks/transform_latency.py  (writes results/transform_latency.{json,md})
All timings come from the same process; medians of repeated calls.
"""

import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skae import StackedAE  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data" / "mnist10k.npz"


def median_seconds(function, repeats):
    function()  # warm-up: tracing, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    data = np.load(DATA)
    X_train = data["x_train"] / 255.0
    X_test = np.vstack([data["x_test"]] * 5)[:10_000] / 255.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = StackedAE(n_components=32, epochs=1, random_state=0).fit(X_train)
    pca = PCA(32, random_state=0).fit(X_train)
    rows = {}
    for n in (1, 100, 10_000):
        X = X_test[:n]
        repeats = 200 if n < 10_000 else 10
        rows[n] = {
            "skae_transform_ms": 1e3 * median_seconds(lambda X=X: ae.transform(X), repeats),
            "pca_transform_ms": 1e3 * median_seconds(lambda X=X: pca.transform(X), repeats),
            "keras_predict_ms": 1e3
            * median_seconds(lambda X=X: ae.encoder_.predict(X, verbose=0), min(repeats, 20)),
        }
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "network": "StackedAE(n_components=32), 784-256-128-32 encoder",
        "rows": rows,
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    common.write_results(out, "transform_latency", result, render)
    print(render(result))


def render(result):
    lines = [
        "| rows | skae transform ms | PCA transform ms | Keras Model.predict ms |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for n, r in result["rows"].items():
        lines.append(
            f"| {n} | {r['skae_transform_ms']:.2f} | {r['pca_transform_ms']:.2f} | "
            f"{r['keras_predict_ms']:.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
