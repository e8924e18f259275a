"""Generator and Discriminator interfaces, with shape checks at their boundaries.

Subclasses implement ``forward``; calling the module goes through ``__call__`` here, which
checks inputs and outputs and names the component in any error, so a plugin's bug reads
"generator 'dcgan' returned shape ..." instead of a bare traceback deep in the trainer.
"""

from __future__ import annotations

import torch
from torch import nn


class ComponentShapeError(ValueError):
    """A network received or produced a tensor of the wrong shape or dtype."""


class _Checked(nn.Module):
    kind = "component"

    def __init__(self, *, resolution: int, channels: int, num_classes: int = 0):
        super().__init__()
        self.resolution = int(resolution)
        self.channels = int(channels)
        self.num_classes = int(num_classes)
        self.component_name = type(self).__name__

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.resolution, self.resolution)

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def _fail(self, message: str) -> None:
        raise ComponentShapeError(f"{self.kind} {self.component_name!r}: {message}")

    def _check_labels(self, y: torch.Tensor | None, n: int) -> None:
        if y is None:
            if self.conditional:
                self._fail(f"is conditional ({self.num_classes} classes) but got no labels")
            return
        if y.shape != (n,) or y.dtype not in (torch.int64, torch.int32):
            self._fail(f"expected labels of shape ({n},) and an integer dtype, "
                       f"got {tuple(y.shape)} {y.dtype}")


class Generator(_Checked):
    """Maps latent vectors ``z`` of shape (N, z_dim) (and labels y) to images in [-1, 1].

    Subclasses call ``super().__init__(z_dim=..., resolution=..., channels=...,
    num_classes=...)`` and implement ``forward(z, y=None)`` returning (N, C, H, W).
    """

    kind = "generator"

    def __init__(self, *, z_dim: int, resolution: int, channels: int, num_classes: int = 0):
        super().__init__(resolution=resolution, channels=channels, num_classes=num_classes)
        self.z_dim = int(z_dim)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return self.image_shape

    def sample_z(self, n: int, *, device: torch.device | str | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` latent vectors from N(0, I)."""
        return torch.randn(n, self.z_dim, device=device, generator=generator)

    def __call__(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            self._fail(f"expected z of shape (N, {self.z_dim}), got {tuple(z.shape)}")
        self._check_labels(y, z.shape[0])
        out = super().__call__(z, y)
        expected = (z.shape[0], *self.output_shape)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            self._fail(f"returned {shape}, expected {expected}")
        if not out.is_floating_point():
            self._fail(f"returned dtype {out.dtype}, expected a floating-point tensor")
        return out


class Discriminator(_Checked):
    """Maps images (N, C, H, W) (and labels y) to raw scores (logits) of shape (N,).

    ``forward`` may return (N,) or (N, 1); callers always receive (N,).
    """

    kind = "discriminator"

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            self._fail(f"expected images of shape (N, {', '.join(map(str, self.image_shape))}), "
                       f"got {tuple(x.shape)}")
        self._check_labels(y, x.shape[0])
        out = super().__call__(x, y)
        n = x.shape[0]
        if not isinstance(out, torch.Tensor) or tuple(out.shape) not in ((n,), (n, 1)):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            self._fail(f"returned {shape}, expected ({n},) or ({n}, 1)")
        return out.reshape(n)
