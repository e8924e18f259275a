"""``--gen unet``: pix2pix's U-Net generator (Isola et al. 2017), image to image."""

from __future__ import annotations

from dataclasses import dataclass

from artgan import hookimpl
from artgan.core.options import option

#: How the holes of the U-Net's input are filled before it sees them (plugins/unet_fill.py).
FILLS = ("none", "mean", "pushpull", "biharmonic")

UNET_NORMS = ("batch", "instance", "none")


@dataclass(frozen=True)
class UNetOptions:
    ngf: int = option(64, "Width: channels of the first encoder layer (doubling per level, "
                          "capped at 8x: C64-C128-C256-C512-C512...).", min=1)
    depth: int = option(0, "Stride-2 levels (2-8); 0: auto, as many as the resolution "
                           "allows up to 8 (8 at 256 px, 4 at 16 px). Images must be a "
                           "multiple of 2^depth pixels; inference pads to it.", min=0, max=8)
    norm: str = option("batch", "Normalisation of hidden layers (pix2pix: batch; instance "
                                "does not depend on the batch).", choices=UNET_NORMS)
    dropout: float = option(0.5, "Dropout in the decoder layers just above the innermost "
                                 "(levels 4 to depth-2: 3 layers at depth 8), pix2pix's noise; "
                                 "0: off.", min=0.0, max=0.9)
    fill: str = option("none", "Pre-fill of the masked pixels of the input before the "
                               "network sees them: none (as damaged), mean (the image's "
                               "mean colour), pushpull (a smooth pyramid fill from the "
                               "surroundings, cheap), biharmonic (scikit-image, slow). Known "
                               "pixels are never changed.", choices=FILLS)
    residual: bool = option(False, "Residual output: inside the mask the fill plus the "
                                   "network's correction, 2 tanh(h), outside it the input "
                                   "exactly (repairs local damage only; the correction "
                                   "starts at 0, so an untrained net returns the fill).")


@hookimpl
def register_generators(register):
    register("unet", "artgan.plugins.unet_nets:UNetGenerator",
             description="pix2pix U-Net with skip connections (image to image, no latent); "
                         "restores damaged images from --data damage:SPEC.",
             options=UNetOptions, defaults={"disc": "patchgan", "loss": "pix2pix", "data": "damage:demo"})
