"""How fast the folder data source feeds the model: decoding, memory, disk cache.

Builds two folders of procedurally painted JPEGs in a temporary directory (small:
256x256, large: 2000x1500 photos of "paintings"), then measures images/s of
``folder:PATH`` at the output resolution:

- first epoch, cold: building the data source (decode everything, write the disk cache)
  plus one epoch of ``load_batch`` from memory, for draft on/off and 1 vs all threads;
- later epochs: ``epoch_batches`` + ``load_batch`` from memory;
- second run: building the data source again from the warm disk cache, plus one epoch;

and, for comparison, what the model consumes: DCGAN train steps (artgan's trainer, the
default ngf/ndf) at the same resolution and batch size. Nothing is written outside the
temporary directory (the disk cache goes there too).

    python bench/data.py                          # 300 small + 150 large, 64 px, batch 64
    python bench/data.py --small 100 --large 40 --model-steps 0   # quicker, no model
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def painting(width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """Colour waves, a few flat shapes and brush noise at two scales (JPEG-realistic)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    fx, fy, phase = rng.uniform(2, 9), rng.uniform(2, 9), rng.uniform(0, 6.3, 3)
    img = np.stack([128 + 80 * np.sin(x / width * fx + p) * np.cos(y / height * fy - p)
                    for p in phase], -1)
    for _ in range(4):  # flat rectangles of colour
        x0, y0 = rng.integers(0, width // 2), rng.integers(0, height // 2)
        img[y0:y0 + height // 3, x0:x0 + width // 3] = rng.uniform(0, 255, 3)
    for scale, amount in ((max(2, width // 250), 18), (max(8, width // 40), 30)):
        brush = rng.normal(0, amount, (height // scale + 1, width // scale + 1, 3))
        img += np.repeat(np.repeat(brush, scale, 0), scale, 1)[:height, :width]
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def make_folder(path: Path, count: int, size: tuple[int, int], seed: int) -> Path:
    """``count`` JPEGs (quality 90) of ``size`` in ``path``."""
    path.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        painting(*size, rng).save(path / f"{i:04d}.jpg", quality=90)
    return path


def epoch_seconds(data, batch_size: int, epoch: int) -> float:
    """Seconds for one epoch of batches, fetched the way the trainer fetches them."""
    start = time.perf_counter()
    for indices in data.epoch_batches(batch_size, epoch, seed=0):
        data.load_batch(indices)
    return time.perf_counter() - start


def build(folder: Path, cache_dir: Path, resolution: int, **options):
    """Build the folder data source with its disk cache in ``cache_dir``; (data, seconds)."""
    from artgan.plugins.data import FolderOptions
    from artgan.plugins.folder import FolderDataSource

    os.environ["ARTGAN_CACHE_DIR"] = str(cache_dir)
    start = time.perf_counter()
    data = FolderDataSource(str(folder), resolution=resolution, channels=3,
                            options=FolderOptions(**options))
    return data, time.perf_counter() - start


def measure_folder(folder: Path, tmp: Path, args, workers_all: int) -> list[dict]:
    """Cold/warm/later-epoch rates for every (draft, workers) setting on one folder."""
    rows = []
    for draft in (True, False):
        for workers in (1, workers_all):
            cold_best = None
            for r in range(args.rounds):  # each round starts with an empty disk cache
                cache_dir = tmp / f"cache-{folder.name}-{draft}-{workers}-{r}"
                data, seconds = build(folder, cache_dir, args.resolution, draft=draft,
                                      workers=workers)
                cold = seconds + epoch_seconds(data, args.batch_size, 0)
                cold_best = cold if cold_best is None else min(cold_best, cold)
            later = min(epoch_seconds(data, args.batch_size, e) for e in range(1, args.epochs + 1))
            warm = min(build(folder, cache_dir, args.resolution, draft=draft, workers=workers)[1]
                       for _ in range(args.rounds))
            assert data.load_counts["decoded"] == len(data)
            n, used = len(data), data.batches_per_epoch(args.batch_size) * args.batch_size
            rows.append({"folder": folder.name, "n": n, "draft": draft, "workers": workers,
                         "cold": n / cold_best, "later": used / later,
                         "warm": n / (warm + epoch_seconds(data, args.batch_size, 1))})
    return rows


def model_images_per_s(resolution: int, batch_size: int, steps: int) -> float:
    """DCGAN (default widths, gan loss) train steps through artgan's trainer, on the CPU."""
    from artgan.core.config import resolve_config
    from artgan.core.data import InMemoryDataSource
    from artgan.core.session import build_trainer
    from artgan.plugin_host import get_registry

    images = torch.randint(0, 256, (batch_size * 2, 3, resolution, resolution),
                           dtype=torch.uint8)
    data = InMemoryDataSource(images)
    with tempfile.TemporaryDirectory() as run_dir:
        config = resolve_config(get_registry(), loss="gan", data="demo", resolution=resolution,
                                batch_size=batch_size, device="cpu", log_every=10**9,
                                checkpoint_every=10**9, recipe="none")
        trainer = build_trainer(config, get_registry(), run_dir=run_dir, data=data)
        order = list(data.epoch_batches(batch_size, 0, 0))
        trainer.train_step(order[0])  # warm-up
        start = time.perf_counter()
        for i in range(steps):
            trainer.train_step(order[i % len(order)])
            trainer.step += 1
        return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=300, help="256x256 JPEGs")
    parser.add_argument("--large", type=int, default=150, help="2000x1500 JPEGs")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="later epochs timed (best)")
    parser.add_argument("--rounds", type=int, default=2, help="cold and warm builds (best)")
    parser.add_argument("--model-steps", type=int, default=3,
                        help="DCGAN train steps to time (0: skip, quote ~50 img/s)")
    args = parser.parse_args()
    from artgan.plugins.folder import default_workers

    workers_all = default_workers()
    with tempfile.TemporaryDirectory(prefix="artgan-bench-data-") as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        folders = [make_folder(tmp / "small-256", args.small, (256, 256), 1),
                   make_folder(tmp / "large-2000x1500", args.large, (2000, 1500), 2)]
        made = time.perf_counter() - start
        sizes = {f.name: sum(p.stat().st_size for p in f.iterdir()) / 2**20 for f in folders}
        rows = [row for f in folders for row in measure_folder(f, tmp, args, workers_all)]
    model = model_images_per_s(args.resolution, args.batch_size, args.model_steps) \
        if args.model_steps else None

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"{args.resolution}px batch {args.batch_size}; cores usable {workers_all}; "
          f"torch threads {torch.get_num_threads()}; load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f}; folders made in {made:.0f} s "
          f"({', '.join(f'{k}: {v:.0f} MiB' for k, v in sizes.items())})")
    print("images/s of folder:PATH    first epoch = build (decode + write cache) + 1 epoch;"
          " second run = build from the disk cache + 1 epoch")
    header = (f"{'folder':<16} {'n':>4} {'draft':>5} {'threads':>7} {'first epoch':>12} "
              f"{'later epochs':>13} {'second run':>11}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['folder']:<16} {r['n']:>4} {str(r['draft']):>5} {r['workers']:>7} "
              f"{r['cold']:>12.0f} {r['later']:>13.0f} {r['warm']:>11.0f}")
    if model is not None:
        slowest_later = min(r["later"] for r in rows)
        slowest_warm = min(r["warm"] for r in rows if r["draft"])
        print(f"model: DCGAN {args.resolution}px batch {args.batch_size} (ngf/ndf 64) trains "
              f"{model:.1f} images/s on this CPU ({args.model_steps} steps)")
        print(f"after the first epoch the data path delivers >= {slowest_later / model:.0f}x "
              f"what the model consumes (slowest later-epoch row); a second run's first "
              f"epoch >= {slowest_warm / model:.0f}x")


if __name__ == "__main__":
    main()
