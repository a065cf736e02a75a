"""skae on Keras's other backends: tests/backend_checks.py in a fresh interpreter.

Keras picks its backend once, at import, so each backend runs the subset of the suite in
``tests/backend_checks.py`` (every estimator's fit, transform, inverse_transform, score,
partial_fit, pickling and skae.save/load; ``sample`` and ``predict``) in a subprocess with
``KERAS_BACKEND`` set, and plus ``tests/test_layers.py`` for the custom layers. JAX is in
the ``test`` extra; PyTorch is not (its wheels are large), so its case runs only where
``torch`` is installed.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "backend",
    [
        "jax",
        pytest.param(
            "torch",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("torch") is None,
                reason="PyTorch is not installed (it is not in the test extra: its wheels "
                "are large); `pip install torch` to run the subset under KERAS_BACKEND=torch",
            ),
        ),
    ],
)
def test_subset_passes_under_backend(backend):
    # Our pytest's own settings (xdist worker ids, added options) must not leak into the child.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2", JAX_PLATFORMS="cpu")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/backend_checks.py",
        "tests/test_layers.py",
    ]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200
    )
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, f"KERAS_BACKEND={backend}: the subset failed\n{report}"
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and "skipped" not in summary, report
