"""FastGAN trained by a plain PyTorch loop, and seconds per step of FastGAN and DCGAN.

:func:`plain_fastgan_loop` is the hand-written loop a practitioner would write for the
FastGAN networks (``--gen fastgan --disc fastgan``): hinge loss, Adam 2e-4 with betas
(0.5, 0.999) as in the paper, the discriminator's reconstruction objective on the real
images, no augmentation; the same role as ``plain_loop`` in bench/trainer_overhead.py,
against which artgan's trainer is compared. Run as a script, it prints seconds per
training step for each architecture, width and batch (interleaved rounds, best round of
each, so that machine load affects all alike):

    python bench/fastgan_plain.py                         # 64 px, batch 16 and 32
    python bench/fastgan_plain.py --widths 16,32,64 --dcgan-widths 32,64 --threads 2
    python bench/fastgan_plain.py --resolution 256 --batch-sizes 8 --device cuda

Measured on the shared 2-core development VM (--steps 2 --rounds 2, 64 px, CPU seconds
per step, which stayed close to wall time with one thread; load average 4.1 -> 2.9;
two threads under that load were erratic, 0.5x-10x of these):

    threads=1       batch 16   batch 32    G params    D params (decoders)
    fastgan 16        0.71       1.18      3,405,284      693,888 (186,320)
    fastgan 32        1.71       3.19      9,419,716    2,754,816
    fastgan 64        5.39      12.17     29,276,036   10,977,792 (2,957,120)
    dcgan 32          0.10       0.19      1,100,224      694,656
    dcgan 64          0.37       0.59      3,576,704    2,765,568

The decoders and their L1 + MS-SSIM objective are about 30% of a FastGAN step
(ngf = ndf = 16 and 32, batch 32, with -o disc.recon_weight=0: 0.91 and 2.83 s).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import torch
import torch.nn.functional as F

from artgan.core.device import DeviceError, resolve_device
from artgan.plugins.dcgan_nets import DCGANDiscriminator, DCGANGenerator
from artgan.plugins.fastgan import FastGANDiscriminatorOptions, FastGANGeneratorOptions
from artgan.plugins.fastgan_layers import parameter_count
from artgan.plugins.fastgan_nets import FastGANDiscriminator, FastGANGenerator


def timed_steps(G, D, images: torch.Tensor, steps: int, batch: int, device: torch.device,
                reconstruct: bool, precision: str = "fp32", compile: bool = False,
                warmup: int = 1) -> tuple[float, float]:
    """Hinge-loss training steps of G and D on ``images`` (uint8), after ``warmup``
    untimed steps: (wall-clock seconds, CPU seconds of this process) for ``steps``.

    ``precision="bf16"``: the forward passes and losses under ``torch.autocast`` in
    bfloat16 (backward outside it, as the PyTorch recipe says); ``compile``: both
    networks ``torch.compile``d in place (``Module.compile``), as artgan's ``--compile``.
    """
    if compile:
        G.compile()
        D.compile()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    n = images.shape[0]

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" \
            else contextlib.nullcontext()

    def step() -> None:
        idx = torch.randint(0, n, (batch,))
        real = images[idx].to(device).float().div(127.5).sub(1)  # CPU memory -> device
        with autocast():
            fake = G(torch.randn(batch, G.z_dim, device=device))
            if reconstruct:  # scores and the decoders' objective in one pass
                d_real, extra = D.score_real(real)
                aux = extra.get("loss", 0.0)
            else:
                d_real, aux = D(real), 0.0
            d_fake = D(fake.detach())
            # E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] + reconstruction
            d_loss = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean() + aux
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with autocast():
            g_loss = -D(fake).mean()  # -E[D(G(z))], reusing the step's fakes
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()

    for _ in range(warmup):
        step()
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    _sync(device)
    return time.perf_counter() - start, time.process_time() - cpu


def fastgan_nets(resolution: int, channels: int, ngf: int, ndf: int, device: torch.device):
    G = FastGANGenerator(FastGANGeneratorOptions(ngf=ngf), resolution=resolution,
                         channels=channels)
    D = FastGANDiscriminator(FastGANDiscriminatorOptions(ndf=ndf), resolution=resolution,
                             channels=channels)
    return G.to(device), D.to(device)


def dcgan_nets(resolution: int, channels: int, ngf: int, ndf: int, device: torch.device):
    G = DCGANGenerator(ngf=ngf, resolution=resolution, channels=channels)
    D = DCGANDiscriminator(ndf=ndf, resolution=resolution, channels=channels)
    return G.to(device), D.to(device)


def plain_fastgan_loop(images: torch.Tensor, steps: int, batch: int, device: torch.device,
                       resolution: int, ngf: int = 64, ndf: int = 64, precision: str = "fp32",
                       compile: bool = False, warmup: int = 1) -> tuple[float, float]:
    """The hand-written FastGAN loop: (wall, CPU) seconds for ``steps`` steps (after
    ``warmup`` untimed steps). ``images`` are (N, C, R, R) uint8."""
    G, D = fastgan_nets(resolution, images.shape[1], ngf, ndf, device)
    return timed_steps(G, D, images, steps, batch, device, reconstruct=True,
                       precision=precision, compile=compile, warmup=warmup)


def plain_dcgan_loop(images: torch.Tensor, steps: int, batch: int, device: torch.device,
                     resolution: int, ngf: int = 64, ndf: int = 64) -> float:
    """The same loop for DCGAN (z_dim 100, BatchNorm), for comparison."""
    G, D = dcgan_nets(resolution, images.shape[1], ngf, ndf, device)
    return timed_steps(G, D, images, steps, batch, device, reconstruct=False)[0]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _device(spec: str) -> torch.device:
    """artgan's device resolution; an unavailable device exits with its message."""
    try:
        return resolve_device(spec)
    except DeviceError as exc:
        raise SystemExit(f"error: {exc}") from None


