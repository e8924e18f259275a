"""Load a trained generator from a checkpoint and draw reproducible samples."""

from __future__ import annotations

import torch

from .checkpoint import checkpoint_config, damaged, load_checkpoint, named_component
from .config import RunConfig
from .config_check import FOR_SAMPLING
from .device import resolve_device
from .errors import ArtganError, ConfigError, PluginError
from .networks import Generator
from .options import OptionError
from .registry import Registry
from .resolve_parts import check_resolution
from .sizes import build_sized
from .stats import finite_tensors


def load_generator(path, registry: Registry, *, device: str = "auto",
                   ema: bool = True) -> tuple[Generator, RunConfig, list[str]]:
    """Rebuild the checkpoint's generator (by its registered name) and load its weights.

    With ``ema`` (the default) the EMA generator's weights are used when the checkpoint
    has them (runs with ``--ema``); ``ema=False`` loads the raw generator.
    Returns the generator (in eval mode), the run's config and its class names.

    A checkpoint is untrusted input: its config is checked field by field, the network's
    size before anything is allocated, and weights that do not fit (or are NaN) are a
    one-line :class:`~artgan.core.errors.CheckpointError`, never a traceback.
    """
    ckpt = load_checkpoint(path)
    config = checkpoint_config(ckpt, path, FOR_SAMPLING)
    num_classes = _count(ckpt, "num_classes", path)
    gen = config.components.gen
    entry = named_component(registry, "generator", gen.name, path)
    try:
        check_resolution(config.image.resolution, (entry,))
        G = build_sized(registry, "generator", gen, resolution=config.image.resolution,
                        channels=config.image.channels, num_classes=num_classes,
                        **_condition(ckpt, path))
    except (ConfigError, OptionError, PluginError) as exc:
        raise damaged(path, str(exc)) from exc
    weights = ckpt["generator_ema"] if ema and "generator_ema" in ckpt else ckpt["generator"]
    try:
        G.load_state_dict(weights)
    except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, ArtganError):
            raise
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[-1].strip()
        raise damaged(path, f"its generator weights do not fit generator {gen.name!r} as "
                            f"its config describes it ({detail[:160]})") from None
    if not all(finite_tensors([t for t in G.state_dict().values()
                               if t.is_floating_point()])):
        raise damaged(path, "its generator weights are NaN or infinite (saved by a run that "
                            "diverged); its samples would be blank")
    return G.to(resolve_device(device)).eval(), config, _names(ckpt, path)


def _count(ckpt: dict, key: str, path) -> int:
    value = ckpt.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1_000_000:
        raise damaged(path, f"its {key} is {value!r}")
    return value


def _names(ckpt: dict, path) -> list[str]:
    names = ckpt.get("class_names", [])
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise damaged(path, "its class_names are not a list of names")
    return list(names)


def _condition(ckpt: dict, path) -> dict[str, int]:
    """The input-image channels of an image-to-image generator, from its checkpoint."""
    channels = _count(ckpt, "condition_channels", path)
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
