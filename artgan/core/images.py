"""Writing generated images: grids and individual PNGs, from tensors in [-1, 1].

Grey images (1 channel) are written as RGB, RGB as RGB, RGBA (4 channels, the last one
alpha) as RGBA PNGs with their transparency; grid gaps are white (and opaque)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

from .atomic import write_atomic


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], clamped, float32 on the CPU."""
    return images.detach().float().cpu().add(1).div(2).clamp_(0, 1)


def grid_image(images: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """Images in [-1, 1] tiled into one (3, H, W) picture in [0, 1] ((4, H, W) for RGBA
    images), white gaps between."""
    return make_grid(to_unit(images), nrow=nrow, padding=2, pad_value=1.0)


def save_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int = 8) -> Path:
    """Save a grid of images as a PNG (atomically: temp file + rename)."""
    grid = grid_image(images, nrow)
    return write_atomic(path, lambda fh: save_image(grid, fh, format="png"))


def save_each(images: torch.Tensor, folder: str | os.PathLike, prefix: str = "sample", *,
              start: int = 0, digits: int = 4) -> list[Path]:
    """Save each image as ``<prefix>-0000.png``, ``<prefix>-0001.png``, ... (numbered from
    ``start``, at least ``digits`` digits), so batches can be written as they come;
    ``digits=0``: one image, named ``<prefix>.png``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(to_unit(images), start):
        path = folder / (f"{prefix}-{i:0{digits}d}.png" if digits else f"{prefix}.png")
        save_image(image, path, format="png")
        paths.append(path)
    return paths


def flatten_on_white(images: torch.Tensor) -> torch.Tensor:
    """RGBA images in [-1, 1] (N, 4, H, W) composited on white, (N, 3, H, W) in [-1, 1];
    other images unchanged. For what has no alpha: GIF frames, the Inception network."""
    if images.shape[-3] != 4:
        return images
    unit = images.add(1).div(2)
    rgb, alpha = unit[..., :3, :, :], unit[..., 3:, :, :].clamp(0, 1)
    return (rgb * alpha + (1 - alpha)).mul(2).sub(1)  # c * a + white * (1 - a)
