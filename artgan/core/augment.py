"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for the discriminator.

On a small folder the discriminator memorises the real images and the generator
collapses. DiffAugment shows D only randomly transformed images, real and generated
alike, with transforms that are differentiable so that G still receives gradients
through them. The trainer hands the loss an :class:`AugmentedDiscriminator` instead of
D, so every place a loss calls D (the D step, the G step, and penalties such as WGAN-GP
and R1) sees augmented images and the :class:`~artgan.core.loss.Loss` interface stays
the same.

Each call draws fresh random parameters per sample: in the D step the real and the
generated batch get independent draws (as in the DiffAugment reference code), which
is what makes the augmentation a property of D's input distribution rather than a
paired transform. Augmentations themselves are plugins (``register_augmentations``);
this module only composes them.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class Augmentation(nn.Module):
    """Base class: ``forward(x)`` maps (N, C, H, W) in [-1, 1] to the same shape.

    Implementations must be differentiable in ``x``, draw random parameters per sample
    from torch's global generator (so runs stay reproducible and resumable) and be the
    identity when their strength is 0.
    """

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = super().__call__(x)
        if out.shape != x.shape:
            raise ValueError(f"augmentation {type(self).__name__} returned {tuple(out.shape)}, "
                             f"expected {tuple(x.shape)}")
        return out


class AugmentPipeline(nn.Module):
    """Apply augmentations in order: ``color,translation,cutout`` as in DiffAugment."""

    def __init__(self, augmentations: Sequence[nn.Module], names: Sequence[str] = ()):
        super().__init__()
        self.augmentations = nn.ModuleList(augmentations)
        self.names = tuple(names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for augment in self.augmentations:
            x = augment(x)
        return x


def random_mirror(x: torch.Tensor) -> torch.Tensor:
    """Flip each image left-right with probability 1/2 (data augmentation of the reals)."""
    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    return torch.where(flip, x.flip(3), x)


class AugmentedDiscriminator(nn.Module):
    """``D(augment(x), y)``: what the loss sees as D when augmentation is on.

    The wrapped ``D`` stays the trainer's ``self.D`` (optimiser, checkpoints, weight
    clipping); this wrapper has no parameters of its own beyond D's.
    """

    def __init__(self, D: nn.Module, augment: nn.Module):
        super().__init__()
        self.D, self.augment = D, augment

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.D(self.augment(x), y)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("D"), name)  # conditional, num_classes, ...
