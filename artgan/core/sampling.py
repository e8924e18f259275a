"""Load a trained generator from a checkpoint and draw reproducible samples.

Reproducible means from the seed alone, whatever else ran before: latents come from their
own ``torch.Generator``, and the generator's own randomness (FastGAN's noise inputs,
drawn inside ``forward`` from torch's global generator) is drawn under
:func:`seeded_noise`, which seeds the global generator from (seed, batch index) and
restores its state afterwards. A generator without randomness (DCGAN) gives the same
images as before this was added; one with noise gives images that depend on the seed and
on the batch size (the noise of a batch is drawn as a whole).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

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
        width = {} if config.image.square else {"width": config.image.width}
        G = build_sized(registry, "generator", gen, resolution=config.image.resolution,
                        channels=config.image.channels, num_classes=num_classes,
                        **_condition(ckpt, path), **width)
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
    return row_labels(G, n, 1)


def row_labels(G: Generator, n: int, row: int) -> torch.Tensor | None:
    """Labels for a grid of ``n`` images in rows of ``row``: each row one class, the rows
    cycling through the K classes (0, 0, ..., 1, 1, ...); None for an unconditional
    generator. The training's sample grid uses it, so each row shows one class."""
    return (torch.arange(n) // row) % G.num_classes if G.conditional else None


def noise_seed(seed: int, index: int = 0) -> int:
    """The seed of the generator's own noise for batch (or frame) ``index`` of ``seed``."""
    return (int(seed) * 6_364_136_223_846_793_005 + int(index) * 1_442_695_040_888_963_407
            + 0x5EED) % 2**63


def _device_of(where: torch.device | str | torch.nn.Module | None) -> torch.device:
    if isinstance(where, torch.nn.Module):
        where = next(where.parameters(), torch.empty(0)).device
    return torch.device(where or "cpu")


@contextlib.contextmanager
def seeded_noise(seed: int, index: int = 0,
                 device: torch.device | str | torch.nn.Module | None = None):
    """Within: torch's global random generators (the CPU's and ``device``'s, a device or
    a module on it) seeded with :func:`noise_seed`; outside, their state is as before, so
    sampling neither depends on nor disturbs the training's random stream."""
    device = _device_of(device)
    if device.type == "cuda":
        fork = torch.random.fork_rng(devices=[device.index if device.index is not None
                                              else torch.cuda.current_device()],
                                     device_type="cuda")
    elif device.type == "cpu":
        fork = torch.random.fork_rng(devices=[])
    else:  # mps and others: fork_rng knows their generator by the device type
        fork = torch.random.fork_rng(device_type=device.type)
    with fork:
        torch.manual_seed(noise_seed(seed, index))
        yield


def generate_latents(G: Generator, z: torch.Tensor, labels: torch.Tensor | None = None, *,
                     seed: int = 0, batch_size: int = 64) -> Iterator[torch.Tensor]:
    """Yield the images of latents ``z`` (N, z_dim) (and labels) batch by batch, on G's
    device, in [-1, 1]; batch ``b``'s noise comes from :func:`seeded_noise` (seed, b)."""
    device = next(G.parameters()).device
    with torch.no_grad():
        for b, start in enumerate(range(0, z.shape[0], batch_size)):
            yb = None if labels is None else labels[start:start + batch_size].to(device)
            with seeded_noise(seed, b, device):
                images = G(z[start:start + batch_size].to(device), yb).float()
            yield images  # outside the fork: the caller's code sees its own random state


def generate_batches(G: Generator, n: int, *, seed: int = 0, batch_size: int = 64,
                     labels: torch.Tensor | None = None) -> Iterator[torch.Tensor]:
    """Yield ``n`` images of ``G`` batch by batch, on G's device, in [-1, 1].

    Latents come from :func:`latents`; without ``labels`` a conditional generator cycles
    through its classes. The same arguments give the same images, whatever the state of
    torch's global random generator (see the module doc)."""
    z = latents(G, n, seed=seed)
    if labels is None:
        labels = cycled_labels(G, n)
    yield from generate_latents(G, z, labels, seed=seed, batch_size=batch_size)


def sample_images(G: Generator, n: int, *, seed: int = 0, batch_size: int = 64,
                  labels: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` images in [-1, 1] on the CPU; the same seed gives the same images."""
    return torch.cat([images.cpu() for images in generate_batches(
        G, n, seed=seed, batch_size=batch_size, labels=labels)])


class MixError(ArtganError, ValueError):
    """Style mixing was asked of a generator that cannot mix."""


def mixing_grid(G: Generator, n: int, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """Style mixing of ``n`` content latents with ``n`` style latents (``artgan sample
    --mix``), for a generator with ``can_mix``.

    Returns ``content`` (n, C, H, W): the plain samples of the content latents (those of
    :func:`latents` with ``seed``, as ``artgan sample`` draws them); ``style`` (n, ...):
    the plain samples of the next n latents of that stream; ``mixed`` (n, n, ...):
    ``mixed[i, j]`` has the layout of content i and the style of style j
    (:meth:`Generator.style_mix`); ``grid`` ((n + 1)^2, ...), rows of n + 1 images: the
    first row is a blank (white) corner and the style samples, each further row content
    i then its mixes. Each row is one batch under the same :func:`seeded_noise`, so a
    column's images share the generator's noise and differ only by their latents.
    Images are on the CPU, in [-1, 1].
    """
    if not G.can_mix:
        raise MixError(f"--mix needs a generator with style mixing (such as --gen "
                       f"fastgan); {G.who} has none")
    z = latents(G, 2 * n, seed=seed)
    content, style = z[:n], z[n:]
    device = next(G.parameters()).device
    y = cycled_labels(G, n + 1)

    def row(first: torch.Tensor, z_content: torch.Tensor) -> torch.Tensor:
        zc = torch.cat([first[None], z_content]).to(device)
        zs = torch.cat([first[None], style]).to(device)
        with torch.no_grad(), seeded_noise(seed, 0, device):
            return G.style_mix(zc, zs, None if y is None else y.to(device)).float().cpu()

    header = row(style[0], style)  # the style samples: mix(s_j, s_j) = G(s_j)
    rows = [row(content[i], content[i].expand(n, -1)) for i in range(n)]
    header[0] = 1.0  # the blank corner
    grid = torch.cat([header, *rows])
    return {"content": torch.stack([r[0] for r in rows]), "style": header[1:],
            "mixed": torch.stack([r[1:] for r in rows]), "grid": grid}
