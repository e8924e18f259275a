"""The benchmark scripts: an unusable --device is artgan's clear error, not a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script", ["metrics_features.py", "trainer_overhead.py",
                                    "trainer_variants.py"])
def test_an_unusable_device_is_a_one_line_error(script):
    # cuda:99 fails both without CUDA and on any machine with fewer than 100 GPUs
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--device", "cuda:99"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: --device cuda:99: ") and "CUDA" in done.stderr
