"""Benchmark: does the small-data recipe beat plain DCGAN on a 200-image folder?

Builds a folder of 200 demo-art PNGs (all five styles, 32 px by default) in a temporary
directory, trains the same budget (same steps, batch, widths, seed, CPU) twice through
the CLI, ``--recipe none`` and ``--recipe small-data``, side by side (one thread each,
so both see the same machine load), and scores 500 images from each
checkpoint (the EMA generator where the run has one, as ``artgan sample`` does):

- diversity: mean MS-SSIM of 1000 random pairs of generated images (lower is more
  diverse; the real folder's own value is printed for comparison);
- quality: Frechet distance between Gaussian fits of a simple per-image feature, a
  colour histogram (8 bins per RGB channel) plus a histogram of gradient magnitudes
  (8 bins, texture), against 1000 held-out demo images of the same styles (different
  seed); lower is better. The 200 training images' own distance is the floor.

    python bench/small_data.py                  # 32 px, batch 32, ngf = ndf = 32, 3000 steps
    python bench/small_data.py --steps 2000 --seed 1
    python bench/small_data.py --extra="--mirror"  # tune: extra flags for the recipe run

3000 steps is the budget the small-data recipe gives a folder when ``--epochs`` is not
set (about 4-5 minutes for both runs on 2 idle CPU cores). The last line says whether
the recipe won on both numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from artgan.core.sampling import load_generator, sample_images
from artgan.metrics.msssim import ms_ssim, random_pairs
from artgan.metrics.stats import frechet_distance, gaussian_stats
from artgan.plugin_host import get_registry
from artgan.plugins.demo import STYLES, render_style

RES = 32


def demo_images(count: int, seed: int) -> torch.Tensor:
    """``count`` demo images, styles round robin, float in [0, 1] (N, 3, RES, RES)."""
    per = -(-count // len(STYLES))
    images = torch.cat([render_style(s, per, RES, seed) for s in STYLES])
    order = torch.arange(per * len(STYLES)).view(len(STYLES), per).t().flatten()
    return images[order][:count].float() / 255


def write_folder(images: torch.Tensor, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate((images * 255).round().byte().permute(0, 2, 3, 1).numpy()):
        Image.fromarray(img).save(folder / f"{i:04d}.png")


def features(images: torch.Tensor) -> np.ndarray:
    """Colour histogram (8 bins x 3 channels) + gradient-magnitude histogram (8 bins)."""
    x = images.clamp(0, 1)
    bins = torch.linspace(0, 1, 9)[1:-1]
    flat = [x[:, c].reshape(len(x), -1).contiguous() for c in range(3)]
    colour = [torch.nn.functional.one_hot(torch.bucketize(f, bins), 8).float().mean(1)
              for f in flat]
    gray = x.mean(1)
    grad = (gray[:, 1:, :-1] - gray[:, :-1, :-1]).abs() + (gray[:, :-1, 1:] - gray[:, :-1, :-1]).abs()
    gbins = torch.tensor([0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8])
    texture = torch.nn.functional.one_hot(torch.bucketize(grad.flatten(1), gbins), 8).float().mean(1)
    return torch.cat([*colour, texture], 1).double().numpy()


def histogram_fd(images: torch.Tensor, reference: np.ndarray) -> float:
    return frechet_distance(*gaussian_stats(features(images)), *gaussian_stats(reference))


def mean_ms_ssim(images: torch.Tensor, pairs: int = 1000) -> float:
    idx = random_pairs(len(images), pairs, seed=0)
    x = images.double().numpy()
    return float(ms_ssim(x[idx[:, 0]], x[idx[:, 1]]).mean())


def start_training(folder: Path, out: Path, recipe: str, args, extra: list[str]
                   ) -> subprocess.Popen:
    steps, seed, w = args.steps, args.seed, args.width
    cmd = [sys.executable, "-m", "artgan", "run", "--data", f"folder:{folder}",
           "--recipe", recipe, "--resolution", str(RES), "--batch-size", str(args.batch_size),
           "-o", f"gen.ngf={w}", "-o", f"disc.ndf={w}", "--epochs", "10000",
           "--max-steps", str(steps), "--device", "cpu", "--seed", str(seed),
           "--log-every", "50", "--out", str(out), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)


def score(run: Path, reference: np.ndarray) -> dict:
    G, config, _ = load_generator(run, get_registry(), device="cpu")
    fake = (sample_images(G, 500, seed=1) + 1) / 2
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    watch = [r["watch/diversity"] for r in stats if "watch/diversity" in r]
    return {"ms_ssim": mean_ms_ssim(fake), "hist_fd": histogram_fd(fake, reference),
            "collapse_watch_last": watch[-1] if watch else None, "notes": list(config.notes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the runs in this folder.")
    parser.add_argument("--extra", default="", help="Extra flags for the recipe run (tuning).")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--width", type=int, default=32, help="gen.ngf and disc.ndf.")
    args = parser.parse_args()
    global RES
    RES = args.resolution
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        real = demo_images(args.images, seed=7)
        write_folder(real, root / "paintings")
        reference = features(demo_images(1000, seed=123))
        print(f"real folder ({args.images} images): ms_ssim={mean_ms_ssim(real):.4f} "
              f"hist_fd={histogram_fd(real, reference):.4f}")
        results, start = {}, time.perf_counter()
        procs = {recipe: start_training(root / "paintings", root / f"run-{recipe}", recipe,
                                        args, args.extra.split() if recipe != "none" else [])
                 for recipe in ("none", "small-data")}
        for recipe, proc in procs.items():
            if proc.wait() != 0:
                raise SystemExit(f"--recipe {recipe} run failed")
            results[recipe] = {**score(root / f"run-{recipe}", reference),
                               "minutes": round((time.perf_counter() - start) / 60, 1)}
            r = results[recipe]
            print(f"--recipe {recipe:<10} {args.steps} steps, {r['minutes']} min: "
                  f"ms_ssim={r['ms_ssim']:.4f} hist_fd={r['hist_fd']:.4f} "
                  f"collapse_watch={r['collapse_watch_last']:.3f}", flush=True)
        print(json.dumps(results, indent=2))
        plain, recipe = results["none"], results["small-data"]
        wins = [name for name in ("ms_ssim", "hist_fd") if recipe[name] < plain[name]]
        print(f"small-data recipe better on: {', '.join(wins) or 'neither'} "
              f"({'wins on both' if len(wins) == 2 else 'does not win on both'})")


if __name__ == "__main__":
    main()
