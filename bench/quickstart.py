"""The quick start, measured: how long ``artgan run`` with no arguments takes, and whether
the demo styles are recognisable in its samples.

Runs the command a new user types (``artgan run``, in a fresh process, into a temporary
folder), times it from start to exit, then samples 500 images from the checkpoint (the
EMA generator where the run has one, as ``artgan sample`` does) and scores them with the
style classifier of bench/style_classifier.py, trained on demo images at the run's
resolution: the share of samples assigned to each style, the mean confidence of those
assignments, and the share assigned to none ("other": scrambled or recoloured demo
images). References: held-out demo images (what a perfect generator gives) and an
untrained generator.

    python bench/quickstart.py                 # the default quick start
    python bench/quickstart.py --extra="--gen fastgan --resolution 64"   # a variant
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from artgan.core.sampling import load_generator, sample_images  # noqa: E402
from artgan.plugin_host import get_registry  # noqa: E402
from bench.style_classifier import OTHER, demo_set, style_shares, train_style_classifier  # noqa: E402,E501


def run_quickstart(out: Path, extra: list[str]) -> float:
    """``artgan run`` into ``out``; returns the wall-clock seconds of the whole command."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "artgan", "run", "--out", str(out), *extra],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "COLUMNS": "200"})
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"artgan run failed:\n{done.stdout[-3000:]}")
    return seconds


def describe(name: str, shares: dict) -> str:
    styles = [s for s in shares if s != OTHER]
    assigned = sum(shares[s]["share"] for s in styles)
    confidence = sum(shares[s]["share"] * shares[s]["confidence"] for s in styles) / \
        max(assigned, 1e-9)
    parts = ", ".join(f"{s} {shares[s]['share']:.2f}" for s in styles)
    return (f"{name:<22} in a style {assigned:.2f} (confidence {confidence:.2f}); "
            f"{parts}; other {shares[OTHER]['share']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", default="", help="Flags added to `artgan run`.")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the run here.")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp) / "run"
        seconds = run_quickstart(out, shlex.split(args.extra))
        G, config, _ = load_generator(out, get_registry(), device="cpu")
        resolution = config.image.resolution
        clf = train_style_classifier(resolution=resolution, seed=0)
        fake = sample_images(G, args.samples, seed=1)
        real, _ = demo_set(args.samples // 5, resolution, seed=7000)
        untrained = get_registry().build("generator", config.components.gen.name,
                                         config.components.gen.options,
                                         resolution=resolution, channels=3).eval()
        with torch.no_grad():
            noise = sample_images(untrained, args.samples, seed=1)
    print(f"artgan run {args.extra}".strip() + f": {seconds / 60:.2f} min from start to exit "
          f"on {os.cpu_count()} CPU cores (load average at start {load[0]:.2f}); "
          f"{config.components.gen.name} {resolution} px, {config.schedule.epochs} epochs")
    print(f"style classifier: held-out accuracy {clf.accuracy:.3f}")
    for name, images in (("quick-start samples", fake), ("held-out demo images", real),
                         ("untrained generator", noise)):
        print(describe(name, style_shares(clf, images)))


if __name__ == "__main__":
    main()
