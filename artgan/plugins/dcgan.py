"""The DCGAN generator and discriminator (Radford et al. 2015), at any power-of-two size."""

from __future__ import annotations

from dataclasses import dataclass

from artgan import hookimpl
from artgan.core.options import option


@dataclass(frozen=True)
class GeneratorOptions:
    z_dim: int = option(100, "Size of the latent vector z.", min=1)
    ngf: int = option(64, "Width: channels of the last hidden layer (doubling towards 4x4, "
                          "capped at 8x).", min=1)


NORMS = ("auto", "batch", "layer", "instance", "none")


@dataclass(frozen=True)
class DiscriminatorOptions:
    ndf: int = option(64, "Width: channels of the first layer (doubling towards 4x4, "
                          "capped at 8x).", min=1)
    norm: str = option("auto", "Normalisation of hidden layers; auto: batch, or layer when "
                               "the loss forbids BatchNorm (wgan-gp).", choices=NORMS)
    spectral_norm: bool = option(False, "Spectral normalisation of every conv "
                                        "(Miyato et al. 2018).")


@hookimpl
def register_generators(register):
    register("dcgan", "artgan.plugins.dcgan_nets:DCGANGenerator",
             description="DCGAN generator: transposed convs, BatchNorm + ReLU, tanh; 16-256 px.",
             options=GeneratorOptions)


@hookimpl
def register_discriminators(register):
    register("dcgan", "artgan.plugins.dcgan_nets:DCGANDiscriminator",
             description="DCGAN discriminator: strided convs, BatchNorm + LeakyReLU(0.2).",
             options=DiscriminatorOptions)
