"""Representations compared: raw pixels, PCA, BernoulliRBM and every skae autoencoder family.

On scikit-learn's digits (8x8, split 75/25 with random_state 0) at code sizes 2, 8 and 32, and
on mnist10k (28x28, its own 8,000/2,000 split) at code sizes 2, 8, 32 and 64, each method is
fitted on the training images (without labels) and reports

* the test reconstruction MSE (PCA and the autoencoders: ``inverse_transform(transform(X))``;
  the RBM: the mean-field reconstruction ``sigmoid(h @ components_ + intercept_visible_)``
  from the hidden probabilities ``h = transform(X)``);
* the test accuracy of ``Pipeline(method, StandardScaler(), LogisticRegression())`` fitted on
  the training images and labels (raw pixels: ``Pipeline(StandardScaler(), LR)``);
* the time to fit that pipeline.

The autoencoder families are discovered from ``skae.__all__``, each with its default
layers; only the code size, the epochs, the batch size, early stopping and the seed are set.

Run ``python benchmarks/representations.py`` (``--datasets digits`` or ``mnist10k`` for one)
or ``--smoke`` for a seconds-long check.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

SIZES = {"digits": (2, 8, 32), "mnist10k": (2, 8, 32, 64)}
# Epoch budgets (early stopping on 10% of the training images may stop sooner).
TRAINING = {
    "digits": dict(epochs=100, batch_size=64, early_stopping=True, random_state=common.SEED),
    "mnist10k": dict(epochs=10, batch_size=128, early_stopping=True, random_state=common.SEED),
}
# Per-family exceptions to TRAINING (none now): ConvolutionalAE had 3 epochs on mnist10k when
# 10 took it 4-6 minutes on 2 CPU cores; with the engine and its 'auto' filters 3 took 7-8 s.
TRAINING_OVERRIDES = {}
RBM = {
    "digits": dict(learning_rate=0.06, n_iter=20),
    "mnist10k": dict(learning_rate=0.06, n_iter=10),
}


def rbm_reconstruction(rbm, X):
    from scipy.special import expit

    return expit(rbm.transform(X) @ rbm.components_ + rbm.intercept_visible_)


def evaluate(name, family, reducer, n_components, data):
    """Fit Pipeline(reducer, StandardScaler, LR); return one record."""
    import numpy as np
    from sklearn.neural_network import BernoulliRBM
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    steps = ([] if reducer is None else [reducer]) + [
        StandardScaler(),
        common.logistic_regression(),
    ]
    pipeline = make_pipeline(*steps)
    X_train, y_train, X_test, y_test = (data[k] for k in ("X_train", "y_train", "X_test", "y_test"))
    record = dict(dataset=data["name"], method=name, family=family, n_components=n_components)
    try:
        with common.Timer() as timer:
            pipeline.fit(X_train, y_train)
        record["accuracy"] = float(pipeline.score(X_test, y_test))
        record["fit_seconds"] = timer.seconds
        if reducer is None:
            record["reconstruction_mse"] = 0.0
        else:
            fitted = pipeline[0]
            if isinstance(fitted, BernoulliRBM):
                reconstruction = rbm_reconstruction(fitted, X_test)
            else:
                reconstruction = fitted.inverse_transform(fitted.transform(X_test))
            record["reconstruction_mse"] = float(np.mean((reconstruction - X_test) ** 2))
        if hasattr(pipeline[0], "n_iter_") and family not in ("pixels", "PCA"):
            record["epochs_run"] = int(pipeline[0].n_iter_)
        record["error"] = None
    except Exception as exc:  # a family that cannot run here is reported, not hidden
        record.update(
            accuracy=None,
            fit_seconds=None,
            reconstruction_mse=None,
            error=f"{type(exc).__name__}: {exc}",
        )
    return record


def run(args):
    import warnings

    from sklearn.decomposition import PCA
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import BernoulliRBM

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    families = common.skae_families(args.families)
    loaders = {
        "digits": common.load_digits_split,
        "mnist10k": lambda: common.load_mnist10k(args.mnist),
    }
    sizes, rbm_settings = dict(SIZES), dict(RBM)
    training = {k: dict(v) for k, v in TRAINING.items()}
    overrides = TRAINING_OVERRIDES
    if args.smoke:  # the same code path, with one epoch
        overrides = {
            dataset: {family: {**o, "epochs": 1} for family, o in by_family.items()}
            for dataset, by_family in TRAINING_OVERRIDES.items()
        }
    if args.smoke:
        sizes = {"digits": (2,), "mnist10k": (2,)}
        for settings in training.values():
            settings.update(epochs=1, hidden_layer_sizes=(16,))
        rbm_settings = {k: dict(v, n_iter=1) for k, v in RBM.items()}

    out = common.output_folder(args)
    payloads = {}
    for dataset_name in args.datasets:
        data = loaders[dataset_name]()
        if args.smoke:
            data = common.shrink(data, 300, 100)
        print(
            f"{dataset_name}: {len(data['y_train'])} train / {len(data['y_test'])} test, "
            f"{data['X_train'].shape[1]} features",
            flush=True,
        )
        candidates = [("raw pixels", "pixels", None, data["X_train"].shape[1])]
        for k in sizes[dataset_name]:
            candidates.append((f"PCA({k})", "PCA", PCA(k, random_state=common.SEED), k))
            candidates.append(
                (
                    f"BernoulliRBM({k})",
                    "BernoulliRBM",
                    BernoulliRBM(k, random_state=common.SEED, **rbm_settings[dataset_name]),
                    k,
                )
            )
            for family_name, family in families.items():
                autoencoder = common.make_autoencoder(
                    family,
                    k,
                    image_shape=data["image_shape"],
                    **{
                        **training[dataset_name],
                        **overrides.get(dataset_name, {}).get(family_name, {}),
                    },
                )
                candidates.append((f"{family_name}({k})", family_name, autoencoder, k))
        records = []
        for name, family, reducer, k in candidates:
            record = evaluate(name, family, reducer, k, data)
            records.append(record)
            if record["error"]:
                print(f"  {name:<22} failed: {record['error']}", flush=True)
            else:
                print(
                    f"  {name:<22} MSE {record['reconstruction_mse']:.5f}  "
                    f"accuracy {record['accuracy']:.4f}  {record['fit_seconds']:6.1f} s"
                    + (f"  ({record['epochs_run']} epochs)" if "epochs_run" in record else ""),
                    flush=True,
                )

        argv = [a for a in args.argv if a not in args.datasets and a != "--datasets"]
        payload = {
            "benchmark": "representations",
            "smoke": args.smoke,
            "command": common.command_line(
                "representations.py", [*argv, "--datasets", dataset_name]
            ),
            "dataset": dataset_name,
            "n_train": len(data["y_train"]),
            "n_test": len(data["y_test"]),
            "code_sizes": list(sizes[dataset_name]),
            "autoencoder_training": training[dataset_name],
            "autoencoder_training_overrides": overrides.get(dataset_name, {}),
            "rbm": rbm_settings[dataset_name],
            "families": list(families),
            "classifier": "Pipeline(method, StandardScaler(), LogisticRegression(max_iter=2000))",
            "machine": common.machine_info(),
            "records": records,
        }
        stem = f"representations_{dataset_name}"
        path = out / f"{stem}.png"
        common.write_results(
            out, stem, payload, render_markdown, lambda p, _, path=path: plot(p, path)
        )
        print(render_markdown(payload))
        payloads[dataset_name] = payload
    print(f"Results in {out}")
    return payloads


def render_markdown(payload):
    dataset, sizes = payload["dataset"], payload["code_sizes"]
    records = payload["records"]
    families = list(dict.fromkeys(r["family"] for r in records if r["family"] != "pixels"))
    raw = next(r for r in records if r["family"] == "pixels")
    training = payload["autoencoder_training"]
    text = [
        f"# Representations on {dataset}: reconstruction and linear separability",
        "",
        f"{payload['n_train']:,} training / {payload['n_test']:,} test images. Each method is "
        "fitted on the training images; cells give the test accuracy of "
        "Pipeline(method, StandardScaler, LogisticRegression) / the test reconstruction MSE / "
        "the pipeline's fit time in seconds. LogisticRegression on the raw pixels: accuracy "
        f"{raw['accuracy']:.4f} (fit {raw['fit_seconds']:.1f} s).",
        "",
    ]
    rows = []
    for family in families:
        row = [family]
        for k in sizes:
            r = next((r for r in records if r["family"] == family and r["n_components"] == k), None)
            if r is None or r["error"]:
                row.append("failed")
            else:
                row.append(
                    f"{r['accuracy']:.3f} / {r['reconstruction_mse']:.4f} / {r['fit_seconds']:.0f}"
                )
        rows.append(row)
    text.append(common.markdown_table(["method", *[f"code size {k}" for k in sizes]], rows))
    text += [
        f"Autoencoders: each family's default layers, at most {training['epochs']} epochs of "
        f"batch {training['batch_size']}, early stopping on 10% of the training images "
        "(epochs run are in the JSON)"
        + "".join(
            f"; {family}: {', '.join(f'{k}={v}' for k, v in settings.items())}"
            for family, settings in payload.get("autoencoder_training_overrides", {}).items()
        )
        + ". BernoulliRBM: "
        f"learning_rate={payload['rbm']['learning_rate']}, n_iter={payload['rbm']['n_iter']}; "
        "its reconstruction is the mean-field one, sigmoid(h W + b) from the hidden "
        "probabilities h.",
        "",
    ]
    failures = [r for r in records if r["error"]]
    for r in failures:
        text.append(f"- {r['method']} failed: {r['error']}")
    if failures:
        text.append("")
    text += [
        common.machine_line(payload["machine"]),
        "",
        f"Regenerate: `{payload['command']}`",
        "",
    ]
    return "\n".join(text)


def plot(payload, path):
    plt = common.pyplot()
    if plt is None:
        return
    dataset = payload["dataset"]
    records = [r for r in payload["records"] if not r["error"]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    raw = next((r for r in records if r["family"] == "pixels"), None)
    families = list(dict.fromkeys(r["family"] for r in records if r["family"] != "pixels"))
    for family in families:
        points = sorted(
            ((r["n_components"], r) for r in records if r["family"] == family),
            key=lambda point: point[0],
        )
        sizes = [k for k, _ in points]
        axes[0].plot(sizes, [r["accuracy"] for _, r in points], marker="o", label=family)
        axes[1].plot(sizes, [r["reconstruction_mse"] for _, r in points], marker="o", label=family)
    if raw is not None:
        axes[0].axhline(raw["accuracy"], color="black", linestyle="--", label="raw pixels")
    for ax, label in zip(axes, ("LR test accuracy", "test reconstruction MSE"), strict=True):
        ax.set_xscale("log", base=2)
        ax.set_xticks(payload["code_sizes"], [str(k) for k in payload["code_sizes"]])
        ax.set_xlabel("code size")
        ax.set_ylabel(label)
        ax.set_title(f"{dataset}: {label}")
        ax.grid(alpha=0.3)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser)
    parser.add_argument(
        "--datasets", nargs="+", choices=sorted(SIZES), default=["digits", "mnist10k"]
    )
    args = parser.parse_args(argv)
    args.argv = argv
    return run(args)


if __name__ == "__main__":
    main()
