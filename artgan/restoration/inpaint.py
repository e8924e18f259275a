"""Masked restoration at the image's own size, with a trained generator or a restorer.

A generator makes images of one size (its resolution R), the picture may be any size.
Each hole is therefore restored in a square crop around it:

1. the mask's 8-connected components are grouped: holes whose feather bands meet
   share one crop;
2. each group gets a square box centred on it, of side
   ``max(hole + band, hole * (1 + 2 * context), min(R, longer side of the image))``:
   the hole plus undamaged surroundings, and at least the model's resolution where the
   image is that large. The box is shifted to lie inside the image where it fits; a box
   larger than the image extends past its edges, and those pixels count as unknown;
3. the crop is resized to R x R (bilinear, antialiased), its known pixels (undamaged,
   opaque, inside the image, not in a hole still waiting) are those whose resized
   weight is 1, and :func:`~artgan.restoration.projection.project` finds the latent
   that reproduces them;
4. the generated crop is resized back, shifted by the mean colour difference on a ring
   of known pixels around the hole (so the fill matches its surroundings' brightness),
   and blended in with :func:`~artgan.restoration.masks.feather_weights`. Pixels more
   than ``feather`` from a hole keep their bytes.

Groups are restored one after the other; a restored hole counts as known for the next
crops. An image-to-image restorer (``G.image_conditioned``) instead runs fully
convolutionally on the whole picture: :func:`restore` dispatches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..core.networks import Generator
from . import RestoreError
from .images import check_model_channels, is_colour, to_channels, to_float, to_tensor
from .masks import OPAQUE, blend, components, feather_weights
from .projection import FeatureLoss, Projection, project
from .restorer import restore_with_network

#: A crop whose known pixels are fewer than this fraction cannot be projected.
MIN_KNOWN_IN_CROP = 0.05


@dataclass(frozen=True)
class Crop:
    """One square crop: its top-left corner and side in image pixels (it may extend past
    the image), the component labels of the holes it restores and their bounding box
    (top, left, bottom, right)."""

    top: int
    left: int
    size: int
    labels: tuple[int, ...]
    box: tuple[int, int, int, int]


@dataclass
class Restoration:
    """The restored pixels (H, W, C) uint8 (and alpha), the blending weights (H, W) (0
    where the input's bytes were kept), the crops and their projections, and notes."""

    pixels: np.ndarray
    alpha: np.ndarray | None
    weights: np.ndarray
    crops: list[Crop] = field(default_factory=list)
    projections: list[Projection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan_crops(mask: np.ndarray, resolution: int, *, feather: int = 6,
               context: float = 0.5) -> tuple[np.ndarray, list[Crop]]:
    """Group the holes of ``mask`` and place a square crop around each group (see the
    module docstring). Returns the component labels (H, W) and the crops."""
    labels, boxes = components(mask)
    height, width = mask.shape
    # holes whose feather bands (grown by a pixel) meet share a crop
    near = ndimage.distance_transform_edt(~mask) <= feather + 1
    group_of, _ = ndimage.label(near, structure=np.ones((3, 3), bool))
    groups: dict[int, list] = {}
    for i, box in enumerate(boxes):
        rows, cols = np.nonzero(labels[box] == i + 1)
        key = int(group_of[box][rows[0], cols[0]])
        top, left, bottom, right = box[0].start, box[1].start, box[0].stop, box[1].stop
        if key in groups:
            g = groups[key]
            groups[key] = [min(g[0], top), min(g[1], left), max(g[2], bottom),
                           max(g[3], right), g[4] + [i + 1]]
        else:
            groups[key] = [top, left, bottom, right, [i + 1]]
    crops = []
    for top, left, bottom, right, ids in groups.values():
        side = max(bottom - top, right - left)
        need = side + 2 * (feather + 1)
        size = max(need, min(max(math.ceil(side * (1 + 2 * context)), resolution),
                             max(height, width)))
        crops.append(Crop(_place(top, bottom, height, size), _place(left, right, width, size),
                          size, tuple(sorted(ids)), (top, left, bottom, right)))
    return labels, crops


def _place(start: int, stop: int, extent: int, size: int) -> int:
    """Where a crop of ``size`` around [start, stop) begins: centred on it, moved inside
    [0, extent) where it fits, else centred on the image."""
    if size <= extent:
        return min(max((start + stop - size) // 2, 0), extent - size)
    return (extent - size) // 2


def _cut(array: np.ndarray, crop: Crop, fill=0) -> np.ndarray:
    """``array[top:top+size, left:left+size]``, padded with ``fill`` past the image."""
    h, w = array.shape[:2]
    out = np.full((crop.size, crop.size, *array.shape[2:]), fill, dtype=array.dtype)
    t0, l0 = max(crop.top, 0), max(crop.left, 0)
    t1, l1 = min(crop.top + crop.size, h), min(crop.left + crop.size, w)
    out[t0 - crop.top:t1 - crop.top, l0 - crop.left:l1 - crop.left] = array[t0:t1, l0:l1]
    return out


def _paste(array: np.ndarray, crop: Crop, values: np.ndarray) -> None:
    h, w = array.shape[:2]
    t0, l0 = max(crop.top, 0), max(crop.left, 0)
    t1, l1 = min(crop.top + crop.size, h), min(crop.left + crop.size, w)
    array[t0:t1, l0:l1] = values[t0 - crop.top:t1 - crop.top, l0 - crop.left:l1 - crop.left]


def _resize(t: torch.Tensor, size: int) -> torch.Tensor:
    if t.shape[-1] == size and t.shape[-2] == size:
        return t
    return F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True)


def _in_channels(values: np.ndarray, channels: int) -> np.ndarray:
    """Float pixels (H, W, C) in the model's channels -> the picture's channels."""
    if values.shape[2] == channels:
        return values
    if channels == 1:  # Pillow's L = (299 R + 587 G + 114 B) / 1000
        return (values @ np.array([0.299, 0.587, 0.114]))[..., None]
    return np.repeat(values, 3, axis=2)


def _check_channels(G: Generator, pixels: np.ndarray) -> None:
    check_model_channels(G.channels, G.who, G.output_shape)
    if G.channels == 1 and pixels.shape[2] == 3 and is_colour(pixels):
        raise RestoreError(f"{G.who} is greyscale (a --channels 1 run) but the image is in "
                           f"colour: its holes would be filled in grey. Convert the image "
                           f"to greyscale first, or use a colour model")


def restore_with_generator(G: Generator, pixels: np.ndarray, mask: np.ndarray, *,
                           alpha: np.ndarray | None = None,
                           features: FeatureLoss | None = None, feather: int = 6,
                           context: float = 0.5, steps: int = 300, restarts: int = 4,
                           seed: int = 0, classes: list[int] | None = None,
                           feature_weight: float = 0.1,
                           on_step: Callable[[], None] | None = None) -> Restoration:
    """Fill the holes ``mask`` (H, W) of ``pixels`` (H, W, C) uint8 with ``G``, crop by
    crop (module docstring). ``alpha`` (H, W): transparent pixels are not used as known
    and restored ones become opaque. ``on_step`` is called after every projection step
    (``steps`` per crop)."""
    _check_channels(G, pixels)
    if G.image_conditioned or G.z_dim < 1:
        raise RestoreError(f"{G.who} has no latent space: restore with it through "
                           f"restore() (an image-to-image restorer)")
    if mask.shape != pixels.shape[:2]:
        raise RestoreError(f"the mask is {mask.shape[1]}x{mask.shape[0]}, the image "
                           f"{pixels.shape[1]}x{pixels.shape[0]}")
    resolution, channels = G.resolution, pixels.shape[2]
    labels, crops = plan_crops(mask, resolution, feather=feather, context=context)
    current, current_alpha = pixels.copy(), None if alpha is None else alpha.copy()
    remaining = mask.copy()
    opaque = np.ones(mask.shape, bool) if alpha is None else alpha >= OPAQUE
    weights_all = np.zeros(mask.shape, dtype=np.float64)
    result = Restoration(current, current_alpha, weights_all, crops)
    device = next(G.parameters()).device
    for crop in crops:
        valid = _cut(np.ones(mask.shape, bool), crop, False)
        known = valid & ~_cut(remaining, crop, True) & _cut(opaque, crop, False)
        share = known.sum() / max(valid.sum(), 1)
        top, left, bottom, right = crop.box
        where = f"the hole at x={left}, y={top} ({right - left}x{bottom - top})"
        if share < MIN_KNOWN_IN_CROP:
            raise RestoreError(f"{where} has too little undamaged picture around it "
                               f"({100 * share:.0f}% of its {crop.size} px crop): mark less, "
                               f"or restore it in several passes")
        region = _cut(current, crop)
        target = _resize(to_tensor(to_channels(region, G.channels)), resolution)
        known_small = _resize(torch.from_numpy(known.astype(np.float32))[None, None],
                              resolution) >= 0.999
        if not known_small.any():
            raise RestoreError(f"{where}: no known pixel is left once its crop is resized "
                               f"to the model's {resolution} px")
        found = project(G, target.to(device), known=known_small.float().to(device),
                        features=features, steps=steps, restarts=restarts, seed=seed,
                        classes=classes, feature_weight=feature_weight, on_step=on_step)
        result.projections.append(found)
        generated = _in_channels(to_float(_resize(found.image, crop.size)), channels)
        hole = np.isin(_cut(labels, crop), crop.labels)
        # match the fill's mean colour to a ring of known pixels around the hole
        ring = known & ~hole & (ndimage.distance_transform_edt(~hole) <= 2 * feather + 2)
        if ring.sum() >= 8:
            offset = (region[ring].astype(np.float64) - generated[ring]).mean(axis=0)
            generated = generated + offset
        w = feather_weights(hole, feather) * valid
        mixed = blend(region, np.clip(generated, 0, 255), w)
        _paste(current, crop, mixed)
        if current_alpha is not None:
            a = blend(_cut(current_alpha, crop)[..., None], np.full((*w.shape, 1), 255.0), w)
            _paste(current_alpha, crop, a[..., 0])
        _paste(weights_all, crop, np.maximum(_cut(weights_all, crop), w))
        remaining &= ~np.isin(labels, crop.labels)
    return result


def restore_with_restorer(G: Generator, pixels: np.ndarray, mask: np.ndarray | None, *,
                          alpha: np.ndarray | None = None, feather: int = 6,
                          tile: int = 512, overlap: int = 32) -> Restoration:
    """Restore with an image-to-image restorer network (``G.image_conditioned``, input
    the damaged image and a mask channel) through
    ``artgan.restoration.restorer.restore_with_network``, fully convolutionally at the
    picture's size. With a mask, the result is blended into the holes as with a
    generator, so the rest keeps its bytes; without one, the network finds the damage
    and its whole output is the result."""
    _check_channels(G, pixels)
    if G.condition_channels != G.channels + 1:
        raise RestoreError(f"{G.who} is an image-to-image network taking "
                           f"{G.condition_channels} input channels, not a restorer (which "
                           f"takes the image's {G.channels} and a mask channel)")
    if mask is None and G.keeps_unmasked:
        raise RestoreError(f"{G.who} keeps every unmasked pixel (for unet: -o "
                           f"gen.residual=true): it repairs only what the mask marks, and "
                           f"without one it would return the picture unchanged; give "
                           f"--mask PATH (white = damaged) or --mask auto")
    param = next(G.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    image = to_tensor(to_channels(pixels, G.channels)).to(device)
    mask_t = None if mask is None else \
        torch.from_numpy(mask.astype(np.float32))[None, None].to(device)  # 1 = damaged
    with torch.no_grad():
        out = restore_with_network(G, image, mask_t, tile=tile, overlap=overlap)
    height, width = pixels.shape[:2]
    if not isinstance(out, torch.Tensor) or tuple(out.shape[-3:]) != (G.channels, height, width):
        raise RestoreError(f"the restorer returned {getattr(out, 'shape', type(out).__name__)},"
                           f" expected ({G.channels}, {height}, {width})")
    generated = np.clip(_in_channels(to_float(out), pixels.shape[2]), 0, 255)
    if mask is None:
        full = np.ones((height, width))
        return Restoration(np.rint(generated).astype(np.uint8), alpha, full,
                           notes=["the restorer found the damage itself (no --mask)"])
    # a residual restorer changes only the masked pixels (its fill meets the surroundings
    # already): no seam to feather, and the weights say what changed
    w = mask.astype(np.float64) if G.keeps_unmasked else \
        feather_weights(mask, feather)
    restored_alpha = None if alpha is None else \
        blend(alpha[..., None], np.full((height, width, 1), 255.0), w)[..., 0]
    return Restoration(blend(pixels, generated, w), restored_alpha, w)


def restore(G: Generator, pixels: np.ndarray, mask: np.ndarray | None, *,
            alpha: np.ndarray | None = None, tile: int = 512, overlap: int = 32,
            **settings) -> Restoration:
    """Restore with whatever ``G`` is: an image-to-image restorer runs on the whole
    picture (:func:`restore_with_restorer`, ``tile``/``overlap``), any other generator
    fills the masked holes by projection (:func:`restore_with_generator`, ``settings``)."""
    if G.image_conditioned:
        return restore_with_restorer(G, pixels, mask, alpha=alpha, tile=tile,
                                     overlap=overlap, feather=settings.get("feather", 6))
    if mask is None:
        raise RestoreError("a generator restores the holes it is shown: give --mask PATH "
                           "(white = damaged) or --mask auto")
    return restore_with_generator(G, pixels, mask, alpha=alpha, **settings)
