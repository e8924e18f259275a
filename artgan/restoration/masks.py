"""Masks of damaged pixels: reading and checking them, finding simple damage, blending.

A mask is a boolean array (H, W), True where the picture is damaged. A mask file is a
greyscale (or any) image of the picture's size: white (>= 128 after conversion to
grey) marks damage, black keeps the pixel; transparent pixels of a mask count as black,
so white strokes on a transparent layer work too.

``--mask auto`` finds damage that is unambiguous: connected regions of pure white (every
channel >= 250), pure black (<= 5) or transparency (alpha < 128) of at least a minimum
area, grown by a couple of pixels to take in the fringe a JPEG leaves around them. It
cannot tell a white sky from a torn corner: it says what it found, and a drawn mask is
the remedy.

Blending: generated content replaces the holes, and fades out over a feathered band of
``feather`` pixels around them (Euclidean distance d to the nearest hole pixel):

    w = 1 in the hole,  1 - d / (feather + 1) for 0 < d <= feather,  0 beyond
    out = round(w * generated + (1 - w) * original)

Where w = 0 the original bytes are copied, so every pixel farther than ``feather`` from
a hole is bit-identical to the input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from . import RestoreError
from .images import HIGH_DEPTH, Picture, open_upright, to_8bit_grey

WHITE, BLACK, OPAQUE = 250, 5, 128
#: Less than this fraction of known pixels leaves nothing to restore from.
MIN_KNOWN = 0.02
_EIGHT = np.ones((3, 3), dtype=bool)  # 8-connectivity


@dataclass(frozen=True)
class Region:
    """A connected damaged region: what it is, its area in pixels and its bounding box."""

    kind: str  # "white", "black", "transparent" or "marked"
    area: int
    left: int
    top: int
    width: int
    height: int

    def describe(self) -> str:
        return (f"{self.kind} region of {self.area} px at x={self.left}, y={self.top} "
                f"({self.width}x{self.height})")


def load_mask(path: str | os.PathLike, picture: Picture) -> np.ndarray:
    """Read a mask file for ``picture`` (white = damaged) and check its size."""
    img = open_upright(path, "--mask")
    if img.mode in HIGH_DEPTH:
        img = to_8bit_grey(img)
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    values = np.asarray(img.convert("L"), dtype=np.uint8)
    if values.shape != (picture.height, picture.width):
        raise RestoreError(
            f"--mask {Path(path).name} is {values.shape[1]}x{values.shape[0]} px but --image "
            f"{picture.path.name} is {picture.width}x{picture.height} (both upright by EXIF): "
            f"the mask must be the image's size, white where it is damaged")
    return values >= 128


def components(mask: np.ndarray) -> tuple[np.ndarray, list[tuple[slice, slice]]]:
    """8-connected components of ``mask``: labels (H, W) (0 = none) and each one's
    bounding slices (rows, columns)."""
    labels, _count = ndimage.label(mask, structure=_EIGHT)
    return labels, list(ndimage.find_objects(labels))


def regions(mask: np.ndarray, kind: str = "marked") -> list[Region]:
    """The connected regions of ``mask``, largest first."""
    labels, boxes = components(mask)
    areas = np.bincount(labels.ravel())
    found = [Region(kind, int(areas[i + 1]), box[1].start, box[0].start,
                    box[1].stop - box[1].start, box[0].stop - box[0].start)
             for i, box in enumerate(boxes)]
    return sorted(found, key=lambda r: -r.area)


def default_min_area(height: int, width: int) -> int:
    """The smallest region ``--mask auto`` takes for damage: 0.05% of the image, at
    least 16 px (4x4)."""
    return max(16, round(0.0005 * height * width))


def auto_mask(picture: Picture, *, min_area: int | None = None,
              grow: int = 2) -> tuple[np.ndarray, list[Region]]:
    """Find pure white, pure black and transparent regions (see the module docstring).

    Returns the mask (grown by ``grow`` px) and the regions found (before growing)."""
    if min_area is None:
        min_area = default_min_area(picture.height, picture.width)
    px = picture.pixels
    candidates = [("white", (px >= WHITE).all(axis=2)), ("black", (px <= BLACK).all(axis=2))]
    if picture.alpha is not None:
        candidates.insert(0, ("transparent", picture.alpha < OPAQUE))
    mask = np.zeros(px.shape[:2], dtype=bool)
    found: list[Region] = []
    for kind, candidate in candidates:
        candidate = candidate & ~mask  # transparency first: it wins over colour
        labels, boxes = components(candidate)
        areas = np.bincount(labels.ravel())
        for i, box in enumerate(boxes):
            if areas[i + 1] >= min_area:
                mask[box] |= labels[box] == i + 1
                found.append(Region(kind, int(areas[i + 1]), box[1].start, box[0].start,
                                    box[1].stop - box[1].start, box[0].stop - box[0].start))
    if grow > 0 and mask.any():
        mask = ndimage.binary_dilation(mask, structure=_EIGHT, iterations=grow)
    return mask, sorted(found, key=lambda r: -r.area)


def check_mask(mask: np.ndarray, what: str) -> None:
    """Refuse a mask that marks nothing, or nearly everything (nothing to project from)."""
    damaged = int(mask.sum())
    if damaged == 0:
        raise RestoreError(f"{what} marks no pixel as damaged (white = damaged, black = "
                           f"keep): there is nothing to restore")
    known = 1 - damaged / mask.size
    if known < MIN_KNOWN:
        raise RestoreError(f"{what} marks {100 * (1 - known):.1f}% of the image as damaged: "
                           f"too little of the picture is left to restore it from (at least "
                           f"{100 * MIN_KNOWN:g}% must be undamaged)")


def feather_weights(mask: np.ndarray, feather: int) -> np.ndarray:
    """Blending weights (H, W) float64: 1 in the holes, falling linearly to 0 over
    ``feather`` px around them (see the module docstring)."""
    weights = mask.astype(np.float64)
    if feather > 0 and mask.any():
        distance = ndimage.distance_transform_edt(~mask)
        band = (distance > 0) & (distance <= feather)
        weights[band] = 1 - distance[band] / (feather + 1)
    return weights


def blend(original: np.ndarray, generated: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``round(w * generated + (1 - w) * original)`` as uint8 (H, W, C); where w = 0 the
    original bytes, unchanged."""
    w = weights[..., None]
    mixed = np.rint(w * generated.astype(np.float64) + (1 - w) * original.astype(np.float64))
    mixed = np.clip(mixed, 0, 255).astype(np.uint8)
    return np.where(w > 0, mixed, original)
