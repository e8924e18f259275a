"""Built-in adversarial losses: gan, hinge, lsgan, wgan, wgan-gp."""

from __future__ import annotations

from dataclasses import dataclass

from artgan import hookimpl
from artgan.core.options import option


@dataclass(frozen=True)
class GANOptions:
    label_smoothing: float = option(
        0.0, "One-sided label smoothing: real target 1 - s (Salimans et al. 2016).",
        min=0.0, max=0.5)


@dataclass(frozen=True)
class WGANOptions:
    clip: float = option(0.01, "Critic weights are clipped to [-clip, clip].", min=0.0)
    n_critic: int = option(5, "Critic updates per generator update.", min=1)


@dataclass(frozen=True)
class WGANGPOptions:
    gp_weight: float = option(10.0, "Gradient-penalty weight lambda.", min=0.0)
    n_critic: int = option(5, "Critic updates per generator update.", min=1)


_IMPL = "artgan.plugins.adversarial"


@hookimpl
def register_losses(register):
    register("gan", f"{_IMPL}:NonSaturatingGAN",
             description="Non-saturating GAN loss with logits (BCE); Adam(2e-4, 0.5, 0.999).",
             options=GANOptions, aliases=("bce", "non-saturating"))
    register("hinge", f"{_IMPL}:Hinge",
             description="Hinge loss (SN-GAN, SAGAN); Adam(2e-4, 0, 0.9).")
    register("lsgan", f"{_IMPL}:LeastSquares",
             description="Least-squares GAN (Mao et al. 2017); Adam(2e-4, 0.5, 0.999).")
    register("wgan", f"{_IMPL}:Wasserstein",
             description="Wasserstein GAN with weight clipping; n_critic 5, RMSprop(5e-5).",
             options=WGANOptions)
    register("wgan-gp", f"{_IMPL}:WassersteinGP",
             description="WGAN with gradient penalty; n_critic 5, Adam(1e-4, 0, 0.9); "
                         "critic without BatchNorm.",
             options=WGANGPOptions)
