"""Class-conditional DCGAN-style networks (Mirza & Osindero 2014; projection D of
Miyato & Koyama 2018). The number of classes comes from the data source."""

from __future__ import annotations

from dataclasses import dataclass

from artgan import hookimpl
from artgan.core.options import option
from artgan.plugins.dcgan import NORMS


@dataclass(frozen=True)
class GeneratorOptions:
    z_dim: int = option(100, "Size of the latent vector z.", min=1)
    ngf: int = option(64, "Width, as for dcgan.", min=1)
    embed_dim: int = option(50, "Size of the label embedding concatenated to z.", min=1)


@dataclass(frozen=True)
class DiscriminatorOptions:
    ndf: int = option(64, "Width, as for dcgan.", min=1)
    conditioning: str = option(
        "concat", "concat: the label as an extra input channel (Mirza & Osindero); "
                  "projection: inner product of a label embedding with D's features "
                  "(Miyato & Koyama 2018; better in their ImageNet runs, slower on our 16 px "
                  "demo test).",
        choices=("concat", "projection"))
    norm: str = option("auto", "Normalisation of hidden layers; auto: batch, or layer when "
                               "the loss forbids BatchNorm (wgan-gp).", choices=NORMS)
    spectral_norm: bool = option(False, "Spectral normalisation of every conv and embedding.")


@hookimpl
def register_generators(register):
    register("cgan", "artgan.plugins.cgan_nets:CGANGenerator",
             description="Conditional DCGAN generator: label embedding concatenated to z.",
             options=GeneratorOptions)


@hookimpl
def register_discriminators(register):
    register("cgan", "artgan.plugins.cgan_nets:CGANDiscriminator",
             description="Conditional DCGAN discriminator: label channel or projection.",
             options=DiscriminatorOptions)
