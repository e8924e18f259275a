"""What a loss calls "D": the discriminator behind the step's augmentation and input image.

The trainer hands losses a :class:`DiscriminatorView` instead of the discriminator:

- with augmentation on (DiffAugment), every image D sees is augmented first, real and
  generated, in every phase and inside penalties, so the :class:`~artgan.core.loss.Loss`
  interface stays the same;
- for an image-conditioned discriminator (pix2pix's PatchGAN) the step's input images
  are bound, so ``D(x, y)`` judges the pair (input, x);
- in the main discriminator phase the trainer names the real batch (:meth:`tap`): D's
  scores on exactly that tensor go to the observers (adaptive augmentation), and the
  discriminator's own objective on real images (:meth:`Discriminator.forward_real`) is
  computed in the same forward and kept in :attr:`extra`.

The view has no parameters of its own beyond D's; the trained module stays the
trainer's ``D`` (optimiser, checkpoints, weight clipping).
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
from torch import nn


class DiscriminatorView(nn.Module):
    """``D(augment(x), y, condition)`` with a tap on the real batch (see module doc)."""

    def __init__(self, D: nn.Module, augment: nn.Module | None = None):
        super().__init__()
        self.D, self.augment = D, augment
        self.condition: torch.Tensor | None = None  # the step's input images, if any
        self.observers: list[Callable[[torch.Tensor], None]] = []
        self.extra: dict[str, torch.Tensor] | None = None
        self._tapped: torch.Tensor | None = None

    @contextlib.contextmanager
    def tap(self, real: torch.Tensor):
        """Within: calls on exactly the tensor ``real`` (not on copies of it, such as a
        penalty's points) are observed, and the first one also computes D's own objective
        on real images into :attr:`extra`."""
        self._tapped, self.extra = real, None
        try:
            yield self
        finally:
            self._tapped = None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        seen = x if self.augment is None else self.augment(x)
        bound = () if self.condition is None else (self.condition,)
        if x is not self._tapped:
            return self.D(seen, y, *bound)
        if self.extra is None and hasattr(self.D, "score_real"):
            scores, self.extra = self.D.score_real(seen, y, *bound)
        else:
            scores = self.D(seen, y, *bound)
        for observe in self.observers:
            observe(scores)
        return scores

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("D"), name)  # conditional, d_a, ...
