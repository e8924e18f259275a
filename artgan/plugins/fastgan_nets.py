"""FastGAN networks (Liu et al., ICLR 2021), written from the paper, 64 to 1024 px.

Generator: z -> 4x4 (transposed conv, BN, GLU) -> nearest-upsample blocks to the output
size, with noise injection in the blocks at 8, 32, 128 and 512 px (the paper's "comp"
blocks), skip-layer excitation (SLE) from low to high resolutions, a 3x3 conv and tanh.

Discriminator: the paper's self-supervised discriminator. A main path takes the image
down to 8x8 (residual down blocks, with SLE-style excitation from each map to the one 8
times smaller), a small path takes the image shrunk to at most 128 px down to 8x8, and
each path ends in a 5x5 map of logits. Three small decoders reconstruct, from real
images only, the image (from the 8x8 map), a random quarter of it (from the matching
quarter of the 16x16 map) and the small image (from the small path's 8x8 map).

Departures from the paper, each documented where it is made:

- Our generator has one output. The paper's also renders a 128 px image from its 128x128
  map for the discriminator's small path; here the discriminator makes its small image
  itself, by area-downsampling its input (real or generated) to ``min(128, R)`` px (the
  paper resizes reals with nearest-neighbour interpolation).
- At 64 px, where only one of the paper's SLE pairs fits, the generator uses the
  analogous 4->32 and 8->64 (see :data:`SLE_PAIRS`).
- The reconstruction objective is L1 + (1 - MS-SSIM), not LPIPS, whose VGG weights
  cannot be downloaded here (see :meth:`FastGANDiscriminator.reconstruction`).
- Each real image gets its own random quarter (the paper draws one per batch).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from artgan.core.networks import Discriminator, Generator
from artgan.core.ssim import ms_ssim
from artgan.plugins.fastgan_layers import (Decoder, ResidualDown, SkipExcitation, conv,
                                           d_width, down_block, g_width, norm,
                                           parameter_count, quarters, shrink, small_width,
                                           up_block)

RESOLUTIONS = (64, 128, 256, 512, 1024)

#: (low side, high side) of each skip-layer excitation, per output resolution. From 128 px
#: up these are the paper's pairs (4->64, 8->128, 16->256, 32->512: each map excites the one
#: 16 times larger; nothing excites 1024). At 64 px only 4->64 would fit; as at 128 px,
#: the two largest maps are excited by the 4x4 and 8x8 maps instead, 8 times larger, so
#: 64 px images get as much excitation and style mixing (which swaps these inputs) as
#: 128 px ones.
SLE_PAIRS = {
    64: ((4, 32), (8, 64)),
    128: ((4, 64), (8, 128)),
    256: ((4, 64), (8, 128), (16, 256)),
    512: ((4, 64), (8, 128), (16, 256), (32, 512)),
    1024: ((4, 64), (8, 128), (16, 256), (32, 512)),
}


def check_resolution(resolution: int, who: str) -> None:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"{who} supports --resolution {', '.join(map(str, RESOLUTIONS))}; "
                         f"got {resolution}")


#: Widths, in quarters of the height, that both networks can do (``--aspect``): the
#: generator starts from a 4 x q map and doubles both sides, the discriminator ends in
#: 8 x 2q maps and 5 x (2q - 3) logits, so q = 2 (1:2) to 16 (4:1).
QUARTERS = range(2, 17)


def aspect_problem(resolution: int, width: int) -> str | None:
    """Why FastGAN cannot make ``width`` x ``resolution`` images, or None."""
    quarters, rest = divmod(4 * int(width), int(resolution))
    if rest or quarters not in QUARTERS:
        return (f"makes images whose width is 2 to 16 quarters of the height (--aspect 1:2, "
                f"3:4, 1:1, 5:4, 3:2, 7:4, 2:1, ..., 4:1; 4:3 and 16:9 are not: try 5:4 or "
                f"7:4); got {width}x{resolution} px")
    return None


def check_width(resolution: int, width: int | None, who: str) -> int:
    width = resolution if width is None else int(width)
    problem = aspect_problem(resolution, width)
    if problem:
        raise ValueError(f"{who} {problem}")
    return width


def check_channels(channels: int, who: str) -> None:
    if channels not in (1, 3, 4):
        raise ValueError(f"{who} supports --channels 1, 3 or 4 (grey, RGB, RGBA); got "
                         f"{channels}")


def check_option_width(options: Any, name: str, who: str) -> None:
    """Options built through the registry are range-checked there; this catches direct
    construction with a bad width."""
    value = getattr(options, name)
    if not isinstance(value, int) or value < 4:
        raise ValueError(f"{who} option {name} must be an integer >= 4; got {value!r}")


def _fork_rng(device: torch.device):
    """Within: the global random state of the CPU (and ``device``) is saved, restored after."""
    if device.type == "cpu":
        return torch.random.fork_rng(devices=[])
    return torch.random.fork_rng(devices=[device], device_type=device.type)


class FastGANGenerator(Generator):
    """FastGAN's generator, 64-1024 px, 1, 3 or 4 channels, unconditional (labels are
    ignored). Style mixing (:meth:`mix`) takes the SLE inputs from a second latent.
    Non-square (``width``): the 4x4 start is 4 x (4 width / resolution), every later
    map keeps that aspect (see :data:`QUARTERS`)."""

    resolutions = RESOLUTIONS
    can_mix = True
    non_square = True
    #: channels-last on the CPU in fp32 only: in bf16 it makes FastGAN slower (its GLUs
    #: and BatchNorms; bench/README.md, "FastGAN")
    cpu_channels_last = ("fp32",)

    @classmethod
    def shape_problem(cls, resolution: int, width: int) -> str | None:
        return aspect_problem(resolution, width)

    def __init__(self, options: Any, *, resolution: int, channels: int, num_classes: int = 0,
                 width: int | None = None):
        who = "fastgan generator"
        check_resolution(resolution, who)
        check_channels(channels, who)
        check_option_width(options, "ngf", who)
        width = check_width(resolution, width, who)
        if not isinstance(options.z_dim, int) or options.z_dim < 1:
            raise ValueError(f"{who} option z_dim must be an integer >= 1; got {options.z_dim!r}")
        # unconditional, like dcgan: num_classes is not passed on, labels are ignored
        super().__init__(z_dim=options.z_dim, resolution=resolution, channels=channels,
                         width=width)
        sn, ngf = options.spectral_norm, options.ngf
        self.sle_pairs = SLE_PAIRS[resolution]
        self.sources = sorted({low for low, _ in self.sle_pairs})
        self.low_of = {high: low for low, high in self.sle_pairs}
        width4 = g_width(ngf, 4)
        # (N, z, 1, 1) -> 4x4 transposed conv -> (N, 2 w4, 4, 4) -> BN -> GLU -> (N, w4, 4, 4)
        # (non-square: a 4 x q kernel, q = 4 width / resolution)
        start = (4, 4 * width // resolution) if width != resolution else 4
        self.init = nn.Sequential(conv(options.z_dim, 2 * width4, start, sn=sn, transpose=True),
                                  norm("batch", 2 * width4), nn.GLU(dim=1))
        self.sides = [2 ** k for k in range(3, resolution.bit_length())]  # 8 .. R
        self.blocks = nn.ModuleList(
            up_block(g_width(ngf, side // 2), g_width(ngf, side), sn=sn,
                     noisy=side.bit_length() % 2 == 0)  # 8, 32, 128, 512: log2 odd
            for side in self.sides)
        self.excite = nn.ModuleDict({str(high): SkipExcitation(g_width(ngf, low),
                                                               g_width(ngf, high), sn=sn)
                                     for low, high in self.sle_pairs})
        self.to_image = nn.Sequential(conv(g_width(ngf, resolution), channels, 3, 1, 1, sn=sn),
                                      nn.Tanh())
        # the blocks up to the largest SLE source (8 or 32); every SLE target lies after them
        self.low_blocks = self.sides.index(self.sources[-1]) + 1

    def _low(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """The maps up to the largest SLE source: (last map, {side: SLE source map})."""
        x = self.init(z[:, :, None, None])
        feats = {4: x}
        for side, block in zip(self.sides[:self.low_blocks], self.blocks):
            x = block(x)
            feats[side] = x
        return x, {side: feats[side] for side in self.sources}

    def _high(self, x: torch.Tensor, sources: dict[int, torch.Tensor]) -> torch.Tensor:
        """The rest of the generator; SLE inputs from ``sources``."""
        for side, block in zip(self.sides[self.low_blocks:], self.blocks[self.low_blocks:]):
            x = block(x)
            if side in self.low_of:
                x = self.excite[str(side)](sources[self.low_of[side]], x)
        return self.to_image(x)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x, sources = self._low(z)
        return self._high(x, sources)

    def mix(self, z_content: torch.Tensor, z_style: torch.Tensor,
            y: torch.Tensor | None = None) -> torch.Tensor:
        """The main path from ``z_content``, the SLE inputs (the low-resolution maps listed
        in :data:`SLE_PAIRS`) from ``z_style``. Both low paths get the same noise, so
        ``mix(z, z)`` is ``forward(z)`` for the same random state."""
        with _fork_rng(z_style.device):
            _, style = self._low(z_style)
        x, _ = self._low(z_content)
        return self._high(x, style)


class FastGANDiscriminator(Discriminator):
    """FastGAN's self-supervised discriminator, 64-1024 px: scores are two 5x5 logit maps
    (main path and small-image path), returned as patch scores (N, 2, 5, 5), which callers
    see as (N, 50). :meth:`forward_real` adds the decoders' reconstruction objective.
    Non-square (``width``): every map keeps the images' aspect; the logit maps are
    5 x (2q - 3) for widths of q quarters of the height, the decoders' outputs too keep
    the aspect. Sides named below are heights."""

    resolutions = RESOLUTIONS
    patch_scores = True
    non_square = True
    cpu_channels_last = ("fp32",)  # as the generator's

    @classmethod
    def shape_problem(cls, resolution: int, width: int) -> str | None:
        return aspect_problem(resolution, width)

    def __init__(self, options: Any, *, resolution: int, channels: int, num_classes: int = 0,
                 width: int | None = None):
        who = "fastgan discriminator"
        check_resolution(resolution, who)
        check_channels(channels, who)
        check_option_width(options, "ndf", who)
        width = check_width(resolution, width, who)
        if not options.recon_weight >= 0:
            raise ValueError(f"{who} option recon_weight must be >= 0; got "
                             f"{options.recon_weight!r}")
        super().__init__(resolution=resolution, channels=channels, width=width)
        ndf, kind = options.ndf, "batch" if options.norm == "auto" else options.norm
        self.recon_weight = float(options.recon_weight)
        self.stem, top = self._stem(channels, ndf, resolution, kind)
        # residual down blocks from min(R, 256) to 8x8
        self.down_sides = [top >> k for k in range(1, top.bit_length() - 3)]  # .. 16, 8
        self.down = nn.ModuleList(ResidualDown(d_width(ndf, side * 2), d_width(ndf, side), kind)
                                  for side in self.down_sides)
        # excitation from a map to the one 8 times smaller (the paper: 256->32, 128->16,
        # 64->8 from 256 px up; the pairs that fit at 128 and 64 px)
        self.excite = nn.ModuleDict({str(side): SkipExcitation(d_width(ndf, side * 8),
                                                               d_width(ndf, side))
                                     for side in (32, 16, 8) if side * 8 <= top})
        self.head = nn.Sequential(conv(d_width(ndf, 8), d_width(ndf, 4), 1), norm(kind, d_width(ndf, 4)),
                                  nn.LeakyReLU(0.2), conv(d_width(ndf, 4), 1, 4))  # 8x8 -> 5x5
        self.small_size = min(128, resolution)
        layers: list[nn.Module] = [conv(channels, small_width(ndf, self.small_size // 2), 4, 2, 1),
                                   nn.LeakyReLU(0.2)]
        side = self.small_size // 2
        while side > 8:
            layers.append(down_block(small_width(ndf, side), small_width(ndf, side // 2), kind))
            side //= 2
        self.small = nn.Sequential(*layers)
        self.small_head = conv(small_width(ndf, 8), 1, 4)  # 8x8 -> 5x5
        self.decoders = nn.ModuleDict()
        if self.recon_weight > 0:
            self.decoders.update({
                "big": Decoder(d_width(ndf, 8), channels, min(128, resolution), ndf, kind),
                "part": Decoder(d_width(ndf, 16), channels, min(128, resolution // 2), ndf, kind),
                "small": Decoder(small_width(ndf, 8), channels, self.small_size, ndf, kind)})

    @staticmethod
    def _stem(channels: int, ndf: int, resolution: int, kind: str) -> tuple[nn.Sequential, int]:
        """To at most 256x256: stride-2 4x4 convs from 512 and 1024 px (norm after the
        first), else a 3x3 conv at full size (the paper's ``down_from_big``)."""
        if resolution <= 256:
            return nn.Sequential(conv(channels, d_width(ndf, resolution), 3, 1, 1),
                                 nn.LeakyReLU(0.2)), resolution
        layers: list[nn.Module] = []
        side, ch = resolution, channels
        while side > 256:
            side //= 2
            first = not layers
            layers.append(conv(ch, d_width(ndf, side), 4, 2, 1))
            layers += [] if first else [norm(kind, d_width(ndf, side))]
            layers.append(nn.LeakyReLU(0.2))
            ch = d_width(ndf, side)
        return nn.Sequential(*layers), side

    def _paths(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor],
                                                torch.Tensor, torch.Tensor]:
        """Scores (N, 2, 5, 5), the main path's maps by side, the small image and its
        8x8 map."""
        feat = self.stem(x)
        maps = {feat.shape[-2]: feat}  # by height
        for side, block in zip(self.down_sides, self.down):
            feat = block(feat)
            if str(side) in self.excite:
                feat = self.excite[str(side)](maps[side * 8], feat)
            maps[side] = feat
        small = shrink(x, self.small_size)
        small_feat = self.small(small)
        scores = torch.cat([self.head(feat), self.small_head(small_feat)], dim=1)
        return scores, maps, small, small_feat

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, *,
                reconstruct: bool = False) -> Any:
        """Scores (N, 2, 5, 5); with ``reconstruct`` (real images): (scores, extra), see
        :meth:`forward_real`."""
        scores, maps, small, small_feat = self._paths(x)
        if not reconstruct:
            return scores
        return scores, self.reconstruction(x, maps, small, small_feat)

    def forward_real(self, x: torch.Tensor, y: torch.Tensor | None = None,
                     condition: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Scores and the reconstruction objective of real images, in one pass:
        ``extra = {"loss", "recon_l1", "recon_ms_ssim"}`` (no extra when recon_weight=0)."""
        if not self.decoders:
            return nn.Module.__call__(self, x, y), {}
        return nn.Module.__call__(self, x, y, reconstruct=True)  # hooks and compile apply

    def reconstruction(self, x: torch.Tensor, maps: dict[int, torch.Tensor],
                       small: torch.Tensor, small_feat: torch.Tensor) -> dict[str, torch.Tensor]:
        """The self-supervised objective, trained on real images only.

        Three decoders and their targets (images in [-1, 1], area-downsampled; the
        targets are constants, gradients reach only D):

        - ``big``: the 8x8 map -> the image at ``min(128, R)`` px;
        - ``part``: a random quarter of the 16x16 map (one per image, from torch's global
          generator) -> the same quarter of the image at ``min(128, R/2)`` px;
        - ``small``: the small path's 8x8 map -> the small image (``min(128, R)`` px).

        Each term is L1 + (1 - MS-SSIM) (:func:`artgan.core.ssim.ms_ssim`): L1 keeps
        colours and has useful gradients from the start, MS-SSIM rewards structure at
        several scales (Zhao et al. 2017 found the mix better than either alone for image
        restoration); neither needs downloaded weights, unlike the paper's LPIPS.
        ``loss = recon_weight * sum over decoders``; ``recon_l1`` and ``recon_ms_ssim``
        (the similarity, 1 = perfect) are their means, for logging.
        """
        n = x.shape[0]
        x = x.detach()
        which = torch.randint(0, 4, (n,), device=x.device)
        part_size = self.decoders["part"].size
        pairs = (
            (self.decoders["big"](maps[8]), shrink(x, self.decoders["big"].size)),
            (self.decoders["part"](quarters(maps[16], which)),
             quarters(shrink(x, 2 * part_size), which)),
            (self.decoders["small"](small_feat), small.detach()))
        l1s, sims = [], []
        for rec, target in pairs:
            rec, target = rec.float(), target.float()
            l1s.append((rec - target).abs().mean())  # E|rec - target|
            sims.append(ms_ssim(rec, target).mean())  # MS-SSIM(rec, target) in [0, 1]
        l1, sim = torch.stack(l1s), torch.stack(sims)
        loss = self.recon_weight * (l1 + (1 - sim)).sum()  # w * sum_d [L1_d + 1 - MS-SSIM_d]
        return {"loss": loss, "recon_l1": l1.mean().detach(),
                "recon_ms_ssim": sim.mean().detach()}


def fastgan_parameter_counts(options_g: Any, options_d: Any, resolution: int,
                             channels: int) -> dict[str, int]:
    """Parameters of the generator, the discriminator (decoders included) and its
    decoders, for these options at this size (built on the CPU: about a second at the
    defaults; the meta device is slower here, its first use imports a lot)."""
    with torch.no_grad():
        G = FastGANGenerator(options_g, resolution=resolution, channels=channels)
        D = FastGANDiscriminator(options_d, resolution=resolution, channels=channels)
    return {"generator": parameter_count(G), "discriminator": parameter_count(D),
            "decoders": parameter_count(D.decoders)}
