"""The PatchGAN discriminator (Isola et al. 2017, "Image-to-Image Translation with
Conditional Adversarial Networks"): a fully convolutional network whose every output is
the score of one overlapping patch of the input (70x70 pixels with 3 stride-2 layers).
For an image-conditioned model it judges the pair: the input image (condition) is
concatenated to the image along the channels, as in pix2pix.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from artgan.core.networks import Discriminator
from artgan.plugins.dcgan_nets import norm_layer


def usable_layers(wanted: int, resolution: int) -> int:
    """Stride-2 layers that leave at least a 3x3 map before the two stride-1 convs
    (each 4x4 with padding 1 shrinks a side by 1), so every image gets >= 1 score."""
    return max(1, min(wanted, int(math.log2(resolution / 3))))


def init_normal(module: nn.Module) -> None:
    """Conv weights ~ N(0, 0.02), biases 0; norm scales ~ N(1, 0.02) (pix2pix's init)."""
    if isinstance(module, nn.Conv2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)) and \
            module.weight is not None:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class PatchGANDiscriminator(Discriminator):
    """C(64)-C(128)-C(256)-C(512, stride 1)-conv(1): 4x4 convs, LeakyReLU(0.2), no norm on
    the first layer; output (N, 1, h, w) patch scores (30x30 at 256 px)."""

    patch_scores = True

    def __init__(self, options, *, resolution: int, channels: int, num_classes: int = 0,
                 condition_channels: int = 0):
        super().__init__(resolution=resolution, channels=channels,
                         condition_channels=condition_channels)
        sn = nn.utils.parametrizations.spectral_norm if options.spectral_norm else (lambda m: m)
        norm = "batch" if options.norm == "auto" else options.norm
        self.n_layers = usable_layers(options.n_layers, resolution)
        ndf = options.ndf
        layers: list[nn.Module] = [sn(nn.Conv2d(channels + condition_channels, ndf, 4, 2, 1)),
                                   nn.LeakyReLU(0.2, True)]
        ch = ndf
        for n in range(1, self.n_layers + 1):
            out = ndf * min(2 ** n, 8)
            stride = 2 if n < self.n_layers else 1  # the last hidden layer keeps the size
            layers += [sn(nn.Conv2d(ch, out, 4, stride, 1, bias=norm == "none")),
                       norm_layer(norm, out), nn.LeakyReLU(0.2, True)]
            ch = out
        layers.append(sn(nn.Conv2d(ch, 1, 4, 1, 1)))
        self.main = nn.Sequential(*layers)
        self.apply(init_normal)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None,
                condition: torch.Tensor | None = None) -> torch.Tensor:
        if condition is not None:
            x = torch.cat([condition, x], dim=1)  # judge the (input, output) pair
        return self.main(x)
