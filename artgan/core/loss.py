"""The Loss interface: the adversarial objective and its training phases.

A loss receives the networks, not only their outputs, so that penalties needing D at
other points (gradient penalties at interpolates, R1 at reals) live inside the loss.
Each phase method returns a dict of scalar tensors; the key ``"loss"`` is what the
trainer back-propagates, every other key is logged as a statistic (``d/<key>``, ...).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import torch

from .networks import Discriminator, Generator


class Phase(enum.Enum):
    """Training phases; the trainer schedules them and the loss computes them."""

    DISCRIMINATOR = "d"
    GENERATOR = "g"
    REGULARIZER = "reg"


@dataclass(frozen=True)
class OptimizerSettings:
    """An optimiser recommendation: ``name`` is ``adam`` or ``rmsprop``."""

    name: str = "adam"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0


class Loss:
    """Base class for adversarial losses.

    Class attributes a loss may override:
    - ``n_critic``: discriminator steps per generator step.
    - ``regularize_every``: run :meth:`regularizer_loss` every k steps (0 = never); it
      updates the discriminator.
    - ``optimizer``: the recommended :class:`OptimizerSettings` for both networks.
    - ``forbids_batchnorm``: the discriminator must not use BatchNorm (per-sample
      penalties such as WGAN-GP's are wrong when samples in a batch interact).
    - ``needs_double_backward``: the loss back-propagates through gradients of D
      (gradient penalties); ``--compile`` then leaves D uncompiled, since
      ``torch.compile`` does not support double backward.
    """

    n_critic: int = 1
    regularize_every: int = 0
    optimizer: OptimizerSettings = OptimizerSettings()
    forbids_batchnorm: bool = False
    needs_double_backward: bool = False

    def discriminator_loss(self, G: Generator, D: Discriminator, real: torch.Tensor,
                           fake: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Loss for the discriminator step; ``fake`` is detached from G."""
        raise NotImplementedError

    def generator_loss(self, G: Generator, D: Discriminator, real: torch.Tensor,
                       fake: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Loss for the generator step; gradients flow through ``fake`` into G.

        ``real`` is the step's real batch, for relativistic losses that compare the two.
        """
        raise NotImplementedError

    def after_discriminator_step(self, D: Discriminator) -> None:
        """Called after each discriminator update (WGAN clips D's weights here)."""

    def regularizer_loss(self, G: Generator, D: Discriminator, real: torch.Tensor,
                         y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Optional extra discriminator objective, run every ``regularize_every`` steps."""
        return {}
