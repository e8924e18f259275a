"""A/B of trainer speed options: optimiser implementation and the networks' memory format.

Builds one artgan trainer per variant (DCGAN 64x64, batch 64, CPU by default) and times
them in interleaved rounds, so that machine load affects all alike. Variant names
combine: ``contig`` (contiguous tensors instead of channels-last), ``foreach`` (foreach
Adam instead of fused), ``compile`` (``--compile``: torch.compile of G and D, compiled
during the untimed warm-up step); ``new`` is the trainer as built. A repeated name
(``new2``) shows the noise.

    python bench/trainer_variants.py --loss gan --steps 4 --rounds 3 \\
        --variants contig_foreach,contig,foreach,new,contig_foreach2
    python bench/trainer_variants.py --variants new,compile,new2   # torch.compile
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

import artgan
from artgan.core.data import InMemoryDataSource
from artgan.core.device import DeviceError, resolve_device


def make_trainer(variant: str, data, loss: str, batch: int, device: str, run_dir: str):
    trainer = artgan.make_trainer(loss=loss, data=data, batch_size=batch, device=device,
                                  log_every=10**9, checkpoint_every=10**9, out=run_dir,
                                  compile="compile" in variant)
    if "contig" in variant:
        for net in (trainer.G, trainer.D):
            net.to(memory_format=torch.contiguous_format)
    if "foreach" in variant:
        for opt in trainer.optimizers.values():
            for group in opt.param_groups:
                group["foreach"], group["fused"] = True, False
    return trainer


def _device(spec: str) -> torch.device:
    """artgan's device resolution; an unavailable device exits with its message."""
    try:
        return resolve_device(spec)
    except DeviceError as exc:
        raise SystemExit(f"error: {exc}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", default="gan", choices=["gan", "wgan-gp"])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variants", default="contig_foreach,contig,foreach,new,contig_foreach2")
    args = parser.parse_args()
    _device(args.device)  # fail now, with artgan's message, not in the first trainer
    images = torch.randint(0, 256, (args.batch_size * 8, 3, args.resolution, args.resolution),
                           dtype=torch.uint8)
    data = InMemoryDataSource(images)
    order = list(data.epoch_batches(args.batch_size, 0, 0))
    with tempfile.TemporaryDirectory() as run_dir:
        trainers = {v: make_trainer(v, data, args.loss, args.batch_size, args.device, run_dir)
                    for v in args.variants.split(",")}
        for variant, trainer in trainers.items():
            start = time.perf_counter()
            trainer.train_step(order[0])  # warm-up (and compilation)
            trainer.train_step(order[1 % len(order)])
            print(f"{variant:16s} warm-up (2 steps) {time.perf_counter() - start:.1f} s",
                  flush=True)
        times: dict[str, list[float]] = {v: [] for v in trainers}
        for _ in range(args.rounds):
            for variant, trainer in trainers.items():
                start = time.perf_counter()
                for i in range(args.steps):
                    trainer.train_step(order[i % len(order)])
                    trainer.step += 1
                if trainer.device.type == "cuda":
                    torch.cuda.synchronize(trainer.device)
                times[variant].append((time.perf_counter() - start) / args.steps)
    print(f"loss={args.loss} {args.resolution}px batch={args.batch_size} steps={args.steps} "
          f"rounds={args.rounds} threads={torch.get_num_threads()}")
    for variant, t in times.items():
        print(f"{variant:16s} best {min(t):.3f} s/step  median {statistics.median(t):.3f} s/step")


if __name__ == "__main__":
    main()
