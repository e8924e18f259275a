"""The quick start, measured: how long ``artgan run`` with no arguments takes, and whether
the demo styles are recognisable in its samples.

Runs the command a new user types (``artgan run``, in a fresh process, into a temporary
folder), times it from start to exit, then samples 500 images from the checkpoint (the
EMA generator where the run has one, as ``artgan sample`` does) and scores them with the
style classifier of bench/style_classifier.py, trained on demo images at the run's
resolution: the share of samples assigned to each style, the mean confidence of those
assignments, the share assigned to none ("other": scrambled or recoloured demo
images), and how varied the samples of each style are against real ones (``diversity``:
1 is as varied as the demo art, near 0 is one picture per style). References: held-out
demo images (what a perfect generator gives) and an untrained generator.

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


def spread(images: torch.Tensor) -> float:
    """Mean pixel distance between two different images of ``images``."""
    flat = images.flatten(1).float()
    return float(torch.cdist(flat, flat).sum() / max(len(flat) * (len(flat) - 1), 1))


def diversity(clf, images: torch.Tensor, real: torch.Tensor, real_labels: torch.Tensor) -> float:
    """How varied the samples of each style are, against real images of that style: the
    mean, over the styles samples were assigned to, of spread(samples in the style) /
    spread(real images of the style). 1 is as varied as the demo itself; a generator that
    draws one picture per style scores near 0."""
    index, _ = clf.predict(images)
    ratios = [spread(images[index == c][:100]) / spread(real[real_labels == c])
              for c in range(len(real_labels.unique())) if int((index == c).sum()) >= 2]
    return sum(ratios) / len(ratios) if ratios else 0.0


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
        real, real_labels = demo_set(args.samples // 5, resolution, seed=7000)
        untrained = get_registry().build("generator", config.components.gen.name,
                                         config.components.gen.options,
                                         resolution=resolution, channels=3,
                                         **({"num_classes": G.num_classes}
                                            if G.conditional else {})).eval()
        with torch.no_grad():
            noise = sample_images(untrained, args.samples, seed=1)
    print(f"artgan run {args.extra}".strip() + f": {seconds / 60:.2f} min from start to exit "
          f"on {os.cpu_count()} CPU cores (load average at start {load[0]:.2f}); "
          f"{config.components.gen.name} {resolution} px, {config.schedule.epochs} epochs")
    print(f"style classifier: held-out accuracy {clf.accuracy:.3f}")
    other_real, _ = demo_set(args.samples // 5, resolution, seed=7001)
    for name, images in (("quick-start samples", fake), ("held-out demo images", other_real),
                         ("untrained generator", noise)):
        print(describe(name, style_shares(clf, images)) +
              f"; diversity {diversity(clf, images, real, real_labels):.2f}")


if __name__ == "__main__":
    main()
