"""artgan-example: the components (these import torch)."""

import torch
import torch.nn.functional as F
from torch import nn

from artgan.core import DataSourceError, Generator, InMemoryDataSource, Loss, OptimizerSettings


class MLPGenerator(Generator):
    def __init__(self, *, z_dim, hidden, resolution, channels):
        super().__init__(z_dim=z_dim, resolution=resolution, channels=channels)
        self.net = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(),
                                 nn.Linear(hidden, channels * resolution * resolution), nn.Tanh())

    @classmethod
    def from_options(cls, options, *, resolution, channels, num_classes=0):
        return cls(z_dim=options.z_dim, hidden=options.hidden, resolution=resolution,
                   channels=channels)

    def forward(self, z, y=None):
        return self.net(z).view(-1, *self.output_shape)


class RelativisticGAN(Loss):
    """RSGAN: D should rate real images as more real than fake ones, and G the reverse."""

    optimizer = OptimizerSettings("adam", lr=2e-4, betas=(0.5, 0.999))

    def __init__(self, options=None):
        pass

    def discriminator_loss(self, G, D, real, fake, y):
        # -log(sigmoid(D(x) - D(G(z))))
        return {"loss": F.softplus(-(D(real, y) - D(fake, y))).mean()}

    def generator_loss(self, G, D, real, fake, y):
        # -log(sigmoid(D(G(z)) - D(x)))
        return {"loss": F.softplus(-(D(fake, y) - D(real, y))).mean()}


class Checkers(InMemoryDataSource):
    default_resolution = 16
    default_epochs = 5

    @classmethod
    def from_spec(cls, argument, options, *, resolution, channels, seed):
        squares = int(argument or 4)
        if squares < 1 or squares > resolution:
            raise DataSourceError(f"example-checkers:N needs 1 <= N <= {resolution}")
        gen = torch.Generator().manual_seed(seed)
        cell = torch.arange(resolution) * squares // resolution
        board = ((cell[:, None] + cell[None, :]) % 2).float()  # (R, R) of 0/1
        colours = torch.rand(options.size, channels, 2, generator=gen)
        images = colours[..., 0, None, None] * board + colours[..., 1, None, None] * (1 - board)
        return cls((images * 255).round().to(torch.uint8))
