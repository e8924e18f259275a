"""Apply a trained translation model (``--gen cyclegan``) to images of any size.

What ``artgan translate`` runs, usable from Python::

    from artgan.translation import translator, translate_image
    G, config, _ = load_generator("runs/monet", get_registry())
    step = translator(G, "a2b")
    styled = translate_image(step, photo)  # (1, C, H, W) in [-1, 1], any H, W

A generator qualifies when it follows the translation contract of
:class:`artgan.plugins.cyclegan_nets.CycleGANGenerator` (``directions``,
``in_direction(name)``, ``size_multiple``, ``min_size``), or, with the one direction
``a2b``, when it is any image-to-image generator whose input is one image of its own
channel count and that draws no latent (``z_dim`` 0).

Images are processed whole (fully convolutional networks keep the input's size; sides
are padded by reflection to the network's multiple and cropped back) or, when larger
than ``tile`` pixels on a side, in overlapping tiles blended without seams
(:func:`artgan.core.tiles.apply_tiled`). Instance norm normalises each tile by its own
statistics, so tiles are large by default and a tiled image can differ slightly in tone
from a whole one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from artgan.core.checkpoint import write_atomic
from artgan.core.errors import ArtganError
from artgan.core.tiles import apply_tiled
from artgan.core.image_files import to_mode

#: Tiles of at most this many pixels a side by default (and this much overlap).
DEFAULT_TILE, DEFAULT_OVERLAP = 1024, 64


class TranslationError(ArtganError, ValueError):
    """A checkpoint or setting cannot be used for translation (an unconditional model,
    an unknown direction, an output that would overwrite an input)."""


@dataclass(frozen=True)
class Translator:
    """One direction of a translation model, ready to apply: ``module`` maps
    (N, C, H, W) in [-1, 1] to the same shape for sides that are multiples of
    ``size_multiple`` and at least ``min_size``."""

    module: Callable[[torch.Tensor], torch.Tensor]
    direction: str
    channels: int
    size_multiple: int = 1
    min_size: int = 1


def translator(G, direction: str | None = None) -> Translator:
    """The :class:`Translator` for ``direction`` of generator ``G`` (default: its first
    direction); :class:`TranslationError` when ``G`` is no translation model."""
    name = getattr(G, "component_name", type(G).__name__)
    if not getattr(G, "image_conditioned", False):
        raise TranslationError(
            f"this checkpoint's generator {name!r} makes images from noise, it does not "
            f"translate images: use `artgan sample --ckpt ...`, or train a translation "
            f"model (--gen cyclegan --data unpaired:folder:A,folder:B)")
    directions = tuple(getattr(G, "directions", ()) or ())
    if directions and hasattr(G, "in_direction"):
        direction = direction or directions[0]
        if direction not in directions:
            raise TranslationError(f"--direction {direction}: this model translates "
                                   f"{' or '.join(directions)}")
        return Translator(G.in_direction(direction), direction, G.channels,
                          int(getattr(G, "size_multiple", 1)), int(getattr(G, "min_size", 1)))
    if G.condition_channels != G.channels or G.z_dim or G.conditional:
        raise TranslationError(
            f"generator {name!r} takes more than one image of {G.channels} channels "
            f"(inputs of {G.condition_channels} channels, z_dim {G.z_dim}, "
            f"{G.num_classes} classes): translate only applies models that map an image to "
            f"an image")
    if direction not in (None, "a2b"):
        raise TranslationError(f"--direction {direction}: generator {name!r} translates "
                               f"in one direction only, a2b")

    def forward(x: torch.Tensor) -> torch.Tensor:
        return G(x.new_zeros((x.shape[0], 0)), None, x)

    return Translator(forward, "a2b", G.channels, int(getattr(G, "size_multiple", 1)),
                      int(getattr(G, "min_size", 1)))


def refuse_translation_model(G, command: str = "sample") -> None:
    """For ``artgan sample`` / ``walk``: a translation checkpoint draws nothing from noise;
    raise a :class:`TranslationError` pointing at ``artgan translate``."""
    if getattr(G, "image_conditioned", False):
        name = getattr(G, "component_name", type(G).__name__)
        raise TranslationError(
            f"this checkpoint's generator {name!r} translates images rather than drawing "
            f"them from noise, so `artgan {command}` cannot use it: run `artgan translate "
            f"--ckpt RUN --in PHOTOS --out STYLED` instead")


@torch.no_grad()
def translate_image(step: Translator, image: torch.Tensor, *, tile: int = DEFAULT_TILE,
                    overlap: int = DEFAULT_OVERLAP, device: torch.device | str | None = None
                    ) -> torch.Tensor:
    """``step`` applied to ``image`` (N, C, H, W) in [-1, 1]; returns (N, C, H, W) on the
    CPU. ``tile`` 0: never tile. Tiles are moved to ``device`` one at a time."""
    if image.ndim != 4 or image.shape[1] != step.channels:
        raise TranslationError(f"expected images (N, {step.channels}, H, W), got "
                               f"{tuple(image.shape)}")
    h, w = image.shape[-2:]
    small = step.min_size
    if h < small or w < small:  # tiny images: replicate the edges up to the minimum
        image = F.pad(image, (0, max(0, small - w), 0, max(0, small - h)), mode="replicate")

    def run(x: torch.Tensor) -> torch.Tensor:
        return step.module(x.to(device) if device is not None else x).float().cpu()

    multiple = max(1, step.size_multiple)
    limit = tile if tile > 0 else max(image.shape[-2:]) + multiple
    out = apply_tiled(run, image.float().cpu(), tile=max(limit, multiple), overlap=overlap,
                      multiple=multiple)
    return out[..., :h, :w].clamp(-1, 1)


def read_image(path: str | os.PathLike, channels: int) -> torch.Tensor:
    """One file as (1, C, H, W) in [-1, 1] at its own size, upright (EXIF), converted to
    ``channels`` (1: grey, 3: RGB) as the folder data source converts. Raises ``OSError``
    or ``ValueError`` (Pillow's) for files that cannot be read."""
    with Image.open(path) as img:
        upright = ImageOps.exif_transpose(img)
        array = np.array(to_mode(upright, channels), dtype=np.uint8)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))[None].float().div(127.5).sub(1.0)


def to_pil(image: torch.Tensor) -> Image.Image:
    """(C, H, W) in [-1, 1] -> an 8-bit Pillow image (RGB or L)."""
    array = image.detach().float().cpu().add(1).mul(127.5).round().clamp(0, 255)
    array = array.to(torch.uint8).numpy()
    if array.shape[0] == 1:
        return Image.fromarray(array[0], mode="L")
    return Image.fromarray(array.transpose(1, 2, 0), mode="RGB")


def write_image(image: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write (C, H, W) in [-1, 1] atomically; the format follows the file's extension."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
    picture = to_pil(image)
    if fmt == "JPEG":
        return write_atomic(path, lambda fh: picture.save(fh, format=fmt, quality=95))
    return write_atomic(path, lambda fh: picture.save(fh, format=fmt))


def side_by_side(source: torch.Tensor, translated: torch.Tensor) -> torch.Tensor:
    """``source | translated``: two (C, H, W) images side by side, (C, H, 2W)."""
    return torch.cat([source, translated], dim=-1)
