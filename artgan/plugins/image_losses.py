"""Losses for image-to-image models: ``--loss pix2pix``."""

from __future__ import annotations

from dataclasses import dataclass

from artgan import hookimpl
from artgan.core.options import option


@dataclass(frozen=True)
class Pix2PixOptions:
    l1_weight: float = option(100.0, "Weight lambda of the L1 distance between G's output "
                                     "and the target image (pix2pix: 100).", min=0.0)
    hole_weight: float = option(1.0, "Weight of the L1 inside the damage mask relative to "
                                     "the known pixels (restorers: the input's last channel "
                                     "> 0 marks the damage); L1 = mean(w |G(x) - y|), w = "
                                     "hole_weight in the mask, 1 elsewhere. 1: plain L1.",
                                min=0.0)


@hookimpl
def register_losses(register):
    register("pix2pix", "artgan.plugins.image_losses_impl:Pix2PixLoss",
             description="pix2pix (Isola et al. 2017): non-saturating GAN on (patch) scores "
                         "+ l1_weight * L1 to the target; D loss halved; Adam(2e-4, 0.5, 0.999).",
             options=Pix2PixOptions)
