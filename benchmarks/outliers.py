"""One-class novelty detection: skae's OutlierDetector against scikit-learn's detectors.

Run: python benchmarks/outliers.py  (writes results/outliers.{json,md,png})

For each digit d, every detector is trained on the training images of digit d only and
scores every test image; the other nine digits are the anomalies. The tables give each
digit's ROC AUC and the mean ROC AUC and average precision over the ten tasks. Average
precision takes the anomalies as the positive class (about 90% of the test images, so 0.9
is chance). Datasets: mnist10k (8,000 training and 2,000 test images) and scikit-learn's
digits (split 75/25, random_state 0), pixels in [0, 1]. The contaminated variants mix
training images of the other digits into each training set, 5% of its rows.

Detectors, all on the same pixels and fitted in this run: skae's
``OutlierDetector(random_state=0)`` (its default ``StackedAE(early_stopping=True)``, chosen
with ``--select``), the reconstruction error of
``PCA(32)``, ``IsolationForest(random_state=0)``, ``LocalOutlierFactor(novelty=True)`` and
``OneClassSVM(gamma='scale', nu=0.1)``.

``--select`` instead compares settings of skae's detector without looking at the test
images: each digit's training images are split 80/20, the detector trains on the 80% and
is scored on the held-out 20% against the training images of the other digits.
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import numpy as np  # noqa: E402

SKAE = "skae OutlierDetector"
METHODS = [SKAE, "PCA(32)", "IsolationForest", "LOF", "OneClassSVM"]
CONTAMINATION = 0.05


class PCAReconstruction:
    """PCA's reconstruction error as an anomaly score (higher score = more normal)."""

    def __init__(self, n_components):
        self.n_components = n_components

    def fit(self, X):
        from sklearn.decomposition import PCA

        self.pca_ = PCA(min(self.n_components, *X.shape), random_state=common.SEED).fit(X)
        return self

    def score_samples(self, X):
        reconstruction = self.pca_.inverse_transform(self.pca_.transform(X))
        return -np.mean((reconstruction - X) ** 2, axis=1)


def make_detector(method, smoke, skae_params):
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.svm import OneClassSVM

    from skae import OutlierDetector, StackedAE

    if method == SKAE:
        estimator = None
        if smoke or skae_params:
            estimator = StackedAE(**({"epochs": 2} if smoke else {}), **skae_params)
        return OutlierDetector(estimator, random_state=common.SEED)
    if method == "PCA(32)":
        return PCAReconstruction(32)
    if method == "IsolationForest":
        return IsolationForest(random_state=common.SEED)
    if method == "LOF":
        return LocalOutlierFactor(novelty=True)
    return OneClassSVM(gamma="scale", nu=0.1)


def contaminate(X_train, y_train, digit, share, seed):
    """Digit ``digit``'s rows plus other digits' rows making up ``share`` of the result."""
    rng = np.random.default_rng([seed, digit])
    normal = np.flatnonzero(y_train == digit)
    others = np.flatnonzero(y_train != digit)
    n_others = int(round(share * len(normal) / (1 - share)))
    return np.sort(np.concatenate([normal, rng.choice(others, n_others, replace=False)]))


def run_task(dataset, digits, methods, *, smoke, contaminated, skae_params):
    from sklearn.metrics import average_precision_score, roc_auc_score

    records = []
    X_train, y_train = dataset["X_train"], dataset["y_train"]
    X_test, y_test = dataset["X_test"], dataset["y_test"]
    for digit in digits:
        if contaminated:
            rows = contaminate(X_train, y_train, digit, CONTAMINATION, common.SEED)
        else:
            rows = np.flatnonzero(y_train == digit)
        is_anomaly = y_test != digit
        for method in methods:
            detector = make_detector(method, smoke, skae_params)
            with common.Timer() as timer, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence warnings of short smoke fits
                detector.fit(X_train[rows])
            anomaly_score = -detector.score_samples(X_test)
            record = {
                "digit": int(digit),
                "method": method,
                "n_train": len(rows),
                "n_train_other_digits": int(np.sum(y_train[rows] != digit)),
                "fit_seconds": timer.seconds,
                "roc_auc": float(roc_auc_score(is_anomaly, anomaly_score)),
                "average_precision": float(average_precision_score(is_anomaly, anomaly_score)),
            }
            if method == SKAE:
                record["epochs_used"] = detector.estimator_.n_iter_
            records.append(record)
            print(
                f"{dataset['name']}{' contaminated' if contaminated else ''} digit {digit} "
                f"{method}: ROC AUC {record['roc_auc']:.4f}, AP {record['average_precision']:.4f}"
                f", {timer.seconds:.1f} s",
                flush=True,
            )
    return records


