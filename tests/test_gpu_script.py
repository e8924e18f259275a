"""bench/gpu.sh cannot run without a GPU; here its shell is checked and its Python step
(bench/trainer_overhead.py, with the FastGAN plain loop) runs at the --dry sizes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(ROOT / "bench" / "gpu.sh")], check=True)


def test_trainer_overhead_measures_fastgan_in_bf16_with_compile_on_the_cpu():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "trainer_overhead.py"), "--gen", "fastgan",
         "--width", "8", "--batch-size", "2", "--steps", "1", "--rounds", "1", "--threads",
         "1", "--precision", "bf16", "--compile", "--compile-backend", "eager", "--json",
         "--device", "cpu"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["gen"] == "fastgan" and result["loss"] == "hinge" and result["compile"]
    assert result["plain_images_per_s"] > 0 and result["artgan_images_per_s"] > 0
