"""Finding and decoding image files: the folder scan, header checks, reduced-size JPEG
decoding, EXIF orientation, mode conversion, resize and centre crop. Used by the folder
data source and by the commands that read images (``eval --fake``).

Every function here works on one file and is safe to call from several threads: Pillow
releases the GIL while it decodes and resamples. Large images are reduced early and
decode under a shared pixel budget (:class:`PixelBudget`), so that many threads on huge
PNGs cannot exhaust the memory.
"""

from __future__ import annotations

import contextlib
import os
import threading

import numpy as np
from PIL import Image, ImageOps

_HIGH_DEPTH_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")

# The final resize box-reduces while the remaining ratio stays >= this, then resamples
# with Lanczos. JPEG DCT scaling is a box reduction too, so draft() is asked for the same
# margin: the drafted image keeps a shorter side >= REDUCING_GAP * resolution and the
# result stays within a grey level or two of a full-size decode (tests check this).
REDUCING_GAP = 3.0


#: Images of more pixels than this (after JPEG draft) are "large": they are box-reduced
#: right after decoding, before any copy (EXIF turn, mode conversion), and decode under
#: :data:`DECODE_BUDGET`. 16 MP is a 4000 x 4000 photo, about 50-70 MB decoded.
LARGE_PIXELS = 16_000_000


class PixelBudget:
    """Bounds the memory of decoding large images on several threads at once.

    A PNG cannot be decoded in part, so a 13000 x 13000 one takes 0.5-0.7 GB decoded and
    about 4 times that with the copies of orientation and mode conversion; one per core
    at once would need gigabytes. :meth:`hold` lets large images (over
    :data:`LARGE_PIXELS`) decode only while the large images in flight total at most
    ``limit`` pixels; an image over ``limit`` decodes alone. Smaller images never wait.
    """

    def __init__(self, limit: float):
        self.limit, self.used, self.peak = float(limit), 0.0, 0.0
        self._free = threading.Condition()

    @contextlib.contextmanager
    def hold(self, pixels: float):
        if pixels <= LARGE_PIXELS:
            yield
            return
        _large_blocks()
        with self._free:
            while self.used and self.used + pixels > self.limit:
                self._free.wait()
            self.used += pixels
            self.peak = max(self.peak, self.used)
        try:
            yield
        finally:
            with self._free:
                self.used -= pixels
                self._free.notify_all()


def _large_blocks() -> None:
    """Pillow allocates image memory in blocks of 16 MB, which glibc serves from each
    thread's own heap and keeps there when freed: threads that decoded huge images in
    turn each held one's worth. Blocks of 64 MB are above glibc's largest dynamic mmap
    threshold (32 MB), so they go back to the system when freed (bench/README.md, "Large
    images"). Only Pillow's large allocations change: smaller images need less than a
    block."""
    if Image.core.get_block_size() < 64 * 2**20:
        Image.core.set_block_size(64 * 2**20)


#: Shared by every decoding thread of the process: 64 MP of large images at once.
DECODE_BUDGET = PixelBudget(64_000_000)

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


_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def to_mode(img: Image.Image, channels: int) -> Image.Image:
    """Convert any Pillow mode to 'RGB' (channels=3), 'L' (channels=1) or 'RGBA'
    (channels=4). For 1 and 3 channels transparency is flattened onto white; for 4 it is
    kept (palette transparency too), and images without alpha become opaque."""
    if channels == 4:
        if img.mode in _HIGH_DEPTH_MODES:
            img = _high_depth_to_l(img)
        return img if img.mode == "RGBA" else img.convert("RGBA")
    if img.mode in _HIGH_DEPTH_MODES:
        img = _high_depth_to_l(img)
    elif img.mode in _ALPHA_MODES or "transparency" in img.info:
        img = _flatten_transparency(img)
    elif img.mode not in ("RGB", "L"):
        img = img.convert("RGB")  # CMYK, YCbCr, 1, LAB, ...
    target = "RGB" if channels == 3 else "L"
    return img if img.mode == target else img.convert(target)


FITS = ("crop", "pad")


