"""Finding and decoding image files: the folder scan, header checks, reduced-size JPEG
decoding, EXIF orientation, mode conversion, resize and centre crop. Used by the folder
data source and by the commands that read images (``eval --fake``).

Every function here works on one file and is safe to call from several threads: Pillow
releases the GIL while it decodes and resamples.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageOps

_HIGH_DEPTH_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")

# The final resize box-reduces while the remaining ratio stays >= this, then resamples
# with Lanczos. JPEG DCT scaling is a box reduction too, so draft() is asked for the same
# margin: the drafted image keeps a shorter side >= REDUCING_GAP * resolution and the
# result stays within a grey level or two of a full-size decode (tests check this).
REDUCING_GAP = 3.0


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def scan_images(root: str) -> list[str]:
    """Image files under ``root`` (relative paths), in a sorted, deterministic order.

    Hidden files and folders (names starting with '.') are left out; so are files whose
    extension is not one of :data:`IMAGE_EXTENSIONS` (case-insensitive), and whatever is
    not a regular file (a FIFO, a socket, a device: reading one may block forever).
    """
    found = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = os.path.join(folder, name)
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS) \
                    and os.path.isfile(path):
                found.append(os.path.relpath(path, root))
    return found


class Skip(Exception):
    """Raised by the decoder for a file that is readable but must not be used."""


def size_problem(width: int, height: int, min_side: int, max_pixels: float) -> str | None:
    """Why an image of this (header) size must be skipped, or None if the size is fine.

    Checks, in order: Pillow's own decompression-bomb limit (``2 * MAX_IMAGE_PIXELS``,
    where Pillow raises), the ``max_pixels`` guard, and the ``min_side`` floor. Used both
    on a file's header and on the size remembered in the disk cache.
    """
    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > 2 * limit:
        return "too large (over Pillow's MAX_IMAGE_PIXELS, decompression-bomb guard)"
    if width * height > max_pixels:
        return f"too large ({width} x {height}, decompression-bomb guard)"
    if min(width, height) < min_side:
        return f"too small ({width}x{height})"
    return None


def _flatten_transparency(img: Image.Image) -> Image.Image:
    """Composite an image with alpha or palette transparency onto a white background."""
    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _high_depth_to_l(img: Image.Image) -> Image.Image:
    """16/32-bit integer or float greyscale -> 8-bit 'L', scaled rather than clipped.

    16-bit modes are divided by 257 (65535 -> 255). 'I' and 'F' images are taken as 8-bit
    if their values fit in [0, 255] (floats in [0, 1] are multiplied by 255); any other
    range (12- or 32-bit scans, signed or HDR floats) is stretched from its own minimum
    and maximum to [0, 255], since no fixed scale fits them all.
    """
    values = np.asarray(img, dtype=np.float64)
    low, peak = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if img.mode.startswith("I;16"):
        values = values / 257.0
    elif img.mode == "F" and 0.0 <= low and peak <= 1.0:
        values = values * 255.0
    elif low < 0.0 or peak > 255.0:
        values = (values - low) * (255.0 / max(peak - low, 1e-12))
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")


def to_mode(img: Image.Image, channels: int) -> Image.Image:
    """Convert any Pillow mode to 'RGB' (channels=3) or 'L' (channels=1)."""
    if img.mode in _HIGH_DEPTH_MODES:
        img = _high_depth_to_l(img)
    elif img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        img = _flatten_transparency(img)
    elif img.mode not in ("RGB", "L"):
        img = img.convert("RGB")  # CMYK, YCbCr, 1, LAB, ...
    target = "RGB" if channels == 3 else "L"
    return img if img.mode == target else img.convert(target)


def resize_crop(img: Image.Image, resolution: int) -> Image.Image:
    """Resize so the shorter side is ``resolution``, then centre-crop to a square.

    Done in one high-quality resampling step: the centred square of the source is
    resampled straight to ``resolution`` x ``resolution``, which is the same picture.
    """
    width, height = img.size
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    return img.resize((resolution, resolution), Image.Resampling.LANCZOS,
                      box=(left, top, left + side, top + side), reducing_gap=REDUCING_GAP)


def request_draft(img: Image.Image, resolution: int, channels: int) -> None:
    """Ask a JPEG to decode at the smallest DCT scale (1/2, 1/4, 1/8) that keeps its
    shorter side >= ``REDUCING_GAP * resolution``; other formats are left alone.

    draft() acts on the stored pixels, before EXIF orientation is applied. The request
    is square, so it bounds the shorter side whichever way the image is later turned:
    a rotated image (width and height swapped) gets the same guarantee.
    """
    if img.format not in ("JPEG", "MPO"):
        return
    side = int(np.ceil(REDUCING_GAP * resolution))
    img.draft("RGB" if channels == 3 else "L", (side, side))


def decode_image(path: str, resolution: int, channels: int, min_side: int,
                 max_pixels: float, draft: bool = True) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode one file to a uint8 (C, R, R) array and its stored (width, height).

    Raises :class:`Skip` if the file is unusable. Sizes are checked from the header
    before any pixel data is decoded. ``draft``: reduced-size JPEG decoding
    (:func:`request_draft`); False decodes every file at full size.
    """
    if os.path.getsize(path) == 0:
        raise Skip("empty file")
    with Image.open(path) as img:
        width, height = img.size
        problem = size_problem(width, height, min_side, max_pixels)
        if problem:
            raise Skip(problem)
        if draft:
            request_draft(img, resolution, channels)
        upright = ImageOps.exif_transpose(img)  # loads the first frame (GIF, TIFF)
    array = np.array(resize_crop(to_mode(upright, channels), resolution), dtype=np.uint8)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return np.ascontiguousarray(array), (width, height)


def try_decode(path: str, *args) -> tuple[np.ndarray, tuple[int, int]] | str:
    """:func:`decode_image`, returning the reason as a string instead of raising."""
    try:
        return decode_image(path, *args)
    except Skip as skip:
        return str(skip)
    except Image.DecompressionBombError:
        return "too large (over Pillow's MAX_IMAGE_PIXELS, decompression-bomb guard)"
    except Image.UnidentifiedImageError:
        return "not an image (unrecognised file contents)"
    except Exception as exc:  # any decoder failure skips the file, never the run
        message = (str(exc).splitlines() or [type(exc).__name__])[0]
        return f"corrupt or truncated: {message[:100]}"
