"""Soak test: many fit/transform cycles in one process.

Measures resident memory and fit time per cycle, and reports the memory growth
after warm-up and the trend (least-squares slope) of fit time.

Run: python benchmarks/soak.py [--cycles 100]  (writes results/soak.{json,md})
"""

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skae import StackedAE  # noqa: E402

HERE = Path(__file__).resolve().parent
WARM_UP = 10


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=100)
    args = parser.parse_args(argv)
    X = load_digits().data[:500] / 16.0
    memory, fit_seconds = [], []
    live = StackedAE(n_components=4, hidden_layer_sizes=(16,), epochs=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        live.fit(X)  # an estimator that must keep working while others come and go
        reference = live.transform(X)
        # A model the user owns, alive during the soak: fits must not disturb it.
        user = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(3)])
        user.compile(optimizer="adam", loss="mse")
        user.fit(X, X[:, :3], epochs=1, verbose=0)
        user_reference = user.predict(X, verbose=0)
        load_before = os.getloadavg()
        for cycle in range(args.cycles):
            ae = StackedAE(n_components=4, hidden_layer_sizes=(16,), epochs=2, random_state=cycle)
            start = time.perf_counter()
            ae.fit(X.copy())  # fresh data each cycle, as in cross-validation
            fit_seconds.append(time.perf_counter() - start)
            ae.transform(X)
            del ae
            memory.append(common.resident_mb())
        load_after = os.getloadavg()
        np.testing.assert_array_equal(live.transform(X), reference)
        np.testing.assert_array_equal(user.predict(X, verbose=0), user_reference)
        user.fit(X, X[:, :3], epochs=1, verbose=0)  # and it still trains
    steady = np.arange(WARM_UP, args.cycles)
    slope = float(np.polyfit(steady, np.array(fit_seconds)[WARM_UP:], 1)[0])
    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_1_5_15_min_before": load_before,
            "load_average_1_5_15_min_after": load_after,
        },
        "cycles": args.cycles,
        "memory_mb_after_warm_up": memory[WARM_UP - 1],
        "memory_mb_at_end": memory[-1],
        "memory_growth_mb": memory[-1] - memory[WARM_UP - 1],
        "memory_mb_slope_per_cycle": float(np.polyfit(steady, np.array(memory)[WARM_UP:], 1)[0]),
        "median_fit_seconds_first_half": float(np.median(fit_seconds[WARM_UP : args.cycles // 2])),
        "median_fit_seconds_second_half": float(np.median(fit_seconds[args.cycles // 2 :])),
        "fit_seconds_slope_per_cycle": slope,
        "live_estimator_unchanged": True,
        "user_keras_model_unchanged": True,
        "memory_mb_per_cycle": memory,
        "fit_seconds_per_cycle": fit_seconds,
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    common.write_results(out, "soak", result, render)
    print(render(result))


def render(result):
    table = ["| measure | value |", "| --- | ---: |"]
    table += [f"| {k} | {v:.4g} |" for k, v in result.items() if isinstance(v, float)]
    return "\n".join(table) + "\n"


if __name__ == "__main__":
    main()