def _ints(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch-sizes", type=_ints, default=[16, 32])
    parser.add_argument("--widths", type=_ints, default=[16, 32, 64],
                        help="FastGAN ngf = ndf values")
    parser.add_argument("--dcgan-widths", type=_ints, default=[32, 64],
                        help="DCGAN ngf = ndf values ('' for none)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = _device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cells = [("fastgan", w, b) for b in args.batch_sizes for w in args.widths] + \
            [("dcgan", w, b) for b in args.batch_sizes for w in args.dcgan_widths]
    images = torch.randint(0, 256, (64, 3, args.resolution, args.resolution),
                           dtype=torch.uint8)
    nets = {"fastgan": fastgan_nets, "dcgan": dcgan_nets}
    best: dict[tuple, tuple[float, float]] = {}
    load_start = os.getloadavg()
    for _ in range(args.rounds):
        for arch, width, batch in cells:
            G, D = nets[arch](args.resolution, 3, width, width, device)
            wall, cpu = timed_steps(G, D, images, args.steps, batch, device,
                                    reconstruct=arch == "fastgan")
            key, per_step = (arch, width, batch), (wall / args.steps, cpu / args.steps)
            best[key] = min(per_step, best.get(key, per_step))  # the round with least wall
    load_end = os.getloadavg()
    print(f"device={device} {args.resolution}px threads={torch.get_num_threads()} "
          f"steps={args.steps} rounds={args.rounds} (best round); load average "
          f"{' '.join(f'{v:.2f}' for v in load_start)} at start, "
          f"{' '.join(f'{v:.2f}' for v in load_end)} at end")
    print(f"{'arch':8} {'ngf=ndf':>7} {'batch':>5} {'s/step':>8} {'CPU s/step':>10} "
          f"{'img/s':>7} {'G params':>10} {'D params':>10}")
    for (arch, width, batch), (wall, cpu) in best.items():
        G, D = nets[arch](args.resolution, 3, width, width, torch.device("cpu"))
        print(f"{arch:8} {width:7d} {batch:5d} {wall:8.3f} {cpu:10.3f} {batch / wall:7.1f} "
              f"{parameter_count(G):10,d} {parameter_count(D):10,d}")


if __name__ == "__main__":
    main()
