"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for the discriminator.

On a small folder the discriminator memorises the real images and the generator
collapses. DiffAugment shows D only randomly transformed images, real and generated
alike, with transforms that are differentiable so that G still receives gradients
through them. The trainer hands the loss a
:class:`~artgan.core.view.DiscriminatorView` instead of D, so every place a loss calls D
(the D step, the G step, and penalties such as WGAN-GP and R1) sees augmented images and
the :class:`~artgan.core.loss.Loss` interface stays the same.

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
    """Apply augmentations in order: ``color,translation,cutout`` as in DiffAugment.

    By default every augmentation transforms every image. Under :class:`AdaptiveStrength`
    (``adaptive`` set) each one transforms each image with probability ``p`` instead, a
    0-dim tensor on the device, so that changing it needs no host sync.
    """

    def __init__(self, augmentations: Sequence[nn.Module], names: Sequence[str] = ()):
        super().__init__()
        self.augmentations = nn.ModuleList(augmentations)
        self.names = tuple(names)
        self.adaptive = False
        self.register_buffer("p", torch.tensor(1.0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for augment in self.augmentations:
            if self.adaptive:
                apply = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < self.p
                x = torch.where(apply, augment(x), x)
            else:
                x = augment(x)
        return x


class AdaptiveStrength:
    """Adaptive augmentation strength (ADA, Karras et al. 2020) for an :class:`AugmentPipeline`.

    D overfits when it grows confident on the real images. ADA measures that with
    r_t = E[sign(D(x_real))] over the D steps since the last adjustment and, every
    ``interval`` D steps, moves the augmentation probability
    p <- clip(p + sign(r_t - target) * images / ramp_images, 0, 1),
    where ``images`` is the number of real images seen since the last adjustment: p can
    go from 0 to 1 in ``ramp_images`` images. It starts at p = 0 (no augmentation).
    Under torchrun r_t is averaged over the ranks, so p stays the same on all of them.
    """

    def __init__(self, pipeline: AugmentPipeline, target: float = 0.6,
                 ramp_images: int = 100_000, interval: int = 4):
        if not isinstance(getattr(pipeline, "p", None), torch.Tensor):
            raise TypeError(f"adaptive augmentation needs an AugmentPipeline (a module with a "
                            f"tensor probability p), got {type(pipeline).__name__}")
        self.pipeline, self.target = pipeline, float(target)
        self.ramp_images, self.interval = int(ramp_images), int(interval)
        pipeline.adaptive = True
        pipeline.p.fill_(0.0)
        self._signs = torch.zeros((), device=pipeline.p.device)
        self._scores = 0  # real scores observed since the last adjustment
        self._steps = 0
        self._images = 0

    @property
    def p(self) -> torch.Tensor:
        return self.pipeline.p

    def observe(self, real_scores: torch.Tensor) -> None:
        """Add D's raw scores on a batch of real images (from the D step)."""
        scores = real_scores.detach().float()
        self._signs = self._signs.to(scores.device) + scores.sign().sum()
        self._scores += scores.numel()

    def step(self, images: int, mean=lambda t: t) -> dict[str, torch.Tensor] | None:
        """After each D step on ``images`` real images: adjust p when due and return the
        stats ``{"p", "r_t"}``, else None. ``mean`` averages a tensor over the ranks."""
        self._steps += 1
        self._images += images
        if self._steps % self.interval or not self._scores:
            return None
        r_t = mean(self._signs / self._scores)
        p = self.pipeline.p
        p.copy_((p + torch.sign(r_t - self.target) * (self._images / self.ramp_images)).clamp(0, 1))
        self._signs, self._scores, self._images = torch.zeros_like(self._signs), 0, 0
        return {"p": p.detach().clone(), "r_t": r_t}

    def state_dict(self) -> dict:
        return {"p": float(self.pipeline.p), "signs": float(self._signs), "scores": self._scores,
                "steps": self._steps, "images": self._images}

    def load_state_dict(self, state: dict) -> None:
        self.pipeline.p.fill_(float(state["p"]))
        self._signs = torch.tensor(float(state["signs"]), device=self.pipeline.p.device)
        self._scores, self._steps = int(state["scores"]), int(state["steps"])
        self._images = int(state["images"])


def random_mirror(x: torch.Tensor) -> torch.Tensor:
    """Flip each image left-right with probability 1/2 (data augmentation of the reals)."""
    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    return torch.where(flip, x.flip(3), x)
