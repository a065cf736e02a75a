"""The benchmark scripts' --smoke modes, run in-process so that the scripts cannot rot.

Smoke runs use a few hundred images and one or two epochs: their numbers mean nothing, the
test only checks that each script runs end to end and writes its JSON, markdown and plot.
"""

import importlib.util
import inspect
import json
import shlex
import warnings
from pathlib import Path

from .conftest import MNIST10K, needs_mnist

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_script(name):
    path = BENCHMARKS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"skae_benchmark_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_smoke(name, tmp_path, *extra, stem=None):
    """Run a script's smoke mode into ``tmp_path``; return its saved JSON."""
    stem = stem or name
    argv = ["--smoke", "--out", str(tmp_path), *extra]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_script(name).main(argv)
    saved = json.loads((tmp_path / f"{stem}.json").read_text())
    assert saved["benchmark"] == name and saved["smoke"] is True
    # The regenerate line pastes into a shell as the same arguments (JSON ones included).
    assert shlex.split(saved["command"]) == ["python", f"benchmarks/{name}.py", *argv]
    assert saved["machine"]["cpu_count"] >= 1
    markdown = (tmp_path / f"{stem}.md").read_text()
    assert "Regenerate: `python benchmarks/" in markdown
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pass  # plots are optional (pip install ".[plot]")
    else:
        assert (tmp_path / f"{stem}.png").stat().st_size > 0
    return saved


def test_representations_smoke(tmp_path):
    import skae

    saved = run_smoke(
        "representations", tmp_path, "--datasets", "digits", stem="representations_digits"
    )
    methods = {r["family"] for r in saved["records"]}
    families = {
        name
        for name in skae.__all__
        if inspect.isclass(cls := getattr(skae, name))
        and issubclass(cls, skae.BaseAutoencoder)
        and not inspect.isabstract(cls)
    }
    # Every skae family exported by the package is benchmarked, next to the peers.
    assert {"pixels", "PCA", "BernoulliRBM"} | families <= methods
    assert all(r["error"] is None for r in saved["records"]), saved["records"]


@needs_mnist
def test_label_budget_smoke(tmp_path):
    saved = run_smoke("label_budget", tmp_path, "--mnist", str(MNIST10K))
    assert {"LR raw pixels", "PCA + LR (best k)", "EncoderClassifier"} <= set(saved["summary"])


def test_rbm_peer_smoke(tmp_path):
    saved = run_smoke("rbm_peer", tmp_path, "--families", "StackedAE")
    kinds = {r["kind"] for r in saved["records"]}
    assert kinds == {"peer", "skae pipeline", "skae classifier"}
    assert all(r["error"] is None for r in saved["records"]), saved["records"]


@needs_mnist
def test_vae_cae_mnist_smoke(tmp_path):
    saved = run_smoke("vae_cae_mnist", tmp_path, "--mnist", str(MNIST10K))
    results = saved["results"]
    assert {"vae_elbo", "vae_2d", "cae_vs_dense"} <= set(results)
    models = {r["model"] for r in results["cae_vs_dense"]["records"]}
    assert models == {"ConvolutionalAE", "StackedAE"}


@needs_mnist
def test_vae_nll_smoke(tmp_path):
    saved = run_smoke("vae_nll", tmp_path, "--mnist", str(MNIST10K))
    (default, latent_40) = saved["records"]
    assert default["model"] == "defaults" and latent_40["n_components"] == 40
    # The bound tightens with the draws: the K=1 estimate is the worst.
    assert all(r["test_nll_k200"] < r["test_nll_k1"] for r in saved["records"])


def test_time_to_quality_smoke(tmp_path):
    saved = run_smoke("time_to_quality", tmp_path, "--datasets", "digits")
    (entry,) = saved["datasets"]["digits"]["results"]
    models = [row["model"] for row in entry["rows"]]
    assert models[0] == "PCA" and "StackedAE" in models and "MLPRegressor" in models
    assert entry["rows"][0]["mse_over_pca"] == 1.0
    assert "| digits k=8: StackedAE test MSE" in (tmp_path / "time_to_quality.md").read_text()


def test_defaults_smoke(tmp_path):
    saved = run_smoke("defaults", tmp_path, "--datasets", "digits")
    (result, *_) = saved["datasets"]["digits"]["results"]
    assert result["epochs_used"] == len(result["curve_test_mse"]) > 0
    assert result["curve_seconds"] == sorted(result["curve_seconds"])


def test_engine_smoke(tmp_path):
    saved = run_smoke("engine", tmp_path)
    assert [(r["data"], r["batch_size"]) for r in saved["training"]] == [
        ("digits", 64),
        ("mnist10k", 64),
        ("mnist10k", 256),
        ("mnist10k", 1024),
    ]
    for row in saved["training"]:
        for contestant in ("handwritten", "skae", "skae_xla"):
            figures = row[contestant]
            assert 0 < figures["best_s"] <= figures["median_s"]
            assert figures["first_epoch_s"] > 0 and figures["best_fraction_of_ceiling"] > 0
    assert saved["end_to_end"]["main_job_fit_s"] > 0
    assert saved["memory"]["budget_mb"] > saved["memory"]["array_mb"] > 0
    assert all(t["status"] in ("PASS", "FAIL") for t in saved["targets"])


def test_regenerate_line_quotes_json_arguments():
    # Outlier selection rounds are regenerated with JSON settings: braces, quotes, spaces.
    argv = ["--out", "results dir", "--select", "{}", '{"early_stopping": true}']
    line = load_script("_common").command_line("outliers.py", argv)
    assert shlex.split(line) == ["python", "benchmarks/outliers.py", *argv]
