"""Adapters that let a plain ``nn.Module`` act as an artgan Generator or Discriminator."""

from __future__ import annotations

import inspect

import torch
from torch import nn

from .networks import Discriminator, Generator


def _takes_labels(module: nn.Module) -> bool:
    return len(inspect.signature(module.forward).parameters) >= 2


class ModuleGenerator(Generator):
    """Wraps ``module(z)`` or ``module(z, y)``; the module must have ``z_dim``."""

    non_square = True  # the module's own business: the shape checks still apply

    def __init__(self, module: nn.Module, *, resolution: int, channels: int, num_classes: int,
                 width: int | None = None):
        if not hasattr(module, "z_dim"):
            raise TypeError(f"{type(module).__name__} is a plain nn.Module used as a generator: "
                            f"give it a z_dim attribute (the size of its input noise)")
        labelled = _takes_labels(module)
        super().__init__(z_dim=module.z_dim, resolution=resolution, channels=channels,
                         num_classes=num_classes if labelled else 0, width=width)
        self.module, self.labelled = module, labelled
        self.component_name = type(module).__name__

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.module(z, y) if self.labelled else self.module(z)


class ModuleDiscriminator(Discriminator):
    """Wraps ``module(x)`` or ``module(x, y)`` returning (N,) or (N, 1) logits."""

    non_square = True

    def __init__(self, module: nn.Module, *, resolution: int, channels: int, num_classes: int,
                 width: int | None = None):
        labelled = _takes_labels(module)
        super().__init__(resolution=resolution, channels=channels,
                         num_classes=num_classes if labelled else 0, width=width)
        self.module, self.labelled = module, labelled
        self.component_name = type(module).__name__

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.module(x, y) if self.labelled else self.module(x)


def wrap_network(kind: str, module: nn.Module, **shape):
    """Return ``module`` if it already is an artgan network, else wrap it."""
    base, wrapper = (Generator, ModuleGenerator) if kind == "generator" else \
        (Discriminator, ModuleDiscriminator)
    if isinstance(module, base):
        return module
    if not isinstance(module, nn.Module):
        raise TypeError(f"expected a {kind} name, an nn.Module or its class; got {module!r}")
    return wrapper(module, **shape)