def summarize(records, methods):
    mean = {}
    for method in methods:
        mine = [r for r in records if r["method"] == method]
        mean[method] = {
            "roc_auc": float(np.mean([r["roc_auc"] for r in mine])),
            "average_precision": float(np.mean([r["average_precision"] for r in mine])),
            "fit_seconds": float(np.sum([r["fit_seconds"] for r in mine])),
        }
    return mean


def targets(records, mean):
    """The issue's targets: above every baseline on the mean, above PCA on >= 8 digits."""
    auc = {(r["method"], r["digit"]): r["roc_auc"] for r in records}
    digits = sorted({r["digit"] for r in records})
    above_pca = [d for d in digits if auc[(SKAE, d)] > auc[("PCA(32)", d)]]
    return {
        "mean_above_every_baseline": all(
            mean[SKAE]["roc_auc"] > mean[m]["roc_auc"] for m in mean if m != SKAE
        ),
        "digits_above_pca": len(above_pca),
        "n_digits": len(digits),
    }


def select(dataset, digits, candidates, smoke):
    """Mean held-out ROC AUC of each candidate setting, on training images only."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    X, y = dataset["X_train"], dataset["y_train"]
    results = []
    # The baselines on the same held-out rows say which skae settings would meet the targets.
    runs = [(SKAE, params) for params in candidates] + [(m, None) for m in METHODS[1:]]
    for method, params in runs:
        aucs = []
        for digit in digits:
            normal = np.flatnonzero(y == digit)
            fit_rows, held_out = train_test_split(normal, test_size=0.2, random_state=common.SEED)
            scored = np.concatenate([held_out, np.flatnonzero(y != digit)])
            detector = make_detector(method, smoke, params or {})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                detector.fit(X[fit_rows])
            aucs.append(roc_auc_score(y[scored] != digit, -detector.score_samples(X[scored])))
        name = f"{SKAE} {json.dumps(params)}" if method == SKAE else method
        results.append({"method": name, "params": params, "roc_auc_per_digit": aucs})
        results[-1]["mean"] = float(np.mean(aucs))
        print(f"select {name}: mean held-out ROC AUC {np.mean(aucs):.4f}", flush=True)
    return results


def render(payload):
    lines = ["# One-class novelty detection: skae's OutlierDetector and scikit-learn's", ""]
    lines.append(
        "Each digit in turn is the normal class: detectors train on its training images only "
        "and score every test image, the other nine digits being the anomalies. ROC AUC per "
        "digit and the mean over the ten tasks; mean average precision (AP) with the anomalies "
        "as the positive class, about 90% of the test images (chance 0.9). Fit seconds: all "
        "ten fits, wall-clock. skae: `OutlierDetector(random_state=0)`, whose default autoencoder "
        "is `StackedAE(early_stopping=True)` "
        f"({payload['skae_setting']}). Baselines: the reconstruction error of `PCA(32)`, "
        "`IsolationForest(random_state=0)`, `LocalOutlierFactor(novelty=True)` (LOF), "
        "`OneClassSVM(gamma='scale', nu=0.1)`. Contaminated: 5% of each training set are "
        "training images of the other digits.\n"
    )
    methods = payload["methods"]
    for task, section in payload["tasks"].items():
        lines.append(
            f"## {task} ({section['n_test']} test images; {section['n_train_range']} training "
            "images per digit)\n"
        )
        auc = {(r["method"], r["digit"]): r["roc_auc"] for r in section["records"]}
        digits = sorted({r["digit"] for r in section["records"]})
        header = ["digit", *methods]
        rows = [[d, *[f"{auc[(m, d)]:.4f}" for m in methods]] for d in digits]
        mean = section["mean"]
        rows.append(["**mean ROC AUC**", *[f"**{mean[m]['roc_auc']:.4f}**" for m in methods]])
        rows.append(["mean AP", *[f"{mean[m]['average_precision']:.4f}" for m in methods]])
        rows.append(["fit seconds", *[f"{mean[m]['fit_seconds']:.1f}" for m in methods]])
        lines.append(common.markdown_table(header, rows))
        target = section["targets"]
        lines.append(
            f"skae's mean ROC AUC above every baseline's: "
            f"{'yes' if target['mean_above_every_baseline'] else 'no'}; above PCA(32) on "
            f"{target['digits_above_pca']} of {target['n_digits']} digits.\n"
        )
    return "\n".join([*lines, *footer(payload)])


def footer(payload):
    """The machine, the wall time and the command that regenerates the results."""
    return [
        common.machine_line(payload["machine"]),
        "",
        f"Total wall time: {payload['wall_seconds']:.0f} s.",
        "",
        f"Regenerate: `{payload['command']}`",
        "",
    ]


def plot(payload, folder):
    plt = common.pyplot()
    if plt is None:
        return
    methods = payload["methods"]
    tasks = list(payload["tasks"])
    first = payload["tasks"][tasks[0]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4), gridspec_kw={"width_ratios": [2, 1]})
    digits = sorted({r["digit"] for r in first["records"]})
    auc = {(r["method"], r["digit"]): r["roc_auc"] for r in first["records"]}
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        left.bar(
            np.arange(len(digits)) + (i - (len(methods) - 1) / 2) * width,
            [auc[(method, d)] for d in digits],
            width,
            label=method,
        )
    left.set(
        xticks=np.arange(len(digits)),
        xticklabels=digits,
        xlabel="normal digit",
        ylabel="ROC AUC",
        title=f"{tasks[0]}: one-class ROC AUC per digit",
    )
    low = min(auc.values())
    left.set_ylim(max(0.0, low - 0.05), 1.0)
    left.legend(fontsize=7, loc="lower left")
    for i, method in enumerate(methods):
        right.bar(
            np.arange(len(tasks)) + (i - (len(methods) - 1) / 2) * width,
            [payload["tasks"][t]["mean"][method]["roc_auc"] for t in tasks],
            width,
            label=method,
        )
    right.set(
        xticks=np.arange(len(tasks)),
        xticklabels=[t.replace(" ", "\n") for t in tasks],
        ylabel="mean ROC AUC",
        title="mean over the ten digits",
    )
    means = [payload["tasks"][t]["mean"][m]["roc_auc"] for t in tasks for m in methods]
    right.set_ylim(max(0.0, min(means) - 0.05), 1.0)
    fig.tight_layout()
    fig.savefig(Path(folder) / "outliers.png", dpi=100)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser, families=False)
    parser.add_argument(
        "--datasets", nargs="+", default=["mnist10k", "digits"], choices=["mnist10k", "digits"]
    )
    parser.add_argument(
        "--skae-params",
        type=json.loads,
        default={},
        help="StackedAE settings (JSON) for skae's detector, e.g. '{\"early_stopping\": true}'",
    )
    parser.add_argument(
        "--select",
        type=json.loads,
        nargs="+",
        default=None,
        metavar="JSON",
        help="compare these StackedAE settings on held-out training images (mnist10k) only",
    )
    args = parser.parse_args(argv)
    folder = common.output_folder(args)
    start = time.perf_counter()
    digits = [0, 1] if args.smoke else list(range(10))
    payload = {
        "benchmark": "outliers",
        "smoke": args.smoke,
        "methods": METHODS,
        "skae_setting": (
            "the detector's default"
            if not args.skae_params
            else f"here StackedAE with {json.dumps(args.skae_params)}"
        ),
        "skae_params": args.skae_params,
        "tasks": {},
    }
    datasets = {}
    for name in args.datasets:
        dataset = (
            common.load_digits_split() if name == "digits" else common.load_mnist10k(args.mnist)
        )
        datasets[name] = common.shrink(dataset, 400, 200) if args.smoke else dataset
    if args.select is not None:
        payload["selection"] = select(datasets["mnist10k"], digits, args.select, args.smoke)
    else:
        for name, dataset in datasets.items():
            for contaminated in (False, True):
                task = f"{name} contaminated" if contaminated else name
                records = run_task(
                    dataset,
                    digits,
                    METHODS,
                    smoke=args.smoke,
                    contaminated=contaminated,
                    skae_params=args.skae_params,
                )
                mean = summarize(records, METHODS)
                sizes = [r["n_train"] for r in records if r["method"] == SKAE]
                payload["tasks"][task] = {
                    "n_test": len(dataset["X_test"]),
                    "n_train_range": f"{min(sizes)}-{max(sizes)}",
                    "records": records,
                    "mean": mean,
                    "targets": targets(records, mean),
                }
    payload["wall_seconds"] = time.perf_counter() - start
    payload["machine"] = common.machine_info()
    payload["command"] = common.command_line("outliers.py", argv)
    stem = "outliers_select" if args.select is not None else "outliers"
    common.write_json(folder, stem, payload)
    text = render(payload) if args.select is None else render_selection(payload)
    common.write_text(folder, f"{stem}.md", text)
    if args.select is None:
        plot(payload, folder)
    print(text)
    return payload


def render_selection(payload):
    rows = [
        [s["method"], *[f"{a:.4f}" for a in s["roc_auc_per_digit"]], f"**{s['mean']:.4f}**"]
        for s in payload["selection"]
    ]
    digits = range(len(payload["selection"][0]["roc_auc_per_digit"]))
    return "\n".join(
        [
            "# OutlierDetector settings on held-out mnist10k training images",
            "",
            "Each digit's training images split 80/20 (random_state 0); the detector trains "
            "on the 80% and scores the held-out 20% against the training images of the other "
            "digits. ROC AUC per digit and the mean; the test images are not used. skae rows: "
            "OutlierDetector(StackedAE(settings), random_state=0).",
            "",
            common.markdown_table(["detector", *[str(d) for d in digits], "mean"], rows),
            *footer(payload),
        ]
    )


if __name__ == "__main__":
    main()
