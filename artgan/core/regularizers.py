"""Regularisers the trainer applies on top of any loss.

R1 (Mescheder et al. 2018) penalises the discriminator's gradient at real images:

    R1 = gamma / 2 * E_x[ ||grad_x D(x)||^2 ]

Lazy regularisation (Karras et al. 2020, StyleGAN2): it is computed only every k steps
and multiplied by k, so its average strength per step is unchanged at a fraction of the
cost. It is a separate discriminator update. With augmentation on, D here is the
:class:`~artgan.core.augment.AugmentedDiscriminator`, so the penalty is taken at
augmented reals (the gradient is with respect to the un-augmented input, through the
differentiable augmentation).
"""

from __future__ import annotations

import torch


def r1_penalty(D, real: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """E_x[ ||grad_x D(x)||^2 ] over the batch (without gamma / 2)."""
    x = real.detach().requires_grad_(True)
    scores = D(x, y)
    (grad,) = torch.autograd.grad(scores.float().sum(), x, create_graph=True)
    return grad.float().flatten(1).square().sum(dim=1).mean()


class R1:
    """Lazy R1: ``due(step)`` every ``every`` steps; ``loss`` = every * gamma/2 * E||g||^2."""

    def __init__(self, gamma: float, every: int = 16):
        if gamma < 0 or every < 1:
            raise ValueError(f"R1 needs gamma >= 0 and every >= 1, got {gamma}, {every}")
        self.gamma, self.every = float(gamma), int(every)

    def due(self, step: int) -> bool:
        return self.gamma > 0 and step % self.every == 0

    def __call__(self, D, real: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        penalty = r1_penalty(D, real, y)
        # k * gamma/2 * E[||grad_x D(x)||^2]
        return {"loss": self.every * 0.5 * self.gamma * penalty, "penalty": penalty.detach()}
