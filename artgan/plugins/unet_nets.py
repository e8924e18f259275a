"""The U-Net generator of pix2pix (Isola et al. 2017), for image-to-image models.

An encoder of 4x4 stride-2 convs (C64-C128-C256-C512-C512-...; LeakyReLU 0.2, no norm on
the first layer nor on the innermost) and a mirrored decoder of 4x4 stride-2 transposed
convs (ReLU, norm, tanh at the end) whose every layer also sees the encoder feature map
of the same size (skip connections), so fine detail of the input reaches the output
directly. As pix2pix, the decoder layers just above the innermost use dropout 0.5 as the
generator's noise: there is no latent (``z_dim = 0``).

Two options make it a better inpainter (``-o gen.fill=pushpull -o gen.residual=true``):
the masked pixels of the input can be pre-filled from their surroundings
(:mod:`artgan.plugins.unet_fill`), and the output can be residual: inside the mask the
fill plus a learned correction, outside it the input itself, exactly.

The network is fully convolutional: any height and width divisible by
``size_multiple = 2 ** depth`` work, whatever ``resolution`` it was built for.
"""

from __future__ import annotations

import torch
from torch import nn

from artgan.core.networks import Generator
from artgan.plugins.dcgan_nets import dcgan_init, norm_layer
from artgan.plugins.unet_fill import fill_holes

MAX_DEPTH = 8
#: Decoder layers from this level up to depth - 2 have dropout (pix2pix: num_downs - 5).
FIRST_DROPOUT_LEVEL = 4


def unet_depth(wanted: int, resolution: int) -> int:
    """Stride-2 levels: ``wanted`` (checked), or with 0 the most that divide
    ``resolution`` evenly, up to :data:`MAX_DEPTH`."""
    if wanted == 0:
        depth = 0
        while depth < MAX_DEPTH and resolution % 2 ** (depth + 1) == 0:
            depth += 1
        if depth < 2:
            raise ValueError(f"the U-Net needs a resolution divisible by 4 (two stride-2 "
                             f"levels); got --resolution {resolution}")
        return depth
    if not 2 <= wanted <= MAX_DEPTH:
        raise ValueError(f"-o gen.depth must be 0 (auto) or 2 to {MAX_DEPTH}; got {wanted}")
    if resolution % 2 ** wanted:
        raise ValueError(f"-o gen.depth={wanted} needs a resolution divisible by "
                         f"{2 ** wanted}; got --resolution {resolution} (-o gen.depth=0 "
                         f"uses the most levels that fit)")
    return wanted


class UNetGenerator(Generator):
    """condition (N, K, H, W) -> image (N, C, H, W) in [-1, 1]; H, W divisible by
    ``size_multiple``. Built as ``UNetGenerator(options, *, resolution, channels,
    num_classes=0, condition_channels)``; labels are not used (``num_classes`` is
    accepted and ignored)."""

    @classmethod
    def condition_channels_for(cls, channels: int) -> int:
        """The damaged image and its mask."""
        return channels + 1

    def __init__(self, options, *, resolution: int, channels: int, num_classes: int = 0,
                 condition_channels: int = 0):
        if condition_channels <= 0:
            raise ValueError("the U-Net is image to image: it needs input images (a "
                             "damaged image and its mask) from the data; use --data "
                             "damage:SPEC, for example --data damage:folder:./paintings")
        super().__init__(z_dim=0, resolution=resolution, channels=channels,
                         condition_channels=condition_channels)
        self.fill, self.residual = options.fill, bool(options.residual)
        self.keeps_unmasked = self.residual  # the core's contract: output = input off the mask
        if (self.fill != "none" or self.residual) and condition_channels != channels + 1:
            raise ValueError(f"-o gen.fill and -o gen.residual need a restorer's input (the "
                             f"image's {channels} channels and a mask channel, "
                             f"{channels + 1} in all); this data gives "
                             f"{condition_channels}")
        self.depth = unet_depth(options.depth, self.resolution)
        #: Height and width must be multiples of this (inference pads to it).
        self.size_multiple = 2 ** self.depth
        norm = options.norm
        bias = norm != "batch"  # a conv followed by BatchNorm needs no bias (pix2pix)
        widths = [options.ngf * min(2 ** k, 8) for k in range(self.depth)]
        inner = self.depth - 1
        downs, ups = [], []
        for k, width in enumerate(widths):
            if k == 0:
                downs.append(nn.Conv2d(condition_channels, width, 4, 2, 1, bias=bias))
                ups.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(2 * width, channels,
                                                                       4, 2, 1), nn.Tanh()))
                continue
            down = [nn.LeakyReLU(0.2), nn.Conv2d(widths[k - 1], width, 4, 2, 1, bias=bias)]
            if k < inner:
                down.append(norm_layer(norm, width))
            downs.append(nn.Sequential(*down))
            up = [nn.ReLU(), nn.ConvTranspose2d(width if k == inner else 2 * width,
                                                widths[k - 1], 4, 2, 1, bias=bias),
                  norm_layer(norm, widths[k - 1])]
            if options.dropout > 0 and FIRST_DROPOUT_LEVEL <= k < inner:
                up.append(nn.Dropout(options.dropout))
            ups.append(nn.Sequential(*up))
        self.downs, self.ups = nn.ModuleList(downs), nn.ModuleList(ups)
        self.apply(dcgan_init)  # N(0, 0.02) weights, BatchNorm scales N(1, 0.02): pix2pix's init
        if self.residual:  # the correction starts at 0: an untrained net returns the fill
            nn.init.zeros_(self.ups[0][1].weight)
            nn.init.zeros_(self.ups[0][1].bias)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None,
                condition: torch.Tensor | None = None) -> torch.Tensor:
        h, w = condition.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f"the U-Net (depth {self.depth}) needs sides divisible by "
                             f"{self.size_multiple}, got {h}x{w}; pad the image "
                             f"(artgan.core.tiles.apply_tiled does)")
        image, damaged = condition, None
        if self.fill != "none" or self.residual:
            c = self.channels
            image, damaged = condition[:, :c], condition[:, c:c + 1] > 0  # mask: +1 damaged
            filled = fill_holes(self.fill, image, damaged)
            condition = torch.cat([filled, condition[:, c:]], dim=1)
        skips, x = [], condition
        for down in self.downs:
            x = down(x)
            skips.append(x)
        x = self.ups[-1](x)  # innermost: from the bottleneck alone
        for k in range(self.depth - 2, -1, -1):
            x = self.ups[k](torch.cat([skips[k], x], dim=1))  # [encoder skip, decoder]
        if self.residual:
            # inside the mask: clamp(fill + 2 tanh(h), -1, 1); outside: the input exactly
            corrected = (filled + 2 * x).clamp(-1, 1)
            return torch.where(damaged, corrected, image)
        return x
