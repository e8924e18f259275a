"""Tiny models and pictures for the projection and restoration tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

import artgan
from artgan.core.checkpoint import load_checkpoint, save_atomic
from artgan.core.sampling import latents, load_generator


def structured_run(base: Path, gen: str = "dcgan", channels: int = 3) -> Path:
    """A 16 px run folder (z_dim 16, ngf = ndf = 8) whose generator draws contrasty images.

    Made by ``make_trainer`` with one step, then the generator's output layer is scaled
    up 5x and its BatchNorm statistics are measured over 256 latents: a DCGAN after a few
    dozen steps still draws nearly flat grey (two samples differ by ~43 dB PSNR), which
    would let any projection look good. Here two samples are 13-16 dB apart.
    """
    out = base / f"{gen}-{channels}"
    trainer = artgan.make_trainer(gen=gen, loss="hinge", data="demo", resolution=16,
                                  channels=channels, batch_size=16, max_steps=1,
                                  device="cpu", out=out,
                                  options={"gen": {"ngf": 8, "z_dim": 16}, "disc": {"ndf": 8},
                                           "data": {"size": 32}})
    trainer.fit()
    G, _, _ = load_generator(out, artgan.load_plugins(), device="cpu")
    norms = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)][-1].weight.mul_(5)
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the one batch below
        z = torch.randn(256, G.z_dim, generator=torch.Generator().manual_seed(0))
        G.train()(z, torch.arange(256) % G.num_classes if G.conditional else None)
    for m in norms:
        m.momentum = 0.1
    ckpt = load_checkpoint(out)
    ckpt["generator"] = G.state_dict()
    ckpt.pop("generator_ema", None)
    save_atomic(ckpt, out / "checkpoints" / "last.pt")
    return out


def generator(run: Path):
    G, config, class_names = load_generator(run, artgan.load_plugins(), device="cpu")
    return G, config, class_names


def sample(G, seed: int, y: int | None = None) -> torch.Tensor:
    """One image (1, C, R, R) of G from the latent of ``seed``."""
    labels = None if y is None else torch.tensor([y])
    with torch.no_grad():
        return G(latents(G, 1, seed=seed), labels)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) in [-1, 1] -> (H, W, C) uint8."""
    return ((image[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def save(pixels: np.ndarray, path: Path) -> Path:
    pixels = pixels[..., 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels
    Image.fromarray(pixels).save(path)
    return path


def read(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img).copy()
