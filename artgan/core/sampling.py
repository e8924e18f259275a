"""Load a trained generator from a checkpoint and draw reproducible samples."""

from __future__ import annotations

import torch

from .checkpoint import load_checkpoint
from .errors import ArtganError
from .config import RunConfig
from .device import resolve_device
from .networks import Generator
from .registry import Registry


def load_generator(path, registry: Registry, *, device: str = "auto",
                   ema: bool = True) -> tuple[Generator, RunConfig, list[str]]:
    """Rebuild the checkpoint's generator (by its registered name) and load its weights.

    With ``ema`` (the default) the EMA generator's weights are used when the checkpoint
    has them (runs with ``--ema``); ``ema=False`` loads the raw generator.
    Returns the generator (in eval mode), the run's config and its class names.
    """
    ckpt = load_checkpoint(path)
    config = RunConfig.from_dict(ckpt["config"])
    num_classes = int(ckpt.get("num_classes", 0))
    gen = config.components.gen
    G = registry.build("generator", gen.name, gen.options, resolution=config.image.resolution,
                       channels=config.image.channels, num_classes=num_classes,
                       **_condition(ckpt, config))
    G.load_state_dict(ckpt["generator_ema"] if ema and "generator_ema" in ckpt
                      else ckpt["generator"])
    return G.to(resolve_device(device)).eval(), config, list(ckpt.get("class_names", []))


def _condition(ckpt: dict, config: RunConfig) -> dict[str, int]:
    """The input-image channels of an image-to-image generator, from its checkpoint."""
    channels = int(ckpt.get("condition_channels", 0))
    return {"condition_channels": channels} if channels else {}


class ClassError(ArtganError, ValueError):
    """``--class`` does not fit the checkpoint (unknown name, unconditional model)."""


def class_labels(G: Generator, class_names: list[str], wanted: str | None,
                 count: int) -> tuple[torch.Tensor | None, int | None]:
    """Labels for ``--class NAME`` (count images of one class) or ``--class all``
    (count images per class, one grid row each). Returns (labels, grid row length)."""
    if wanted is None:
        return None, None
    if not G.conditional:
        raise ClassError("--class needs a conditional model (for example --gen cgan); "
                         "this checkpoint's generator is unconditional")
    names = class_names or [str(i) for i in range(G.num_classes)]
    if wanted.lower() == "all":
        return torch.arange(len(names)).repeat_interleave(count), count
    lowered = [n.lower() for n in names]
    if wanted.lower() not in lowered:
        raise ClassError(f"--class {wanted!r}: unknown class; classes are "
                         f"{', '.join(names)} (or 'all')")
    return torch.full((count,), lowered.index(wanted.lower()), dtype=torch.long), None


def latents(G: Generator, n: int, *, seed: int = 0) -> torch.Tensor:
    """``n`` latent vectors (n, z_dim) from N(0, I); the same seed gives the same vectors."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, G.z_dim, generator=gen)


def cycled_labels(G: Generator, n: int) -> torch.Tensor | None:
    """Labels 0, 1, ..., K-1, 0, 1, ... for ``n`` images of a conditional generator with K
    classes (the default when no class is asked for); None for an unconditional one."""
    return torch.arange(n) % G.num_classes if G.conditional else None


def generate_batches(G: Generator, n: int, *, seed: int = 0, batch_size: int = 64,
                     labels: torch.Tensor | None = None):
    """Yield ``n`` images of ``G`` batch by batch, on G's device, in [-1, 1].

    Latents come from :func:`latents`; without ``labels`` a conditional generator cycles
    through its classes. The same arguments give the same images."""
    z = latents(G, n, seed=seed)
    if labels is None:
        labels = cycled_labels(G, n)
    device = next(G.parameters()).device
    with torch.no_grad():
        for start in range(0, n, batch_size):
            yb = None if labels is None else labels[start:start + batch_size].to(device)
            yield G(z[start:start + batch_size].to(device), yb).float()


def sample_images(G: Generator, n: int, *, seed: int = 0, batch_size: int = 64,
                  labels: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` images in [-1, 1] on the CPU; the same seed gives the same images."""
    return torch.cat([images.cpu() for images in generate_batches(
        G, n, seed=seed, batch_size=batch_size, labels=labels)])
