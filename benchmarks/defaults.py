"""How the training defaults (batch size, XLA, learning rate) trade speed for quality.

Run: python benchmarks/defaults.py  (writes results/defaults.{json,md})

Every candidate trains ``StackedAE`` with the library's other defaults (784-256-128-32 on
MNIST, 64-256-128-32 on digits, up to 200 epochs until the loss stops improving by
``tol``) and records the held-out reconstruction MSE after every epoch together with the
wall-clock training time so far (the held-out evaluation is not counted). The tables give
the final test MSE, the fit time, and the time each candidate needed to come within 5% of
the best final MSE of the run. All candidates run in one process, one after another.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import numpy as np  # noqa: E402

CANDIDATES = [  # (batch_size, jit_compile, learning_rate)
    (64, False, 1e-3),
    (64, True, 1e-3),
    (128, True, 1e-3),
    (256, True, 1e-3),
    (256, True, 2e-3),
    (512, True, 2e-3),
]


def curve_recorder(X_test):
    import keras

    class Curve(keras.callbacks.Callback):
        """Held-out MSE and training seconds after every epoch (evaluation not timed)."""

        def __init__(self):
            super().__init__()
            self.seconds, self.test_mse, self._elapsed = [], [], 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self._elapsed += time.perf_counter() - self._start
            reconstruction = np.asarray(self.model(X_test.astype(np.float32), training=False))
            self.seconds.append(self._elapsed)
            self.test_mse.append(float(np.mean((reconstruction - X_test) ** 2)))

    return Curve()


def run_candidate(dataset, batch_size, jit_compile, learning_rate, epochs, seed=common.SEED):
    from sklearn.exceptions import ConvergenceWarning

    from skae import StackedAE

    curve = curve_recorder(dataset["X_test"])
    ae = StackedAE(
        batch_size=batch_size,
        jit_compile=jit_compile,
        learning_rate=learning_rate,
        epochs=epochs,
        callbacks=[curve],
        random_state=seed,
    )
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        ae.fit(dataset["X_train"])
    fit_seconds = time.perf_counter() - start
    reconstruction = ae.inverse_transform(ae.transform(dataset["X_test"]))
    test_mse = float(np.mean((reconstruction - dataset["X_test"]) ** 2))
    return {
        "batch_size": batch_size,
        "jit_compile": jit_compile,
        "xla": bool(ae.model_.jit_compile),  # what 'auto' chose
        "learning_rate": learning_rate,
        "epochs_used": ae.n_iter_,
        "converged": not any(issubclass(w.category, ConvergenceWarning) for w in caught),
        "fit_seconds": fit_seconds,
        "test_mse": test_mse,
        "curve_seconds": curve.seconds,
        "curve_test_mse": curve.test_mse,
    }


def time_to_reach(result, level):
    for seconds, mse in zip(result["curve_seconds"], result["curve_test_mse"], strict=True):
        if mse <= level:
            return seconds
    return None


def render(payload):
    lines = ["# Training defaults: speed against quality", ""]
    lines.append(
        f"StackedAE with its defaults except the columns, random_state={payload.get('seed', 0)}; "
        "test MSE after the fit (and the lowest held-out MSE after any epoch), wall-clock fit "
        "seconds, and the training seconds until the held-out MSE first came within 5% of the "
        "best final MSE in the table (per-epoch evaluation not counted).\n"
    )
    for name, section in payload["datasets"].items():
        best = min(r["test_mse"] for r in section["results"])
        lines.append(
            f"## {name} ({section['n_train']} training rows, {section['n_test']} test rows)\n"
        )
        rows = []
        for r in section["results"]:
            reach = time_to_reach(r, 1.05 * best)
            rows.append(
                [
                    r["batch_size"],
                    r["jit_compile"]
                    if r["jit_compile"] != "auto"
                    else f"auto ({'XLA' if r.get('xla') else 'no XLA'})",
                    r["learning_rate"],
                    f"{r['test_mse']:.5f}",
                    f"{min(r['curve_test_mse']):.5f}",
                    f"{r['epochs_used']}{'' if r['converged'] else ' (all)'}",
                    f"{r['fit_seconds']:.1f}",
                    "not reached" if reach is None else f"{reach:.1f}",
                ]
            )
        lines.append(
            common.markdown_table(
                [
                    "batch",
                    "jit_compile",
                    "lr",
                    "test MSE",
                    "lowest on the way",
                    "epochs",
                    "fit s",
                    "s to 1.05 x best",
                ],
                rows,
            )
        )
    lines.append(common.machine_line(payload["machine"]) + "\n")
    lines.append(f"Regenerate: `{payload['command']}`\n")
    return "\n".join(lines)


def plot(payload, folder):
    plt = common.pyplot()
    if plt is None:
        return
    names = list(payload["datasets"])
    figure, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 4), squeeze=False)
    for axis, name in zip(axes[0], names, strict=True):
        for r in payload["datasets"][name]["results"]:
            label = f"batch {r['batch_size']}, XLA {r['jit_compile']}, lr {r['learning_rate']}"
            axis.plot(r["curve_seconds"], r["curve_test_mse"], label=label)
        axis.set(title=name, xlabel="training seconds", ylabel="held-out MSE", yscale="log")
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(folder / "defaults.png", dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser, families=False)
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist10k"])
    parser.add_argument("--seed", type=int, default=common.SEED, help="random_state of the fits")
    parser.add_argument(
        "--batch-sizes",
        nargs="+",
        type=int,
        default=None,
        help="candidates at these batch sizes with jit_compile='auto' and lr 1e-3 instead of "
        "the default candidate list",
    )
    args = parser.parse_args(argv)
    candidates = (
        CANDIDATES
        if args.batch_sizes is None
        else [(batch_size, "auto", 1e-3) for batch_size in args.batch_sizes]
    )
    folder = common.output_folder(args)
    epochs = 3 if args.smoke else 200
    payload = {"benchmark": "defaults", "smoke": args.smoke, "seed": args.seed, "datasets": {}}
    for name in args.datasets:
        dataset = (
            common.load_digits_split() if name == "digits" else common.load_mnist10k(args.mnist)
        )
        if args.smoke:
            dataset = common.shrink(dataset, 300, 100)
        results = []
        for batch_size, jit_compile, learning_rate in candidates[: 2 if args.smoke else None]:
            result = run_candidate(
                dataset, batch_size, jit_compile, learning_rate, epochs, seed=args.seed
            )
            results.append(result)
            print(
                f"{name} batch {batch_size} jit {jit_compile} lr {learning_rate}: "
                f"test MSE {result['test_mse']:.5f}, {result['epochs_used']} epochs, "
                f"{result['fit_seconds']:.1f} s",
                flush=True,
            )
        payload["datasets"][name] = {
            "n_train": len(dataset["X_train"]),
            "n_test": len(dataset["X_test"]),
            "results": results,
        }
    payload["machine"] = common.machine_info()
    payload["command"] = common.command_line("defaults.py", sys.argv[1:] if argv is None else argv)
    common.write_results(folder, "defaults", payload, render, plot)
    print(render(payload))


if __name__ == "__main__":
    main()
