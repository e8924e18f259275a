"""Run a fully convolutional image-to-image network on an image of any size.

Networks with stride-2 layers need sides divisible by 2^depth; very large images do not
fit in memory at once. :func:`apply_tiled` pads the image (reflection) to a multiple of
``multiple`` and, when it is larger than ``tile``, runs the network on overlapping tiles
and blends them with weights that fall linearly to the tile edges, so no seam shows:

    out(p) = sum_t w_t(p) f(tile_t)(p) / sum_t w_t(p)

where ``w_t`` is 1 in the tile's interior and ramps down to nearly 0 over the ``overlap``
pixels at its borders with other tiles (image borders are not ramped).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def _pad_to(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflection-pad (N, C, H, W) at the bottom and right to a multiple of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def _starts(size: int, tile: int, step: int) -> list[int]:
    """Tile origins covering ``size``: every ``step`` pixels, the last flush with the end."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, step))
    return starts + [size - tile]


def _ramp(length: int, overlap: int, at_start: bool, at_end: bool) -> torch.Tensor:
    """1-D blending weights of one tile: ramps over ``overlap`` pixels at the sides that
    meet another tile, near 0 over the outer quarter (where the network saw the tile's
    edge, not the image) and rising linearly to 1."""
    w = torch.ones(length)
    n = min(overlap, length // 2)
    if n > 0:
        margin = n // 4
        ramp = ((torch.arange(n, dtype=torch.float32) + 1 - margin) / (n - margin + 1))
        ramp = ramp.clamp(1e-3, 1.0)
        if not at_start:
            w[:n] = ramp
        if not at_end:
            w[length - n:] = ramp.flip(0)
    return w


@torch.no_grad()
def apply_tiled(fn: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, *,
                tile: int = 512, overlap: int = 32, multiple: int = 1) -> torch.Tensor:
    """``fn`` applied to ``image`` (N, C, H, W), tile by tile; returns (N, C', H, W).

    ``fn`` must map (N, C, h, w) to (N, C', h, w) for any h, w divisible by ``multiple``.
    ``tile`` is rounded down to a multiple of ``multiple``; ``overlap`` pixels are shared
    by neighbouring tiles and blended.
    """
    if image.ndim != 4:
        raise ValueError(f"expected an image batch (N, C, H, W), got {tuple(image.shape)}")
    padded, (h, w) = _pad_to(image, multiple)
    tile = max(multiple, tile - tile % multiple)
    H, W = padded.shape[-2:]
    if H <= tile and W <= tile:
        return fn(padded)[..., :h, :w]
    overlap = min(overlap, tile // 2)
    step = max(multiple, tile - overlap)
    out = weights = None
    rows, cols = _starts(H, tile, step), _starts(W, tile, step)
    for i, top in enumerate(rows):
        for j, left in enumerate(cols):
            th, tw = min(tile, H), min(tile, W)
            piece = fn(padded[..., top:top + th, left:left + tw])
            if out is None:
                out = piece.new_zeros((*piece.shape[:2], H, W))
                weights = piece.new_zeros((1, 1, H, W))
            wy = _ramp(th, overlap, i == 0, i == len(rows) - 1)
            wx = _ramp(tw, overlap, j == 0, j == len(cols) - 1)
            wt = (wy[:, None] * wx[None, :]).to(piece)[None, None]
            out[..., top:top + th, left:left + tw] += piece * wt
            weights[..., top:top + th, left:left + tw] += wt
    return (out / weights)[..., :h, :w]
