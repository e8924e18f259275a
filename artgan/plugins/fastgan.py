"""``--gen fastgan`` / ``--disc fastgan``: FastGAN (Liu et al., ICLR 2021), a small-data
architecture for 64-1024 px: a generator with skip-layer excitation and a
self-supervised discriminator with reconstruction decoders."""

from __future__ import annotations

from dataclasses import dataclass

from artgan import hookimpl
from artgan.core.options import option
from artgan.plugins.dcgan import NORMS


@dataclass(frozen=True)
class FastGANGeneratorOptions:
    z_dim: int = option(256, "Size of the latent vector z (the paper: 256).", min=1)
    ngf: int = option(64, "Width: scales the paper's channel table (at 64: 1024 channels "
                          "at 4x4, 128 at 64x64, 8 at 1024x1024); 16-32 suit a CPU.", min=4)
    spectral_norm: bool = option(True, "Spectral normalisation of every conv, as in the "
                                       "paper.")


@dataclass(frozen=True)
class FastGANDiscriminatorOptions:
    ndf: int = option(64, "Width: scales the paper's channel table (at 64: 512 channels "
                          "at 8x8, decoders 128-32); 16-32 suit a CPU.", min=4)
    norm: str = option("auto", "Normalisation of hidden layers (the paper: batch); auto: "
                               "batch, or layer when the loss forbids BatchNorm.",
                       choices=NORMS)
    recon_weight: float = option(1.0, "Weight of the self-supervised objective on real "
                                      "images: L1 + (1 - MS-SSIM) of three decoders' "
                                      "reconstructions; 0: no decoders.", min=0.0)


@hookimpl
def register_generators(register):
    register("fastgan", "artgan.plugins.fastgan_nets:FastGANGenerator",
             options=FastGANGeneratorOptions, defaults={"disc": "fastgan", "loss": "hinge"},
             description="FastGAN generator (Liu et al. 2021): upsample + conv + GLU blocks "
                         "with noise, skip-layer excitation; 64-1024 px, 1/3/4 channels; "
                         "unconditional (labels are ignored); style mixing.")


@hookimpl
def register_discriminators(register):
    register("fastgan", "artgan.plugins.fastgan_nets:FastGANDiscriminator",
             options=FastGANDiscriminatorOptions,
             description="FastGAN self-supervised discriminator: 5x5 patch logits at two "
                         "scales; decoders reconstruct real images (L1 + MS-SSIM); "
                         "64-1024 px.")
