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
    """Build the folder data source with its disk cache in ``cache_dir``.

    Returns (data, wall seconds, CPU seconds of this process, all threads).
    """
    from artgan.plugins.data import FolderOptions
    from artgan.plugins.folder import FolderDataSource

    os.environ["ARTGAN_CACHE_DIR"] = str(cache_dir)
    start, cpu = time.perf_counter(), time.process_time()
    data = FolderDataSource(str(folder), resolution=resolution, channels=3,
                            options=FolderOptions(**options))
    return data, time.perf_counter() - start, time.process_time() - cpu


def measure_folder(folder: Path, tmp: Path, args, workers_all: int) -> list[dict]:
    """Cold/warm/later-epoch rates for every (draft, workers) setting on one folder.

    Settings take turns within each round (so a change in machine load hits them all
    alike) and the best round of each is kept; every cold build starts with an empty
    disk cache.
    """
    settings = [(draft, workers) for draft in (True, False) for workers in (1, workers_all)]
    cold = {s: [] for s in settings}
    warm = {s: [] for s in settings}
    later = {s: [] for s in settings}
    cpu = {s: [] for s in settings}
    for r in range(args.rounds):
        for draft, workers in settings:
            cache_dir = tmp / f"cache-{folder.name}-{draft}-{workers}-{r}"
            data, seconds, cpu_s = build(folder, cache_dir, args.resolution, draft=draft,
                                         workers=workers)
            assert data.load_counts["decoded"] == len(data)
            cold[draft, workers].append(seconds + epoch_seconds(data, args.batch_size, 0))
            cpu[draft, workers].append(cpu_s)
            later[draft, workers] += [epoch_seconds(data, args.batch_size, e)
                                      for e in range(1, args.epochs + 1)]
            again, seconds, _ = build(folder, cache_dir, args.resolution, draft=draft,
                                      workers=workers)
            assert again.load_counts["cached"] == len(again)
            warm[draft, workers].append(seconds + epoch_seconds(again, args.batch_size, 1))
    n = len(data)
    used = data.batches_per_epoch(args.batch_size) * args.batch_size
    return [{"folder": folder.name, "n": n, "draft": draft, "workers": workers,
             "cold": n / min(cold[s]), "cpu_ms": 1000 * min(cpu[s]) / n,
             "later": used / min(later[s]), "later_median": used / float(np.median(later[s])),
             "warm": n / min(warm[s])} for s in settings for draft, workers in [s]]


def model_images_per_s(resolution: int, batch_size: int, steps: int) -> float:
    """DCGAN (default widths, gan loss) train steps through artgan's trainer, on the CPU."""
    import artgan
    from artgan.core.data import InMemoryDataSource

    images = torch.randint(0, 256, (batch_size * 2, 3, resolution, resolution),
                           dtype=torch.uint8)
    data = InMemoryDataSource(images)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = artgan.make_trainer(loss="gan", data=data, batch_size=batch_size, device="cpu",
                                      log_every=10**9, checkpoint_every=10**9, out=run_dir)
        order = list(data.epoch_batches(batch_size, 0, 0))
        trainer.train_step(order[0])  # warm-up
        best = float("inf")
        for i in range(steps):
            start = time.perf_counter()
            trainer.train_step(order[i % len(order)])
            trainer.step += 1
            best = min(best, time.perf_counter() - start)
        return batch_size / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=300, help="256x256 JPEGs")
    parser.add_argument("--large", type=int, default=150, help="2000x1500 JPEGs")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="later epochs timed (best)")
    parser.add_argument("--rounds", type=int, default=3, help="cold and warm builds (best)")
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
    print("images/s of folder:PATH. first epoch: build (decode, write the disk cache) + one "
          "epoch; CPU ms/img: CPU time of that build per image, all threads; later epochs: "
          "best (median) epoch of load_batch from memory; second run: build from the warm "
          "disk cache + one epoch")
    header = (f"{'folder':<16} {'n':>4} {'draft':>5} {'threads':>7} {'first epoch':>11} "
              f"{'CPU ms/img':>10} {'later epochs':>20} {'second run':>10}")
    print(header)
    print("-" * len(header))
    for r in rows:
        later = f"{r['later']:.0f} ({r['later_median']:.0f})"
        print(f"{r['folder']:<16} {r['n']:>4} {str(r['draft']):>5} {r['workers']:>7} "
              f"{r['cold']:>11.0f} {r['cpu_ms']:>10.1f} {later:>20} {r['warm']:>10.0f}")
    if model is not None:
        print(f"model: DCGAN {args.resolution}px batch {args.batch_size} (ngf/ndf 64, gan loss) "
              f"trains {model:.1f} images/s on this CPU (best of {args.model_steps} steps)")
    for name, rate in (("measured now", model), ("quiet machine, ~50 img/s", 50.0)):
        if rate:
            later = min(r["later_median"] for r in rows)
            warm = min(r["warm"] for r in rows if r["draft"])
            print(f"data / model ({name}): later epochs >= {later / rate:.0f}x (slowest median "
                  f"epoch), second run's first epoch >= {warm / rate:.0f}x")


if __name__ == "__main__":
    main()
