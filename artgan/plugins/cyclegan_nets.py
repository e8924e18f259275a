"""CycleGAN's networks (Zhu et al. 2017): two ResNet generators trained as one artgan
generator, and two PatchGAN discriminators trained as one artgan discriminator.

The ResNet generator is Johnson et al.'s (2016) image transformation network in CycleGAN's
notation: c7s1-64, d128, d256, n x R256, u128, u64, c7s1-C, tanh (c7s1-k: 7x7 conv,
stride 1, k filters, instance norm, ReLU; dk: 3x3 conv, stride 2; Rk: residual block of
two 3x3 convs; uk: 3x3 transposed conv, stride 1/2), with reflection padding. It is fully
convolutional: any image whose sides are multiples of 4 (and at least 8 px) maps to an
image of the same size.
"""

from __future__ import annotations

import torch
from torch import nn

from artgan.core.networks import Discriminator, Generator
from artgan.plugins.patchgan_nets import PatchGANDiscriminator, init_normal

#: Sides of the images the ResNet generator accepts: multiples of 4 (two stride-2
#: convs), at least 8 (the 2x2 bottleneck still takes a reflection pad of 1).
SIZE_MULTIPLE, MIN_SIZE = 4, 8


def auto_blocks(resolution: int) -> int:
    """CycleGAN's choice: 9 residual blocks at 256 px and above, 6 below."""
    return 9 if resolution >= 256 else 6


def _norm(channels: int) -> nn.Module:
    # CycleGAN's instance norm: no learned scale/shift, no running statistics
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResidualBlock(nn.Module):
    """x + conv3(relu(norm(conv3(x)))) with norms, reflection-padded (CycleGAN's R256)."""

    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3), _norm(width), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3), _norm(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    """One translator (N, C_in, H, W) -> (N, C_out, H, W) in [-1, 1]; H, W multiples of 4.

    A plain ``nn.Module`` (no artgan shape checks): :class:`CycleGANGenerator` holds two
    and checks what goes in and out.
    """

    def __init__(self, in_channels: int, out_channels: int, *, ngf: int = 64,
                 blocks: int = 9):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7),
                                   _norm(ngf), nn.ReLU(True)]  # c7s1-64
        width = ngf
        for _ in range(2):  # d128, d256
            layers += [nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), _norm(2 * width),
                       nn.ReLU(True)]
            width *= 2
        layers += [ResidualBlock(width) for _ in range(blocks)]  # n x R256
        for _ in range(2):  # u128, u64
            layers += [nn.ConvTranspose2d(width, width // 2, 3, stride=2, padding=1,
                                          output_padding=1), _norm(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(init_normal)  # N(0, 0.02), as CycleGAN initialises

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class CycleGANGenerator(Generator):
    """``--gen cyclegan``: two ResNet generators, ``a2b`` (A -> B) and ``b2a`` (B -> A).

    As an artgan generator it is image-to-image (``condition_channels = channels``,
    ``z_dim = 0``): ``G(z, None, condition=A) = a2b(A)``, any size that is a multiple of
    :attr:`size_multiple`. Training grids show :meth:`preview_rows`: source,
    translation and reconstruction.

    **The translation contract** (what ``artgan translate`` and the ``cyclegan`` loss use;
    a third-party translation model implements the same to reuse them):

    - ``directions``: a tuple of direction names, the first the generator's own forward
      (here ``("a2b", "b2a")``);
    - ``in_direction(name) -> nn.Module``: a module mapping images (N, C, H, W) in
      [-1, 1] to their translation (N, C, H, W) in [-1, 1] for any H, W that are
      multiples of ``size_multiple`` and at least ``min_size``; unknown names raise
      ``ValueError``;
    - ``size_multiple`` and ``min_size``: ints (``translate`` pads to them and crops back).

    The ``cyclegan`` loss also needs both ``"a2b"`` and ``"b2a"`` directions.
    """

    directions = ("a2b", "b2a")
    size_multiple = SIZE_MULTIPLE
    min_size = MIN_SIZE

    @classmethod
    def condition_channels_for(cls, channels: int) -> int:
        """The input is an image of the other domain."""
        return channels

    def __init__(self, options, *, resolution: int, channels: int, num_classes: int = 0,
                 condition_channels: int | None = None):
        if resolution % SIZE_MULTIPLE or resolution < MIN_SIZE:
            raise ValueError(f"--resolution {resolution}: --gen cyclegan needs a multiple of "
                             f"{SIZE_MULTIPLE}, at least {MIN_SIZE} (for example 128 or 256)")
        if condition_channels is None:  # built without data (a check, a tool)
            condition_channels = self.condition_channels_for(channels)
        if condition_channels != channels:
            what = ("the data gives no input images" if not condition_channels else
                    f"the data's input images have {condition_channels} channels, the "
                    f"outputs {channels}")
            raise ValueError(f"--gen cyclegan translates images between two domains of "
                             f"{channels}-channel images, but {what}: train it on "
                             f"--data unpaired:folder:A,folder:B")
        super().__init__(z_dim=0, resolution=resolution, channels=channels,
                         condition_channels=channels)
        self.blocks = options.blocks or auto_blocks(resolution)
        self.a2b = ResNetGenerator(channels, channels, ngf=options.ngf, blocks=self.blocks)
        self.b2a = ResNetGenerator(channels, channels, ngf=options.ngf, blocks=self.blocks)

    def in_direction(self, name: str) -> nn.Module:
        """The translator of direction ``name`` (``"a2b"`` or ``"b2a"``)."""
        if name not in self.directions:
            raise ValueError(f"unknown direction {name!r}; this model translates "
                             f"{' or '.join(self.directions)}")
        return getattr(self, name)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None,
                condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.a2b(condition)  # G(z, y, A) = a2b(A); no latent, no labels

    def preview_rows(self, z: torch.Tensor, y: torch.Tensor | None = None,
                     condition: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Source A, translation a2b(A) and reconstruction b2a(a2b(A)), each (N, C, H, W)."""
        fake = self(z, y, condition)
        return [condition, fake, self.b2a(fake)]


class CycleGANDiscriminator(Discriminator):
    """``--disc cyclegan``: two 70x70 PatchGANs, ``d_b`` judging domain B (the composite's
    own forward, which sees the generator's outputs) and ``d_a`` judging domain A (which
    sees ``b2a``'s outputs). Both return patch scores (N, 1, h, w); neither takes an
    input image (CycleGAN's discriminators judge single images, not pairs).
    """

    patch_scores = True

    def __init__(self, options, *, resolution: int, channels: int, num_classes: int = 0,
                 condition_channels: int = 0):
        super().__init__(resolution=resolution, channels=channels)
        self.d_b = PatchGANDiscriminator(options, resolution=resolution, channels=channels)
        self.d_a = PatchGANDiscriminator(options, resolution=resolution, channels=channels)
        for name in ("d_a", "d_b"):
            getattr(self, name).component_name = f"cyclegan.{name}"

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.d_b(x)  # scores of domain B, (N, P)