def resize_crop(img: Image.Image, resolution: int, width: int | None = None,
                fit: str = "crop") -> Image.Image:
    """Resize to ``width`` x ``resolution`` (square when ``width`` is None), keeping the
    picture's proportions.

    ``fit="crop"``: the largest centred box of the target's aspect is resampled straight
    to the target size, in one high-quality step (for a square: resize so the shorter
    side fits, then centre-crop). ``fit="pad"``: the whole picture is resized to fit
    inside and centred on a white canvas (transparent for RGBA).
    """
    out_w, out_h = (resolution if width is None else int(width)), int(resolution)
    w, h = img.size
    if fit == "pad":
        scale = min(out_w / w, out_h / h)
        inner = img.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                           Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
        background = {"L": 255, "RGB": (255, 255, 255), "RGBA": (0, 0, 0, 0)}[img.mode]
        canvas = Image.new(img.mode, (out_w, out_h), background)
        canvas.paste(inner, ((out_w - inner.width) // 2, (out_h - inner.height) // 2))
        return canvas
    aspect = out_w / out_h
    crop_w, crop_h = (h * aspect, h) if w / h > aspect else (w, w / aspect)
    left, top = (w - crop_w) / 2, (h - crop_h) / 2
    return img.resize((out_w, out_h), Image.Resampling.LANCZOS,
                      box=(left, top, left + crop_w, top + crop_h), reducing_gap=REDUCING_GAP)


def reduce_large(img: Image.Image, resolution: int, width: int | None = None) -> Image.Image:
    """A large image (over :data:`LARGE_PIXELS`) box-reduced by the largest integer factor
    that keeps its shorter side >= ``REDUCING_GAP`` times the target's longer side (so
    any fit and orientation keeps that margin): what the final resize would do first
    anyway, done before the copies that orientation and mode conversion make. Smaller
    images, and modes Pillow cannot reduce (palette, 16-bit), are returned as they are
    (decoded)."""
    img.load()
    target = max(resolution, width or resolution)
    width, height = img.size
    factor = int(min(width, height) // (REDUCING_GAP * target))
    if width * height <= LARGE_PIXELS or factor < 2 or \
            img.mode not in ("L", "LA", "RGB", "RGBA", "RGBX", "CMYK"):
        return img
    return img.reduce(factor)  # alpha modes: premultiplied inside, as resize does


def request_draft(img: Image.Image, resolution: int, channels: int) -> None:
    """Ask a JPEG to decode at the smallest DCT scale (1/2, 1/4, 1/8) that keeps its
    shorter side >= ``REDUCING_GAP * resolution`` (non-square targets: pass their longer
    side); other formats are left alone.

    draft() acts on the stored pixels, before EXIF orientation is applied. The request
    is square, so it bounds the shorter side whichever way the image is later turned:
    a rotated image (width and height swapped) gets the same guarantee.
    """
    if img.format not in ("JPEG", "MPO"):
        return
    side = int(np.ceil(REDUCING_GAP * resolution))
    img.draft("L" if channels == 1 else "RGB", (side, side))


def decode_image(path: str, resolution: int, channels: int, min_side: int,
                 max_pixels: float, draft: bool = True, width: int | None = None,
                 fit: str = "crop") -> tuple[np.ndarray, tuple[int, int]]:
    """Decode one file to a uint8 (C, R, W) array (C = ``channels``: 1 grey, 3 RGB, 4
    RGBA; R = ``resolution`` high, W = ``width`` wide, square by default; ``fit``: see
    :func:`resize_crop`) and its stored (width, height).

    Raises :class:`Skip` if the file is unusable. Sizes are checked from the header
    before any pixel data is decoded. ``draft``: reduced-size JPEG decoding
    (:func:`request_draft`); False decodes every file at full size.
    """
    if os.path.getsize(path) == 0:
        raise Skip("empty file")
    with Image.open(path) as img:
        stored = img.size
        problem = size_problem(*stored, min_side, max_pixels)
        if problem:
            raise Skip(problem)
        if draft:
            request_draft(img, max(resolution, width or resolution), channels)
        with DECODE_BUDGET.hold(img.size[0] * img.size[1]):  # the size after draft
            small = reduce_large(img, resolution, width)  # loads the first frame (GIF, TIFF)
            upright = ImageOps.exif_transpose(small)
            array = np.array(resize_crop(to_mode(upright, channels), resolution, width, fit),
                             dtype=np.uint8)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return np.ascontiguousarray(array), stored


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
