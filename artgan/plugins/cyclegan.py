"""``--gen cyclegan``, ``--disc cyclegan``, ``--loss cyclegan``: unpaired image-to-image
translation (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks").

Two ResNet generators (``a2b``: domain A -> B, ``b2a``: B -> A) are trained together as
one artgan generator, two 70x70 PatchGANs (``d_b`` judges domain B, ``d_a`` domain A) as
one discriminator, with least-squares adversarial terms, cycle consistency and identity
losses and a history of generated images per discriminator. Train on two folders with
``--data unpaired:folder:./photos,folder:./monet`` (A first), then restyle any photo with
``artgan translate``. Each piece is an ordinary plugin: a third-party translation model
registers a generator with the same contract (see
:class:`artgan.plugins.cyclegan_nets.CycleGANGenerator`) and reuses the rest.

This hook module does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from artgan import hookimpl
from artgan.core.options import option

DISC_NORMS = ("instance", "batch", "layer", "none")


@dataclass(frozen=True)
class GeneratorOptions:
    ngf: int = option(64, "Width: channels of the first layer (128 and 256 after the two "
                          "stride-2 convs).", min=1)
    blocks: int = option(0, "Residual blocks at the bottleneck (0: auto, 9 at 256 px and "
                            "above, 6 below, as in CycleGAN).", min=0, max=64)


@dataclass(frozen=True)
class DiscriminatorOptions:
    ndf: int = option(64, "Width of each PatchGAN: channels of the first layer (doubling, "
                          "capped at 8x).", min=1)
    n_layers: int = option(3, "Stride-2 layers of each PatchGAN; 3 gives each score a 70x70 "
                              "pixel receptive field. Lowered for images too small for it.",
                           min=1, max=6)
    norm: str = option("instance", "Normalisation of hidden layers (CycleGAN: instance).",
                       choices=DISC_NORMS)
    spectral_norm: bool = option(False, "Spectral normalisation of every conv.")


@dataclass(frozen=True)
class LossOptions:
    cycle: float = option(10.0, "Weight lambda of the cycle-consistency losses "
                                "||b2a(a2b(A)) - A||_1 and ||a2b(b2a(B)) - B||_1.", min=0.0)
    identity: float = option(0.5, "Weight of the identity losses ||a2b(B) - B||_1 and "
                                  "||b2a(A) - A||_1, as a fraction of lambda (0: off).",
                             min=0.0)
    pool_size: int = option(50, "Generated images kept per discriminator; once full, each "
                                "D step sees a stored image instead of the new one with "
                                "probability 0.5 (0: no history).", min=0, max=10_000)


@hookimpl
def register_generators(register):
    register("cyclegan", "artgan.plugins.cyclegan_nets:CycleGANGenerator",
             description="CycleGAN: two ResNet generators (A->B and B->A, instance norm, "
                         "reflection padding); train on --data unpaired:..., apply with "
                         "artgan translate.",
             options=GeneratorOptions, defaults={"disc": "cyclegan", "loss": "cyclegan", "data": "unpaired"})


@hookimpl
def register_discriminators(register):
    register("cyclegan", "artgan.plugins.cyclegan_nets:CycleGANDiscriminator",
             description="Two 70x70 PatchGANs, one per domain, for --gen cyclegan.",
             options=DiscriminatorOptions)


@hookimpl
def register_losses(register):
    register("cyclegan", "artgan.plugins.cyclegan_loss:CycleGANLoss",
             description="CycleGAN: least-squares adversarial terms both ways, cycle "
                         "consistency (x10), identity (x5) and a 50-image history per "
                         "discriminator; constant then linearly decaying learning rate.",
             options=LossOptions)
