"""Regularisers any loss can use, as discriminator phases: R1 at real images, R2 at
generated ones (Mescheder et al. 2018)::

    R1 = gamma / 2 * E_x[ ||grad_x D(x)||^2 ]            x real
    R2 = gamma / 2 * E_z[ ||grad_x D(x)||^2 ]            x = G(z), detached

Lazy regularisation (Karras et al. 2020, StyleGAN2): each is computed only every k steps
and multiplied by k, so its average strength per step is unchanged at a fraction of the
cost. Each is a separate discriminator update. With augmentation on, D here is the
augmented view, so the penalty is taken at augmented images (the gradient is with
respect to the un-augmented input, through the differentiable augmentation).
"""

from __future__ import annotations

import torch

from .loss import DISCRIMINATOR, Phase, PhaseInputs


def per_image_score(scores: torch.Tensor) -> torch.Tensor:
    """D's score of each image: (N,) scores as they are; patch scores (N, P) (PatchGAN,
    FastGAN) averaged over the patches, so that a penalty on its gradient means the same
    for any number of patches P (the sum would scale it with P)."""
    return scores.reshape(scores.shape[0], -1).float().mean(dim=1)


def gradient_penalty(D, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """E_x[ ||grad_x D(x)||^2 ] over the batch (without gamma / 2); D(x) is the image's
    score, the mean over its patches for a patch discriminator (:func:`per_image_score`)."""
    x = x.detach().requires_grad_(True)
    scores = per_image_score(D(x, y))
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return grad.float().flatten(1).square().sum(dim=1).mean()


def r1_penalty(D, real: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """R1's E_x[ ||grad_x D(x)||^2 ] at the real images."""
    return gradient_penalty(D, real, y)


class GradientPenalty:
    """A lazy gradient penalty at the real (R1) or generated (R2) images."""

    def __init__(self, name: str, gamma: float, every: int = 16):
        if name not in ("r1", "r2"):
            raise ValueError(f"gradient penalties are r1 (at real images) or r2 (at "
                             f"generated ones), got {name!r}")
        if gamma < 0 or every < 1:
            raise ValueError(f"{name} needs gamma >= 0 and every >= 1, got {gamma}, {every}")
        self.name, self.gamma, self.every = name, float(gamma), int(every)

    def objective(self, inputs: PhaseInputs) -> dict[str, torch.Tensor]:
        x = inputs.real if self.name == "r1" else inputs.fake.detach()
        penalty = gradient_penalty(inputs.D, x, inputs.y)
        # k * gamma/2 * E[||grad_x D(x)||^2]
        return {"loss": self.every * 0.5 * self.gamma * penalty, "penalty": penalty.detach()}

    def phase(self) -> Phase:
        """The discriminator phase: every ``every`` steps, from step 0."""
        return Phase(self.name, DISCRIMINATOR, self.objective, every=self.every)
