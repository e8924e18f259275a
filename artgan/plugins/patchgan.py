"""``--disc patchgan``: the 70x70 PatchGAN of pix2pix and CycleGAN (Isola et al. 2017)."""

from __future__ import annotations

from dataclasses import dataclass

from artgan import hookimpl
from artgan.core.options import option
from artgan.plugins.dcgan import NORMS


@dataclass(frozen=True)
class PatchGANOptions:
    ndf: int = option(64, "Width: channels of the first layer (doubling, capped at 8x).",
                      min=1)
    n_layers: int = option(3, "Stride-2 layers; 3 gives each score a 70x70 pixel receptive "
                              "field. Lowered automatically for images too small for it.",
                           min=1, max=6)
    norm: str = option("instance", "Normalisation of hidden layers (pix2pix uses batch, "
                                   "CycleGAN instance); auto: batch, or layer when the loss "
                                   "forbids BatchNorm.", choices=NORMS)
    spectral_norm: bool = option(False, "Spectral normalisation of every conv.")


@hookimpl
def register_discriminators(register):
    register("patchgan", "artgan.plugins.patchgan_nets:PatchGANDiscriminator",
             description="PatchGAN (pix2pix, CycleGAN): a score per 70x70 patch; judges "
                         "(input image, output) pairs for image-to-image models.",
             options=PatchGANOptions)
