"""Conditional networks built from the DCGAN bodies."""

from __future__ import annotations

import torch
from torch import nn

from artgan.core.networks import Discriminator, Generator
from artgan.plugins.cgan import DiscriminatorOptions, GeneratorOptions
from artgan.plugins.dcgan_nets import RESOLUTIONS, dcgan_init, discriminator_body, generator_body


def require_classes(num_classes: int, who: str) -> None:
    if num_classes < 1:
        raise ValueError(
            f"{who} is conditional and needs labelled data: use --data demo (its styles are "
            f"classes) or --data folder:PATH with one subfolder per class; for unlabelled "
            f"data use --gen dcgan --disc dcgan")


class CGANGenerator(Generator):
    """[z, embed(y)] -> DCGAN generator body -> image."""

    resolutions = RESOLUTIONS

    def __init__(self, options: GeneratorOptions | None = None, *, num_classes: int,
                 resolution: int, channels: int):
        options = options or GeneratorOptions()
        require_classes(num_classes, "--gen cgan")
        super().__init__(z_dim=options.z_dim, resolution=resolution, channels=channels,
                         num_classes=num_classes)
        self.embed = nn.Embedding(num_classes, options.embed_dim)
        self.main = generator_body(options.z_dim + options.embed_dim, options.ngf, resolution,
                                   channels, "cgan generator")
        self.apply(dcgan_init)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.cat([z, self.embed(y)], dim=1)
        return self.main(h[:, :, None, None])


class CGANDiscriminator(Discriminator):
    """concat: [x, label map] -> DCGAN body -> logit.
    projection: body(x) -> phi; logit = w . phi + embed(y) . phi (Miyato & Koyama 2018)."""

    resolutions = RESOLUTIONS

    def __init__(self, options: DiscriminatorOptions | None = None, *, num_classes: int,
                 resolution: int, channels: int):
        options = options or DiscriminatorOptions(norm="batch")
        ndf, conditioning, norm = options.ndf, options.conditioning, options.norm
        spectral_norm = options.spectral_norm
        require_classes(num_classes, "--disc cgan")
        super().__init__(resolution=resolution, channels=channels, num_classes=num_classes)
        self.conditioning = conditioning
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        in_ch = channels + (1 if conditioning == "concat" else 0)
        layers, ch = discriminator_body(in_ch, ndf, resolution, norm, spectral_norm,
                                        "cgan discriminator")
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(ch, 1, 4, 1, 0, bias=False)
        if conditioning == "concat":
            self.label_map = nn.Embedding(num_classes, resolution * resolution)
        else:
            self.label_proj = nn.Embedding(num_classes, ch)
        self.apply(dcgan_init)
        self.head = sn(self.head)
        if conditioning == "projection":
            nn.init.normal_(self.label_proj.weight, 0.0, 0.02)
            self.label_proj = sn(self.label_proj)


    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.conditioning == "concat":
            label = self.label_map(y).view(-1, 1, self.resolution, self.resolution)
            return self.head(self.body(torch.cat([x, label.to(x.dtype)], dim=1))).flatten()
        features = self.body(x)
        phi = features.sum(dim=(2, 3))  # (N, C) pooled features
        projection = (self.label_proj(y) * phi).sum(dim=1)  # embed(y) . phi
        return self.head(features).flatten() + projection
