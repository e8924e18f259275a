"""Built-in adversarial losses."""

from __future__ import annotations

from dataclasses import dataclass

from artgan import hookimpl
from artgan.core.options import option


@dataclass(frozen=True)
class GANOptions:
    label_smoothing: float = option(
        0.0, "One-sided label smoothing: real target 1 - s (Salimans et al. 2016).",
        min=0.0, max=0.5)


@hookimpl
def register_losses(register):
    register("gan", "artgan.plugins.adversarial:NonSaturatingGAN",
             description="Non-saturating GAN loss with logits (BCE); Adam(2e-4, 0.5, 0.999).",
             options=GANOptions, aliases=("bce", "non-saturating"))
