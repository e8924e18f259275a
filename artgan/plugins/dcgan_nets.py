"""DCGAN networks. At 64x64 RGB with the defaults they match the PyTorch DCGAN example
layer for layer (G 3,576,704 and D 2,765,568 parameters); other power-of-two resolutions
add or remove stride-2 blocks, with widths capped at 8x ngf/ndf."""

from __future__ import annotations

import math

import torch
from torch import nn

from artgan.core.networks import Discriminator, Generator
from artgan.plugins.dcgan import DiscriminatorOptions, GeneratorOptions

MIN_RESOLUTION, MAX_RESOLUTION = 16, 256


def check_resolution(resolution: int, who: str) -> int:
    """Number of stride-2 blocks between 4x4 and ``resolution`` (a power of two)."""
    if resolution < MIN_RESOLUTION or resolution > MAX_RESOLUTION or \
            resolution & (resolution - 1):
        raise ValueError(f"{who} supports power-of-two resolutions from {MIN_RESOLUTION} to "
                         f"{MAX_RESOLUTION}; got {resolution} (use --resolution 16, 32, 64, 128 "
                         f"or 256)")
    return int(math.log2(resolution)) - 2


def width(base: int, resolution: int, size: int) -> int:
    """Channels of a feature map of side ``size`` in a net for ``resolution``: base*R/(2*size)."""
    return base * min(8, resolution // (2 * size))


def dcgan_init(module: nn.Module) -> None:
    """Weights ~ N(0, 0.02); BatchNorm scale ~ N(1, 0.02), shift 0 (Radford et al.)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def generator_body(in_dim: int, ngf: int, resolution: int, channels: int,
                   who: str) -> nn.Sequential:
    """(N, in_dim, 1, 1) -> 4x4 -> ... -> (N, channels, R, R): ConvT + BatchNorm + ReLU, tanh."""
    blocks = check_resolution(resolution, who)
    size, ch = 4, width(ngf, resolution, 4)
    layers: list[nn.Module] = [nn.ConvTranspose2d(in_dim, ch, 4, 1, 0, bias=False),
                               nn.BatchNorm2d(ch), nn.ReLU(True)]
    for _ in range(blocks - 1):
        size *= 2
        out = width(ngf, resolution, size)
        layers += [nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=False),
                   nn.BatchNorm2d(out), nn.ReLU(True)]
        ch = out
    layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


RESOLUTIONS = tuple(2 ** k for k in range(4, 9))  # 16 ... 256


class DCGANGenerator(Generator):
    """z (N, z_dim) -> 4x4 -> ... -> image (N, C, R, R) in [-1, 1] via tanh.

    DCGAN is unconditional: labels in the data are ignored (``num_classes`` unused)."""

    resolutions = RESOLUTIONS

    def __init__(self, options: GeneratorOptions | None = None, *, resolution: int,
                 channels: int, num_classes: int = 0):
        options = options or GeneratorOptions()
        super().__init__(z_dim=options.z_dim, resolution=resolution, channels=channels)
        self.main = generator_body(options.z_dim, options.ngf, resolution, channels,
                                   "dcgan generator")
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.main(z[:, :, None, None])


def norm_layer(kind: str, channels: int) -> nn.Module:
    """batch | layer (over C, H, W per sample) | instance | none. ``auto`` means batch."""
    if kind in ("batch", "auto"):
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; expected batch, layer, instance or none")


def discriminator_body(channels: int, ndf: int, resolution: int, norm: str,
                       spectral: bool, who: str) -> tuple[list[nn.Module], int]:
    """Strided 4x4 convs from R down to 4x4 with LeakyReLU(0.2); no norm on the first.

    Returns the layers and the channel count of the final 4x4 feature map.
    """
    sn = nn.utils.parametrizations.spectral_norm if spectral else (lambda m: m)
    blocks = check_resolution(resolution, who)
    size = resolution // 2
    ch = width(ndf, resolution, size)
    layers: list[nn.Module] = [sn(nn.Conv2d(channels, ch, 4, 2, 1, bias=False)),
                               nn.LeakyReLU(0.2, inplace=True)]
    for _ in range(blocks - 1):
        size //= 2
        out = width(ndf, resolution, size)
        layers += [sn(nn.Conv2d(ch, out, 4, 2, 1, bias=False)), norm_layer(norm, out),
                   nn.LeakyReLU(0.2, inplace=True)]
        ch = out
    return layers, ch


class DCGANDiscriminator(Discriminator):
    """image (N, C, R, R) -> ... -> 4x4 -> logit (N,). No BatchNorm on the first layer."""

    resolutions = RESOLUTIONS

    def __init__(self, options: DiscriminatorOptions | None = None, *, resolution: int,
                 channels: int, num_classes: int = 0):
        options = options or DiscriminatorOptions(norm="batch")
        super().__init__(resolution=resolution, channels=channels)
        layers, ch = discriminator_body(channels, options.ndf, resolution, options.norm,
                                        options.spectral_norm, "dcgan discriminator")
        self.main = nn.Sequential(*layers, nn.Conv2d(ch, 1, 4, 1, 0, bias=False))
        self.apply(dcgan_init)
        if options.spectral_norm:
            self.main[-1] = nn.utils.parametrizations.spectral_norm(self.main[-1])

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.main(x).flatten()
