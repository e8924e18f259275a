"""Building blocks of FastGAN (Liu et al., ICLR 2021, "Towards Faster and Stabilized GAN
Training for High-fidelity Few-shot Image Synthesis"), written from the paper.

Channel tables: each network's widths are the paper's multipliers of ``ngf`` / ``ndf``
per feature-map side (at width 64 they are the paper's numbers), with a floor of
:data:`MIN_WIDTH` channels so that narrow CPU-sized networks keep usable high-resolution
layers. The floor never applies at the paper's width 64 up to 1024 px.
"""

from __future__ import annotations

import torch
from torch import nn

from artgan.plugins.dcgan_nets import norm_layer

MIN_WIDTH = 8

#: Generator channels per feature-map side, as multiples of ngf (the paper's table).
G_MULTIPLIERS = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}
#: Decoder channels per output side, as multiples of ndf (the paper's fixed 128, 64, 64,
#: 32 at ndf 64).
DECODER_MULTIPLIERS = {16: 2, 32: 1, 64: 1, 128: 0.5}


def g_width(ngf: int, side: int) -> int:
    """Generator channels of the feature map of side ``side``."""
    return max(MIN_WIDTH, int(G_MULTIPLIERS[side] * ngf))


def d_width(ndf: int, side: int) -> int:
    """Channels of the discriminator's main path at side ``side``: ndf * 64 / side
    (the paper: 512 at 8x8 and 1024 after the 1x1 conv of the logit head, at ndf 64)."""
    return max(MIN_WIDTH, ndf * 64 // side)


def small_width(ndf: int, side: int) -> int:
    """Channels of the small-image path at side ``side``: half the main path's."""
    return max(MIN_WIDTH, ndf * 32 // side)


def decoder_width(ndf: int, side: int) -> int:
    return max(MIN_WIDTH, int(DECODER_MULTIPLIERS[side] * ndf))


def conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int = 0, *,
         sn: bool = True, transpose: bool = False) -> nn.Module:
    """A bias-free conv, weights ~ N(0, 0.02), optionally spectrally normalised
    (Miyato et al. 2018); the paper normalises every conv of both networks."""
    layer = (nn.ConvTranspose2d if transpose else nn.Conv2d)(in_ch, out_ch, kernel, stride,
                                                           padding, bias=False)
    nn.init.normal_(layer.weight, 0.0, 0.02)
    return nn.utils.parametrizations.spectral_norm(layer) if sn else layer


def norm(kind: str, channels: int) -> nn.Module:
    """A normalisation layer (dcgan's ``norm_layer``), scales ~ N(1, 0.02), shifts 0."""
    layer = norm_layer(kind, channels)
    if getattr(layer, "weight", None) is not None:
        nn.init.normal_(layer.weight, 1.0, 0.02)
        nn.init.zeros_(layer.bias)
    return layer


class NoiseInjection(nn.Module):
    """Adds per-pixel Gaussian noise with one learned strength (initially 0); the noise
    comes from torch's global generator, which artgan seeds and checkpoints."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        noise = torch.randn(n, 1, h, w, device=x.device, dtype=x.dtype)
        return x + self.weight * noise  # x + w * eps, eps ~ N(0, 1) per pixel


def up_block(in_ch: int, out_ch: int, *, noisy: bool, sn: bool = True,
             norm_kind: str = "batch") -> nn.Sequential:
    """Doubles the side: nearest upsample, 3x3 conv to 2*out, norm, GLU (halving the
    channels). ``noisy``: the paper's "UpBlockComp", with noise injection after each conv
    and a second conv + norm + GLU."""
    layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest"),
                               conv(in_ch, 2 * out_ch, 3, 1, 1, sn=sn)]
    if noisy:
        layers.append(NoiseInjection())
    layers += [norm(norm_kind, 2 * out_ch), nn.GLU(dim=1)]  # GLU(a, b) = a * sigmoid(b)
    if noisy:
        layers += [conv(out_ch, 2 * out_ch, 3, 1, 1, sn=sn), NoiseInjection(),
                   norm(norm_kind, 2 * out_ch), nn.GLU(dim=1)]
    return nn.Sequential(*layers)


class SkipExcitation(nn.Module):
    """Skip-layer excitation (SLE): a low-resolution map gates the channels of a
    high-resolution one, ``high * sigmoid(conv1x1(swish(conv4x4(pool4(low)))))``."""

    def __init__(self, low_ch: int, high_ch: int, *, sn: bool = True):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), conv(low_ch, high_ch, 4, sn=sn),
                                  nn.SiLU(), conv(high_ch, high_ch, 1, sn=sn), nn.Sigmoid())

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.gate(low)  # y = x_high * s(x_low), s in (0, 1) per channel


def down_block(in_ch: int, out_ch: int, norm_kind: str) -> nn.Sequential:
    """Halves the side: 4x4 stride-2 conv, norm, LeakyReLU(0.2) (the small-image path)."""
    return nn.Sequential(conv(in_ch, out_ch, 4, 2, 1), norm(norm_kind, out_ch),
                         nn.LeakyReLU(0.2))


class ResidualDown(nn.Module):
    """The paper's "DownBlockComp": the mean of a two-conv path (4x4 stride 2, then 3x3)
    and a shortcut (2x2 average pool, 1x1 conv), each with norm and LeakyReLU(0.2)."""

    def __init__(self, in_ch: int, out_ch: int, norm_kind: str):
        super().__init__()
        self.main = nn.Sequential(
            conv(in_ch, out_ch, 4, 2, 1), norm(norm_kind, out_ch), nn.LeakyReLU(0.2),
            conv(out_ch, out_ch, 3, 1, 1), norm(norm_kind, out_ch), nn.LeakyReLU(0.2))
        self.direct = nn.Sequential(nn.AvgPool2d(2), conv(in_ch, out_ch, 1),
                                    norm(norm_kind, out_ch), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.direct(x)) / 2  # (F(x) + shortcut(x)) / 2


class Decoder(nn.Module):
    """The self-supervised discriminator's small decoder: an 8x8 feature map to an image
    of side ``size`` (16-128) in [-1, 1]: up blocks without noise, 3x3 conv, tanh. (A
    non-square 8 x w map gives a size x (size w / 8) image.)"""

    def __init__(self, in_ch: int, channels: int, size: int, ndf: int, norm_kind: str):
        super().__init__()
        layers: list[nn.Module] = []
        side, ch = 8, in_ch
        while side < size:
            side *= 2
            out = decoder_width(ndf, side)
            layers.append(up_block(ch, out, noisy=False, norm_kind=norm_kind))
            ch = out
        layers += [conv(ch, channels, 3, 1, 1), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.size = size

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.main(feat)


def shrink(x: torch.Tensor, size: int) -> torch.Tensor:
    """Images (N, C, S, W) area-downsampled to height ``size`` (S a power-of-two multiple
    of it; the width by the same factor)."""
    factor = x.shape[-2] // size
    return x if factor == 1 else nn.functional.avg_pool2d(x, factor)


def quarters(x: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
    """Per image, one quarter of (N, C, H, W): ``which`` (N,) in 0-3 reads row-major
    (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right); returns (N, C, H/2, W/2)."""
    n, c, h, w = x.shape
    parts = x.reshape(n, c, 2, h // 2, 2, w // 2).permute(0, 2, 4, 1, 3, 5)
    parts = parts.reshape(n, 4, c, h // 2, w // 2)
    return parts[torch.arange(n, device=x.device), which]


def parameter_count(module: nn.Module) -> int:
    """Number of parameters of a module (trainable or not)."""
    return sum(p.numel() for p in module.parameters())
