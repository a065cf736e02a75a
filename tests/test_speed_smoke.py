"""benchmarks/speed.py's --smoke mode runs end to end and writes every section.

Nothing here is timed and no timing is asserted: speed is the benchmark's business. The
smoke run uses a few hundred synthetic images, one or two epochs and a 500-row memory probe.
"""

import importlib.util
import json
import warnings
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SECTIONS = ("ceiling", "training", "latency", "scaling", "memory", "targets", "machine")


def load_speed_script():
    spec = importlib.util.spec_from_file_location("skae_benchmark_speed", BENCHMARKS / "speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_speed_smoke(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_speed_script().main(["--smoke", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "speed.json").read_text())
    assert saved["benchmark"] == "speed" and saved["smoke"] is True
    assert all(section in saved for section in SECTIONS)
    assert saved["machine"]["cpu_count"] >= 1

    (row,) = saved["training"]["rows"]
    expected = {"skae", "keras", "keras_xla"} | ({"pytorch"} if saved["pytorch"] else set())
    assert set(row["contestants"]) == expected
    assert {"skae / keras", "keras_xla / keras"} <= set(row["ratios"])
    assert [r["rows"] for r in saved["latency"]["rows"]] == [1, 100, 10_000]
    assert len(saved["scaling"]["rows"]) >= 2
    assert saved["memory"]["budget_mb"] > saved["memory"]["array_mb"] > 0
    # Every target is reported with a verdict; which verdict depends on the machine.
    assert saved["targets"] and all(t["status"] in ("PASS", "FAIL") for t in saved["targets"])

    markdown = (tmp_path / "speed.md").read_text()
    assert "Regenerate: `python benchmarks/speed.py" in markdown
