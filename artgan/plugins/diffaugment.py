"""The built-in differentiable augmentations: color, translation, cutout.

All take images (N, C, H, W) in [-1, 1], draw their random parameters per sample from
torch's global generator and are the identity at strength/ratio 0. Gradients flow to
the input through every operation (arithmetic, indexing, masking).
"""

from __future__ import annotations

import torch

from artgan.core.augment import Augmentation
from artgan.plugins.augment import ColorOptions, CutoutOptions, TranslationOptions


def _uniform(x: torch.Tensor, *shape: int) -> torch.Tensor:
    """U[0, 1) per sample, broadcastable against x."""
    return torch.rand(x.shape[0], *shape, device=x.device, dtype=x.dtype)


class Color(Augmentation):
    """Random brightness, saturation and contrast per image; clamped to [-1, 1].

    With strength s and u ~ U[0, 1) drawn independently for each factor:
    brightness x + s*(u - 1/2); saturation m_c + (x - m_c)*(1 + s*(2u - 1)) with m_c the
    mean over channels; contrast m + (x - m)*(1 + s*(u - 1/2)) with m the image mean.
    s = 1 gives DiffAugment's ranges.
    """

    def __init__(self, options: ColorOptions | None = None):
        super().__init__()
        self.strength = float((options or ColorOptions()).strength)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.strength
        if s == 0:
            return x
        x = x + s * (_uniform(x, 1, 1, 1) - 0.5)  # brightness
        m = x.mean(dim=1, keepdim=True)
        x = m + (x - m) * (1 + s * (2 * _uniform(x, 1, 1, 1) - 1))  # saturation
        m = x.mean(dim=(1, 2, 3), keepdim=True)
        x = m + (x - m) * (1 + s * (_uniform(x, 1, 1, 1) - 0.5))  # contrast
        return x.clamp(-1, 1)


class Translation(Augmentation):
    """Shift each image by whole pixels, up to ``ratio`` of the side in x and y, filling
    with zeros (mid-grey). Each sample gets its own shift."""

    def __init__(self, options: TranslationOptions | None = None):
        super().__init__()
        self.ratio = float((options or TranslationOptions()).ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        mh, mw = int(h * self.ratio + 0.5), int(w * self.ratio + 0.5)
        if mh == 0 and mw == 0:
            return x
        dy = torch.randint(-mh, mh + 1, (n, 1), device=x.device)
        dx = torch.randint(-mw, mw + 1, (n, 1), device=x.device)
        padded = torch.nn.functional.pad(x, [mw, mw, mh, mh])
        # out[i, :, r, c] = x[i, :, r - dy_i, c - dx_i], zero where that falls outside
        rows = (torch.arange(h, device=x.device) + mh - dy)[:, :, None]  # (N, H, 1)
        cols = (torch.arange(w, device=x.device) + mw - dx)[:, None, :]  # (N, 1, W)
        batch = torch.arange(n, device=x.device)[:, None, None]
        return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


class Cutout(Augmentation):
    """Zero (mid-grey) a square of side ``ratio`` * image side at a random centre per
    sample; near the border the square is cut off by the edge, as in DiffAugment."""

    def __init__(self, options: CutoutOptions | None = None):
        super().__init__()
        self.ratio = float((options or CutoutOptions()).ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        sh, sw = int(h * self.ratio + 0.5), int(w * self.ratio + 0.5)
        if sh == 0 or sw == 0:
            return x
        # top-left corner in [-(s//2), side - s//2 - 1 + (s % 2)]: the centre is anywhere
        top = torch.randint(0, h + (1 - sh % 2), (n, 1, 1), device=x.device) - sh // 2
        left = torch.randint(0, w + (1 - sw % 2), (n, 1, 1), device=x.device) - sw // 2
        r = torch.arange(h, device=x.device)[None, :, None]
        c = torch.arange(w, device=x.device)[None, None, :]
        inside = (r >= top) & (r < top + sh) & (c >= left) & (c < left + sw)  # (N, H, W)
        return x * (~inside)[:, None].to(x.dtype)
