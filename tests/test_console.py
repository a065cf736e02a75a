"""The console of ``python -m skae``, as a newcomer sees it: no TensorFlow C++ log lines."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from skae.__main__ import _hidden, _tensorflow_log_level_applied

ROOT = Path(__file__).resolve().parents[1]
TENSORFLOW_LOG_MARKERS = ("cuda", "cpu_feature_guard", "I0000", "W0000", "E0000", "oneDNN", "absl")


def newcomer_env(**extra):
    """The environment of a shell with no TensorFlow settings, importing this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return {**env, **extra}


def test_main_job_prints_its_table_and_no_tensorflow_log_lines(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "skae", "--epochs", "1"],
        env=newcomer_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    log_lines = [
        line
        for line in result.stderr.splitlines()
        if any(marker in line for marker in TENSORFLOW_LOG_MARKERS)
    ]
    assert log_lines == []
    assert "StackedAE" in result.stdout and "PCA" in result.stdout


def test_importing_skae_does_not_import_tensorflow_or_keras():
    code = "import sys, skae; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=newcomer_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.split() == ["False", "False"]


def test_exports_resolve_on_first_use():
    import skae

    assert set(skae.__all__) - {"__version__"} == set(skae._EXPORTS)
    assert {name: getattr(skae, name).__name__ for name in skae._EXPORTS} == {
        name: name for name in skae._EXPORTS
    }
    assert set(skae.__all__) <= set(dir(skae))
    with pytest.raises(AttributeError, match="no attribute 'NotAnEstimator'"):
        skae.NotAnEstimator  # noqa: B018


ABSL_INFO = b"I0000 00:00:1796162493.754928   11384 port.cc:153] oneDNN custom operations are on.\n"
ABSL_ERROR = b"E0000 00:00:1796163210.381160   15163 cuda_platform.cc:52] failed call to cuInit\n"
OLD_WARNING = b"2025-09-17 14:44:05.228000: W tensorflow/core/framework/x.cc:12] Something.\n"
BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"


@pytest.mark.parametrize(
    "line, hidden_from_level",
    [(ABSL_INFO, 1), (BANNER, 1), (OLD_WARNING, 2), (ABSL_ERROR, 3), (b"UserWarning: x\n", None)],
)
def test_log_lines_are_hidden_by_their_severity(line, hidden_from_level):
    for level in range(4):
        hidden = hidden_from_level is not None and level >= hidden_from_level
        assert _hidden(line, level) is hidden


def test_filter_passes_everything_else_through(capfd, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    with _tensorflow_log_level_applied():
        os.write(2, BANNER + ABSL_INFO + OLD_WARNING + b"a line of our own\n" + ABSL_ERROR)
        print("a Python warning", file=sys.stderr)
    # (pytest captures sys.stderr on its own, so the print is not ordered with the fd writes.)
    lines = capfd.readouterr().err.splitlines()
    assert sorted(lines) == sorted(
        ["a line of our own", ABSL_ERROR.decode().strip(), "a Python warning"]
    )
