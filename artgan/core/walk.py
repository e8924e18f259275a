"""Latent walks: a looping animation through a generator's latent space.

Each tile of the animation passes through ``K`` random latent points (keyframes) and
back to the first, so the animation loops without a jump. Between two keyframes the
latent moves along a great circle (spherical interpolation, White 2016, "Sampling
Generative Networks"): Gaussian latents concentrate near a sphere, and a straight line
between two of them cuts through the low-probability interior, where samples go grey.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .atomic import write_atomic
from .images import grid_image
from .networks import Generator
from .sampling import cycled_labels, latents, seeded_noise


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between the rows of ``a`` and ``b`` (N, Z) at ``t`` in [0, 1].

        slerp(a, b, t) = sin((1 - t) w) / sin(w) * a + sin(t w) / sin(w) * b,
        w = angle between a and b

    Rows that are (nearly) parallel fall back to the straight line, which is then the same.
    """
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1).clamp(-1, 1)
    omega = torch.acos(cos)[:, None]
    sin = torch.sin(omega)
    parallel = sin.abs() < 1e-6
    safe = torch.where(parallel, torch.ones_like(sin), sin)
    spherical = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / safe
    return torch.where(parallel, (1 - t) * a + t * b, spherical)


def walk_latents(keyframes: torch.Tensor, frames_between: int) -> torch.Tensor:
    """The latents of a looping walk: (K * F, N, Z) from keyframes (K, N, Z).

    Frame ``k * F`` is keyframe ``k``; the last frame is one step before keyframe 0."""
    count = keyframes.shape[0]
    frames = [slerp(keyframes[k], keyframes[(k + 1) % count], f / frames_between)
              for k in range(count) for f in range(frames_between)]
    return torch.stack(frames)


def random_keyframes(G: Generator, count: int, tiles: int, seed: int) -> torch.Tensor:
    """``count`` latent points for each of ``tiles`` tiles, (count, tiles, z_dim), from ``seed``."""
    return latents(G, count * tiles, seed=seed).view(count, tiles, -1)


@torch.no_grad()
def render_walk(G: Generator, latents: torch.Tensor, labels: torch.Tensor | None = None,
                nrow: int = 4, seed: int = 0):
    """Yield one grid image (C, H, W) in [0, 1] on the CPU per frame of ``latents``
    (T, N, Z); ``labels`` (N,) fix each tile's class for a conditional generator.

    The generator's own noise (FastGAN's) is the same in every frame, from ``seed``
    (:func:`~artgan.core.sampling.seeded_noise`), so only the latents move and the
    animation does not flicker."""
    device = next(G.parameters()).device
    if labels is None:
        labels = cycled_labels(G, latents.shape[1])
    y = None if labels is None else labels.to(device)
    for z in latents:
        with seeded_noise(seed, 0, device):
            images = G(z.to(device), y)
        yield grid_image(images, nrow)


def save_gif(frames, path: str | os.PathLike, fps: float = 24) -> tuple[Path, int]:
    """Write grid frames (C, H, W) in [0, 1] as a looping GIF, atomically; returns the
    path and the number of frames. RGBA frames are composited on white: GIF has only
    1-bit transparency, which would cut soft edges."""
    from PIL import Image

    def rgb(frame: torch.Tensor) -> torch.Tensor:
        if frame.shape[0] != 4:
            return frame  # make_grid gives 3 channels, grayscale too
        return frame[:3] * frame[3:] + (1 - frame[3:])  # c * a + white * (1 - a)

    pictures = [Image.fromarray(rgb(frame).mul(255).round().byte().permute(1, 2, 0).numpy())
                for frame in frames]
    path = write_atomic(path, lambda fh: pictures[0].save(
        fh, format="GIF", save_all=True, append_images=pictures[1:],
        duration=max(20, round(1000 / fps)), loop=0, disposal=1))
    return path, len(pictures)
