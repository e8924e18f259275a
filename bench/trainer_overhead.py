"""artgan's trainer against the plain PyTorch loop a practitioner would write by hand.

Same architecture (DCGAN or FastGAN), same batch, same data already in memory; the two
loops alternate in one process so that machine load affects both alike. Prints images/s
of each and the ratio artgan / plain (>= 1.00 means no overhead), by wall time and by
the process's CPU time (on a CPU shared with other jobs the second is the steadier one;
on a GPU only the first means anything).

    python bench/trainer_overhead.py                     # DCGAN 64 px, batch 64, gan loss
    python bench/trainer_overhead.py --loss wgan-gp --steps 10 --resolution 32
    python bench/trainer_overhead.py --gen fastgan --width 16 --batch-size 16   # hinge
    python bench/trainer_overhead.py --gen fastgan --resolution 256 --device cuda \\
        --precision bf16 --compile --json          # one JSON line (bench/gpu.sh)

The FastGAN plain loop is bench/fastgan_plain.py's (hinge, Adam, the discriminator's
reconstruction objective in the same pass); DCGAN's is :func:`plain_loop` below. With
``--precision bf16`` both sides run their forward passes under autocast; with
``--compile`` both compile G and D (``Module.compile``; artgan leaves D uncompiled for
wgan-gp, whose penalty needs double backward, and so does the plain loop).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

import artgan
from artgan.core.data import InMemoryDataSource
from artgan.core.device import DeviceError, resolve_device
from artgan.plugins.adversarial import gradient_penalty
from artgan.plugins.dcgan import DiscriminatorOptions, GeneratorOptions
from artgan.plugins.dcgan_nets import DCGANDiscriminator, DCGANGenerator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fastgan_plain import plain_fastgan_loop  # noqa: E402 (a sibling script)

DEFAULT_LOSS = {"dcgan": "gan", "fastgan": "hinge"}
LOSSES = {"dcgan": ("gan", "wgan-gp"), "fastgan": ("hinge",)}


def plain_loop(images: torch.Tensor, steps: int, batch: int, loss: str, device: torch.device,
               resolution: int, width: int = 64, precision: str = "fp32",
               compile: bool = False, warmup: int = 1) -> tuple[float, float]:
    """The hand-written DCGAN loop: (wall, CPU) seconds for ``steps`` steps."""
    norm = "layer" if loss == "wgan-gp" else "batch"
    G = DCGANGenerator(GeneratorOptions(ngf=width), resolution=resolution, channels=3).to(device)
    D = DCGANDiscriminator(DiscriminatorOptions(ndf=width, norm=norm), resolution=resolution,
                           channels=3).to(device)
    if compile:
        G.compile()
        if loss != "wgan-gp":  # torch.compile cannot differentiate twice
            D.compile()
    lr, betas, n_critic = (1e-4, (0.0, 0.9), 5) if loss == "wgan-gp" else (2e-4, (0.5, 0.999), 1)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    n = images.shape[0]

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" \
            else contextlib.nullcontext()

    def step(i: int) -> None:
        idx = torch.randint(0, n, (batch,))
        real = images[idx].to(device).float().div(127.5).sub(1)
        g_due = (i + 1) % n_critic == 0
        with torch.set_grad_enabled(g_due), autocast():
            fake = G(torch.randn(batch, 100, device=device))
        with autocast():
            d_real, d_fake = D(real), D(fake.detach())
            if loss == "wgan-gp":
                d_loss = d_fake.mean() - d_real.mean() + 10 * gradient_penalty(D, real, fake,
                                                                               None)
            else:
                d_loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        if g_due:  # reuse the fakes, as the PyTorch DCGAN example does
            with autocast():
                out = D(fake)
                g_loss = -out.mean() if loss == "wgan-gp" else F.softplus(-out).mean()
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()

    for i in range(warmup):
        step(i)
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(steps):
        step(i)
    _sync(device)
    return time.perf_counter() - start, time.process_time() - cpu


def artgan_loop(images: torch.Tensor, steps: int, batch: int, loss: str, device: torch.device,
                resolution: int, gen: str = "dcgan", width: int | None = None,
                precision: str = "fp32", compile: bool = False,
                warmup: int = 1) -> tuple[float, float]:
    """artgan's trainer on the same data: (wall, CPU) seconds for ``steps`` steps of its
    own loop."""
    data = InMemoryDataSource(images)
    options = {} if width is None else {"gen": {"ngf": width}, "disc": {"ndf": width}}
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = artgan.make_trainer(gen=gen, loss=loss, data=data, batch_size=batch,
                                      device=str(device), precision=precision,
                                      compile=compile, options=options, log_every=10**9,
                                      checkpoint_every=10**9, out=run_dir)
        for _ in range(warmup):
            trainer.train_step(next(data.epoch_batches(batch, 0, 0)))
        # the trainer's own loop (data order, stop checks, stats), within one epoch so
        # that no sample grid or checkpoint is written
        trainer.total_steps = steps
        _sync(device)
        start, cpu = time.perf_counter(), time.process_time()
        trainer._run_epoch()
        _sync(device)
        if trainer.step != steps:
            raise RuntimeError(f"the trainer ran {trainer.step} steps, not {steps}")
        return time.perf_counter() - start, time.process_time() - cpu


def measure(gen: str, loss: str, steps: int, rounds: int, batch: int, resolution: int,
            device: torch.device, width: int | None, precision: str, compile: bool,
            warmup: int) -> dict:
    """Best round of each loop, interleaved: images/s and the ratio."""
    n_images = batch * max(8, steps + warmup + 1)  # more than one epoch's steps
    images = torch.randint(0, 256, (n_images, 3, resolution, resolution), dtype=torch.uint8)
    plain_width = width or 64
    plain, ours = [], []
    for _ in range(rounds):
        if gen == "fastgan":
            plain.append(plain_fastgan_loop(images, steps, batch, device, resolution,
                                            ngf=plain_width, ndf=plain_width,
                                            precision=precision, compile=compile,
                                            warmup=warmup))
        else:
            plain.append(plain_loop(images, steps, batch, loss, device, resolution,
                                    plain_width, precision, compile, warmup))
        ours.append(artgan_loop(images, steps, batch, loss, device, resolution, gen,
                                plain_width, precision, compile, warmup))
    ips = lambda t: steps * batch / min(t)  # best round of each
    wall = lambda runs: [w for w, _ in runs]
    cpu = lambda runs: [c for _, c in runs]
    return {"gen": gen, "loss": loss, "resolution": resolution, "batch": batch,
            "width": plain_width, "precision": precision, "compile": compile,
            "device": str(device), "steps": steps, "rounds": rounds,
            "plain_images_per_s": round(ips(wall(plain)), 2),
            "artgan_images_per_s": round(ips(wall(ours)), 2),
            "ratio": round(ips(wall(ours)) / ips(wall(plain)), 3),
            # CPU seconds of this process: on a shared CPU, less sensitive to other jobs
            "cpu_ratio": round(min(cpu(plain)) / min(cpu(ours)), 3),
            "threads": torch.get_num_threads()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _device(spec: str) -> torch.device:
    """artgan's device resolution; an unavailable device exits with its message."""
    try:
        return resolve_device(spec)
    except DeviceError as exc:
        raise SystemExit(f"error: {exc}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gen", default="dcgan", choices=sorted(LOSSES))
    parser.add_argument("--loss", default=None, help="dcgan: gan (default) or wgan-gp; "
                                                     "fastgan: hinge")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed steps first (with --compile: the compilation)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--width", type=int, default=None,
                        help="ngf = ndf of both sides [default: 64]")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--compile-backend", default=None,
                        help="torch.compile backend for both sides [default: inductor]; "
                             "eager: Dynamo traces without generating code (a quick check "
                             "of the code path, bench/gpu.sh --dry)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = _device(args.device)
    loss = args.loss or DEFAULT_LOSS[args.gen]
    if loss not in LOSSES[args.gen]:
        raise SystemExit(f"error: --gen {args.gen} is measured with --loss "
                         f"{' or '.join(LOSSES[args.gen])}, not {loss}")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.compile_backend:  # Module.compile (both sides) calls torch.compile
        real_compile = torch.compile
        torch.compile = lambda fn=None, **kw: real_compile(
            fn, **{**kw, "backend": args.compile_backend})
    load = os.getloadavg()[0]
    result = measure(args.gen, loss, args.steps, args.rounds, args.batch_size,
                     args.resolution, device, args.width, args.precision, args.compile,
                     args.warmup)
    result["load_start"], result["load_end"] = round(load, 2), round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(result))
        return
    print(f"device={device} gen={args.gen} loss={loss} {args.resolution}px "
          f"batch={args.batch_size} width={result['width']} precision={args.precision} "
          f"compile={args.compile} steps={args.steps} rounds={args.rounds} "
          f"threads={torch.get_num_threads()} load {result['load_start']} -> "
          f"{result['load_end']}")
    print(f"plain PyTorch loop: {result['plain_images_per_s']:8.1f} images/s")
    print(f"artgan trainer:     {result['artgan_images_per_s']:8.1f} images/s")
    print(f"ratio artgan/plain: {result['ratio']:.2f}x  (by CPU time of this process: "
          f"{result['cpu_ratio']:.2f}x)")


if __name__ == "__main__":
    main()
