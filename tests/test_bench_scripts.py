"""The benchmark scripts: an unusable --device is artgan's clear error, not a traceback;
bench/style_transfer.py --smoke and bench/restore.py with small flags run end to end."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script", ["metrics_features.py", "trainer_overhead.py",
                                    "trainer_variants.py", "style_transfer.py",
                                    "restore.py"])
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


def test_restore_benchmark_runs_end_to_end_with_small_flags(tmp_path):
    # a smoke test of bench/restore.py: every method, the scores, the picture and JSON
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    picture, results = tmp_path / "restore.png", tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "restore.py"), "--steps", "3", "--gan-steps",
         "3", "--train-images", "10", "--test-images", "2", "--resolution", "16",
         "--batch-size", "4", "--width", "4", "--gan-width", "8", "--project-steps", "2",
         "--restarts", "1", "--picture", str(picture), "--json", str(results)],
        capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("damaged", "biharmonic", "projection", "restorer"):
        assert f"\n{name} " in f"\n{done.stdout}" and "masked PSNR" in done.stdout
    assert "restorer better than biharmonic on:" in done.stdout.splitlines()[-1]
    import json

    scores = json.loads(results.read_text())
    assert set(scores) == {"damaged", "biharmonic", "projection", "restorer"}
    assert scores["restorer"]["steps"] == 3 and scores["restorer"]["cpu_s"] > 0
    from PIL import Image

    with Image.open(picture) as img:  # 2 rows of damaged | biharmonic | restorer | original
        assert img.size == (4 * 64 + 3 * 2, 2 * 64 + 2)
