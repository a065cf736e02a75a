"""Test reconstruction error and linear-probe accuracy against wall-clock fit time, defaults only.

Run: python benchmarks/time_to_quality.py  (writes results/time_to_quality.{json,md,png})

Every skae model is built with ``n_components`` and ``random_state`` only. Beside them, in the
same process and interleaved per code size: PCA; the classic Keras tutorial autoencoder
(784-256-k-256-784, ReLU, sigmoid output, binary cross-entropy, Adam, ``Model.fit`` with batch
256 for 20 epochs; on MNIST only, as published); scikit-learn's ``MLPRegressor`` used as an
autoencoder (hidden layers (256, k, 256), fitting X to X, its defaults with ``max_iter=20``);
and the same net in a PyTorch loop when torch is installed. Data: scikit-learn's digits (/16),
mnist10k (/255) and two standardized tabular sets (breast cancer, wine), split 75/25.
On mnist10k ConvolutionalAE is fitted too, on the rows as 28 x 28 images, at 16, 32 and 64
components. A held-out MSE is recorded after every epoch of StackedAE's fit for the plot
(not timed).
"""

import argparse
import importlib.util
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import numpy as np  # noqa: E402

FAMILIES = ("StackedAE", "DenoisingAE", "SparseAE")
SIZES = {
    "digits": (8,),
    "mnist10k": (8, 16, 32, 64),
    "breast_cancer": tuple(range(2, 9)),
    "wine": tuple(range(2, 9)),
}
# Goals of issue 17 on mnist10k: StackedAE's test MSE / PCA's at most these, in at most twice
# the tutorial net's fit time.
MNIST_GOALS = {32: 0.45, 64: 0.6}
# ConvolutionalAE (its fit takes about 65 s on 2 cores) is compared with StackedAE at these
# code sizes.
CONVOLUTIONAL_SIZES = (16, 32, 64)


def tabular(name):
    from sklearn.datasets import load_breast_cancer, load_wine
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = {"breast_cancer": load_breast_cancer, "wine": load_wine}[name](return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return {
        "name": name,
        "X_train": scaler.transform(X_train),
        "X_test": scaler.transform(X_test),
        "y_train": y_train,
        "y_test": y_test,
    }


def held_out_curve(X_test):
    import keras

    class Curve(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds, self.mse, self._elapsed = [], [], 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self._elapsed += time.perf_counter() - self._start
            out = np.asarray(self.model(X_test.astype(np.float32), training=False))
            self.seconds.append(self._elapsed)
            self.mse.append(float(np.mean((out - X_test) ** 2)))

    return Curve()


def probe(codes_train, y_train, codes_test, y_test):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), common.logistic_regression())
    return float(model.fit(codes_train, y_train).score(codes_test, y_test))


def run_reducer(kind, reducer, data, curve=None):
    from sklearn.exceptions import ConvergenceWarning

    X_train, X_test = data["X_train"], data["X_test"]
    if curve is not None:
        reducer.set_params(callbacks=[curve])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        reducer.fit(X_train)
        seconds = time.perf_counter() - start
    if curve is not None:
        reducer.set_params(callbacks=None)
    codes_test = reducer.transform(X_test)
    mse = float(np.mean((reducer.inverse_transform(codes_test) - X_test) ** 2))
    warned = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    return {
        "model": kind,
        "fit_seconds": seconds,
        "test_mse": mse,
        "probe_accuracy": probe(
            reducer.transform(X_train), data["y_train"], codes_test, data["y_test"]
        ),
        "epochs": getattr(reducer, "n_iter_", None),
        "convergence_warning": warned[0] if warned else None,
        "curve": None if curve is None else {"seconds": curve.seconds, "test_mse": curve.mse},
    }


