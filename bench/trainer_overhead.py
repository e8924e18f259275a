"""artgan's trainer against the plain PyTorch loop a practitioner would write by hand.

Same architecture (DCGAN, defaults), same batch, same data already in memory; the two
loops alternate in one process so that machine load affects both alike. Prints images/s
of each and the ratio artgan / plain (>= 1.00 means no overhead).

    python bench/trainer_overhead.py                     # 64 px, batch 64, gan loss
    python bench/trainer_overhead.py --loss wgan-gp --steps 10 --resolution 32
"""

from __future__ import annotations

import argparse
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


def plain_loop(images: torch.Tensor, steps: int, batch: int, loss: str, device: torch.device,
               resolution: int) -> float:
    """The hand-written loop: returns seconds for ``steps`` steps."""
    norm = "layer" if loss == "wgan-gp" else "batch"
    G = DCGANGenerator(GeneratorOptions(), resolution=resolution, channels=3).to(device)
    D = DCGANDiscriminator(DiscriminatorOptions(norm=norm), resolution=resolution,
                           channels=3).to(device)
    lr, betas, n_critic = (1e-4, (0.0, 0.9), 5) if loss == "wgan-gp" else (2e-4, (0.5, 0.999), 1)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    n = images.shape[0]

    def step(i: int) -> None:
        idx = torch.randint(0, n, (batch,))
        real = images[idx].to(device).float().div(127.5).sub(1)
        g_due = (i + 1) % n_critic == 0
        with torch.set_grad_enabled(g_due):
            fake = G(torch.randn(batch, 100, device=device))
        d_real, d_fake = D(real), D(fake.detach())
        if loss == "wgan-gp":
            d_loss = d_fake.mean() - d_real.mean() + 10 * gradient_penalty(D, real, fake, None)
        else:
            d_loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        if g_due:  # reuse the fakes, as the PyTorch DCGAN example does
            out = D(fake)
            g_loss = -out.mean() if loss == "wgan-gp" else F.softplus(-out).mean()
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()

    step(0)  # warm-up
    _sync(device)
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    _sync(device)
    return time.perf_counter() - start


def artgan_loop(images: torch.Tensor, steps: int, batch: int, loss: str, device: torch.device,
                resolution: int) -> float:
    data = InMemoryDataSource(images)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = artgan.make_trainer(loss=loss, data=data, batch_size=batch, device=str(device),
                                      log_every=10**9, checkpoint_every=10**9, out=run_dir)
        trainer.train_step(next(data.epoch_batches(batch, 0, 0)))  # warm-up
        # the trainer's own loop (data order, stop checks, stats), within one epoch so
        # that no sample grid or checkpoint is written
        trainer.total_steps = steps
        _sync(device)
        start = time.perf_counter()
        trainer._run_epoch()
        _sync(device)
        assert trainer.step == steps
        return time.perf_counter() - start


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
    parser.add_argument("--loss", default="gan", choices=["gan", "wgan-gp"])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = _device(args.device)
    n_images = args.batch_size * max(8, args.steps + 1)  # more than one epoch's steps
    images = torch.randint(0, 256, (n_images, 3, args.resolution, args.resolution),
                           dtype=torch.uint8)
    plain, ours = [], []
    for _ in range(args.rounds):
        plain.append(plain_loop(images, args.steps, args.batch_size, args.loss, device,
                                args.resolution))
        ours.append(artgan_loop(images, args.steps, args.batch_size, args.loss, device,
                                args.resolution))
    ips = lambda t: args.steps * args.batch_size / min(t)  # best round of each
    print(f"device={device} loss={args.loss} {args.resolution}px batch={args.batch_size} "
          f"steps={args.steps} rounds={args.rounds} threads={torch.get_num_threads()}")
    print(f"plain PyTorch loop: {ips(plain):8.1f} images/s")
    print(f"artgan trainer:     {ips(ours):8.1f} images/s")
    print(f"ratio artgan/plain: {ips(ours) / ips(plain):.2f}x")


if __name__ == "__main__":
    main()
