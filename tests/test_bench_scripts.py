"""The benchmark scripts: an unusable --device is artgan's clear error, not a traceback;
bench/style_transfer.py --smoke runs end to end."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script", ["metrics_features.py", "trainer_overhead.py",
                                    "trainer_variants.py", "style_transfer.py"])
def test_an_unusable_device_is_a_one_line_error(script):
    # cuda:99 fails both without CUDA and on any machine with fewer than 100 GPUs
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--device", "cuda:99"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: --device cuda:99: ") and "CUDA" in done.stderr


def test_style_transfer_smoke_prints_both_directions_and_writes_the_picture(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    picture = tmp_path / "grid.png"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "style_transfer.py"), "--smoke",
                           "--picture", str(picture)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    for label in ("untranslated", "raw", "ema"):
        for direction in ("stripes -> waves", "waves -> stripes"):
            assert any(line.split()[:4] == [label, *direction.split()] and "edges" in line
                       for line in done.stdout.splitlines()), (label, direction, done.stdout)
    assert "trained 3 steps" in done.stdout and "CPU-s" in done.stdout
    assert 0 < picture.stat().st_size < 300_000