def run_tutorial(data, k, epochs):
    import keras

    X_train, X_test = data["X_train"], data["X_test"]
    keras.utils.set_random_seed(common.SEED)  # the tutorial's own way; this process only
    inputs = keras.Input((X_train.shape[1],))
    code = keras.layers.Dense(k, activation="relu")(
        keras.layers.Dense(256, activation="relu")(inputs)
    )
    hidden = keras.layers.Dense(256, activation="relu")(code)
    outputs = keras.layers.Dense(X_train.shape[1], activation="sigmoid")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "binary_crossentropy")
    start = time.perf_counter()
    model.fit(X_train, X_train, epochs=epochs, batch_size=256, shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    encoder = keras.Model(inputs, code)
    codes_train = encoder.predict(X_train, verbose=0)
    codes_test = encoder.predict(X_test, verbose=0)
    mse = float(np.mean((model.predict(X_test, verbose=0) - X_test) ** 2))
    return {
        "model": "tutorial Keras net",
        "fit_seconds": seconds,
        "test_mse": mse,
        "probe_accuracy": probe(codes_train, data["y_train"], codes_test, data["y_test"]),
        "epochs": epochs,
    }


def run_mlp(data, k, max_iter):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    X_train, X_test = data["X_train"], data["X_test"]
    mlp = MLPRegressor(
        hidden_layer_sizes=(256, k, 256), max_iter=max_iter, random_state=common.SEED
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        mlp.fit(X_train, X_train)
        seconds = time.perf_counter() - start
    return {
        "model": "MLPRegressor",
        "fit_seconds": seconds,
        "test_mse": float(np.mean((mlp.predict(X_test) - X_test) ** 2)),
        "probe_accuracy": None,
        "epochs": mlp.n_iter_,
    }


def run_torch(data, k, epochs):
    import torch

    torch.manual_seed(common.SEED)
    X_train = torch.tensor(data["X_train"], dtype=torch.float32)
    n = X_train.shape[1]
    net = torch.nn.Sequential(
        torch.nn.Linear(n, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, k),
        torch.nn.ReLU(),
        torch.nn.Linear(k, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, n),
        torch.nn.Sigmoid(),
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in torch.randperm(len(X_train)).split(256):
            x = X_train[batch]
            optimizer.zero_grad()
            torch.nn.functional.binary_cross_entropy(net(x), x).backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        out = net(torch.tensor(data["X_test"], dtype=torch.float32)).numpy()
    return {
        "model": "PyTorch loop",
        "fit_seconds": seconds,
        "test_mse": float(np.mean((out - data["X_test"]) ** 2)),
        "probe_accuracy": None,
        "epochs": epochs,
    }


def family_checks(reducer, data):
    """DenoisingAE: how much of its own training noise it removes from the test rows (noise
    MSE / MSE of the denoised rows against the clean ones); SparseAE: its codes' mean
    activation against ``sparsity_target``."""
    X_test = data["X_test"]
    if reducer.get_params().get("noise") == "gaussian":
        rng = np.random.default_rng(common.SEED)
        noisy = X_test + rng.normal(0.0, reducer.noise_level, X_test.shape)
        if reducer.noise_clip:
            noisy = np.clip(noisy, data["X_train"].min(), data["X_train"].max())
        denoised = reducer.inverse_transform(reducer.transform(noisy))
        noise_mse = float(np.mean((noisy - X_test) ** 2))
        return {"noise_removed": noise_mse / float(np.mean((denoised - X_test) ** 2))}
    if reducer.get_params().get("sparsity_weight", 0) > 0:
        return {
            "mean_activation": float(np.mean(reducer.transform(X_test))),
            "sparsity_target": reducer.sparsity_target,
        }
    return {}


def as_images(data):
    """``data`` with its rows as (n, height, width, 1) images: ConvolutionalAE reads their
    shape from the array, so it gets no parameter beyond n_components and random_state."""
    images = dict(data)
    for key in ("X_train", "X_test"):
        images[key] = data[key].reshape(-1, *data["image_shape"], 1)
    return images


def run_dataset(data, sizes, *, smoke):
    from sklearn.decomposition import PCA

    import skae

    image = data["name"] in ("digits", "mnist10k")
    results = []
    for k in sizes:
        rows = [run_reducer("PCA", PCA(k, random_state=common.SEED), data)]
        for name in FAMILIES:
            if data["name"] == "mnist10k" and name != "StackedAE" and k != 32:
                continue  # for time: the other dense families' goals are at 32
            reducer = getattr(skae, name)(n_components=k, random_state=common.SEED)
            if smoke:
                reducer.set_params(epochs=2)
            curve = held_out_curve(data["X_test"]) if name == "StackedAE" else None
            rows.append(run_reducer(name, reducer, data, curve))
            rows[-1].update(family_checks(reducer, data))
        if data["name"] == "mnist10k" and k in CONVOLUTIONAL_SIZES:
            reducer = skae.ConvolutionalAE(n_components=k, random_state=common.SEED)
            if smoke:
                reducer.set_params(epochs=2)
            rows.append(run_reducer("ConvolutionalAE", reducer, as_images(data)))
        if data["name"] == "mnist10k":
            rows.append(run_tutorial(data, k, 1 if smoke else 20))
            if importlib.util.find_spec("torch") is not None:
                rows.append(run_torch(data, k, 1 if smoke else 20))
        if image or k in (2, 8):
            rows.append(run_mlp(data, k, 2 if smoke else 20))
        pca = rows[0]["test_mse"]
        for row in rows:
            row["mse_over_pca"] = row["test_mse"] / pca
        results.append({"n_components": k, "rows": rows})
    return {"n_train": len(data["X_train"]), "n_test": len(data["X_test"]), "results": results}


def goals(payload):
    """Issue 17's goals, each with its measured value."""
    checks = []
    mnist = payload["datasets"].get("mnist10k")
    if mnist:
        for entry in mnist["results"]:
            k, rows = entry["n_components"], {r["model"]: r for r in entry["rows"]}
            ae, pca = rows["StackedAE"], rows["PCA"]
            if k in MNIST_GOALS:
                tutorial = rows["tutorial Keras net"]["fit_seconds"]
                checks.append(
                    (
                        f"mnist10k k={k}: StackedAE MSE / PCA",
                        ae["mse_over_pca"],
                        f"<= {MNIST_GOALS[k]}",
                        ae["mse_over_pca"] <= MNIST_GOALS[k],
                    )
                )
                ratio = ae["fit_seconds"] / tutorial
                checks.append(
                    (f"mnist10k k={k}: StackedAE fit s / tutorial net's", ratio, "<= 2", ratio <= 2)
                )
            if k == 32:
                dae, sae = rows["DenoisingAE"], rows["SparseAE"]
                checks.append(
                    (
                        "mnist10k k=32: DenoisingAE noise MSE / denoised MSE",
                        dae["noise_removed"],
                        ">= 3",
                        dae["noise_removed"] >= 3,
                    )
                )
                gap = abs(sae["mean_activation"] - sae["sparsity_target"])
                checks.append(
                    (
                        "mnist10k k=32: SparseAE |mean activation - target|",
                        gap,
                        "<= 0.25 x target",
                        gap <= 0.25 * sae["sparsity_target"],
                    )
                )
                checks.append(
                    (
                        "mnist10k k=32: SparseAE MSE / PCA",
                        sae["mse_over_pca"],
                        "< 1",
                        sae["mse_over_pca"] < 1,
                    )
                )
            if "ConvolutionalAE" in rows:
                ratio = rows["ConvolutionalAE"]["test_mse"] / ae["test_mse"]
                checks.append(
                    (f"mnist10k k={k}: ConvolutionalAE MSE / StackedAE's", ratio, "< 1", ratio < 1)
                )
            checks.append(
                (
                    f"mnist10k k={k}: probe accuracy StackedAE - PCA",
                    ae["probe_accuracy"] - pca["probe_accuracy"],
                    ">= 0",
                    ae["probe_accuracy"] >= pca["probe_accuracy"],
                )
            )
    for name in ("breast_cancer", "wine"):
        for entry in payload["datasets"].get(name, {"results": []})["results"]:
            ae = next(r for r in entry["rows"] if r["model"] == "StackedAE")
            checks.append(
                (
                    f"{name} k={entry['n_components']}: StackedAE MSE / PCA",
                    ae["mse_over_pca"],
                    "<= 1",
                    ae["mse_over_pca"] <= 1,
                )
            )
    digits = payload["datasets"].get("digits")
    if digits:
        ae = next(r for r in digits["results"][0]["rows"] if r["model"] == "StackedAE")
        checks.append(
            (
                "digits k=8: StackedAE test MSE (main job before: 0.0119 in 21.1 s)",
                ae["test_mse"],
                "<= 0.0119",
                ae["test_mse"] <= 0.0119,
            )
        )
    checks.append(
        (
            "default fits ending with a ConvergenceWarning",
            payload["warned_fits"],
            "0",
            payload["warned_fits"] == 0,
        )
    )
    return checks


def family_note(row):
    if "noise_removed" in row:
        return f"noise MSE / denoised MSE {row['noise_removed']:.2f}"
    if "mean_activation" in row:
        return (
            f"mean code activation {row['mean_activation']:.3f} (target {row['sparsity_target']})"
        )
    return ""


def render(payload):
    lines = ["# Time to quality: defaults against PCA and hand-made nets", ""]
    lines.append(
        f"Regenerate: `{payload['command']}`. "
        "Every skae model: `n_components` and `random_state=0` only.\n"
    )
    lines.append("## Goals\n")
    lines.append(
        common.markdown_table(
            ["goal", "value", "target", "status"],
            [[g, f"{v:.4g}", t, "PASS" if ok else "FAIL"] for g, v, t, ok in goals(payload)],
        )
    )
    for name, section in payload["datasets"].items():
        lines.append(
            f"\n## {name} ({section['n_train']} training rows, {section['n_test']} test rows)\n"
        )
        table = []
        for entry in section["results"]:
            for r in entry["rows"]:
                table.append(
                    [
                        entry["n_components"],
                        r["model"],
                        f"{r['test_mse']:.5f}",
                        f"{r['mse_over_pca']:.3f}",
                        "" if r["probe_accuracy"] is None else f"{r['probe_accuracy']:.3f}",
                        f"{r['fit_seconds']:.2f}",
                        "" if r.get("epochs") is None else r["epochs"],
                        "yes" if r.get("convergence_warning") else "",
                        family_note(r),
                    ]
                )
        lines.append(
            common.markdown_table(
                [
                    "k",
                    "model",
                    "test MSE",
                    "/ PCA",
                    "probe accuracy",
                    "fit s",
                    "epochs",
                    "ConvergenceWarning",
                    "family check",
                ],
                table,
            )
        )
    lines.append(
        "\nThe probe is a LogisticRegression on the standardized codes. "
        "The PyTorch loop runs when torch is installed."
    )
    lines.append("\n" + common.machine_line(payload["machine"]))
    return "\n".join(lines) + "\n"


def plot(payload, folder):
    plt = common.pyplot()
    if plt is None:
        return
    sections = payload["datasets"]
    figure, axes = plt.subplots(1, len(sections), figsize=(4.5 * len(sections), 3.6), squeeze=False)
    for axis, (name, section) in zip(axes[0], sections.items(), strict=True):
        entry = section["results"][-1]
        for r in entry["rows"]:
            if r.get("curve"):
                axis.plot(
                    r["curve"]["seconds"], r["curve"]["test_mse"], label=f"{r['model']} (per epoch)"
                )
        for r in entry["rows"]:
            axis.scatter([r["fit_seconds"]], [r["test_mse"]], label=r["model"], s=18)
        axis.set_yscale("log")
        axis.set_title(f"{name}, k={entry['n_components']}")
        axis.set_xlabel("fit seconds")
        axis.set_ylabel("test MSE")
    axes[0][-1].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(folder / "time_to_quality.png", dpi=110)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    common.add_common_arguments(parser, families=False)
    parser.add_argument("--datasets", nargs="+", default=list(SIZES), choices=list(SIZES))
    args = parser.parse_args(argv)
    folder = common.output_folder(args)
    payload = {
        "benchmark": "time_to_quality",
        "smoke": args.smoke,
        "command": common.command_line(
            "time_to_quality.py", sys.argv[1:] if argv is None else argv
        ),
        "machine": common.machine_info(),
        "datasets": {},
    }
    for name in args.datasets:
        if name == "digits":
            data = common.load_digits_split()
        elif name == "mnist10k":
            data = common.load_mnist10k(args.mnist)
        else:
            data = tabular(name)
        sizes = SIZES[name]
        if args.smoke:
            data, sizes = common.shrink(data, 200, 100), sizes[:1]
        payload["datasets"][name] = run_dataset(data, sizes, smoke=args.smoke)
        print(f"{name} done", flush=True)
    payload["warned_fits"] = sum(
        bool(r.get("convergence_warning"))
        for section in payload["datasets"].values()
        for entry in section["results"]
        for r in entry["rows"]
    )
    common.write_results(folder, "time_to_quality", payload, render, plot)
    return payload


if __name__ == "__main__":
    main()
