"""``--data folder:PATH``: your own images, scanned recursively and decoded once into memory.

Every image is preprocessed at construction (upright via EXIF, converted to RGB or grey,
resized so its shorter side is the resolution, centre-cropped to a square) and kept as one
uint8 tensor. Files that cannot be used are skipped and counted in ``self.skipped``; only a
folder with nothing usable at all is an error.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image, ImageOps

from artgan.core.data import DataSourceError, InMemoryDataSource, SkipReport
from artgan.plugins.data import FolderOptions

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
_HIGH_DEPTH_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")


class _Skip(Exception):
    """Raised by the decoder for a file that is readable but must not be used."""


def scan_images(root: str) -> list[str]:
    """Image files under ``root`` (relative paths), in a sorted, deterministic order.

    Hidden files and folders (names starting with '.') are left out; so are files whose
    extension is not one of :data:`IMAGE_EXTENSIONS` (case-insensitive).
    """
    found = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(os.path.relpath(os.path.join(folder, name), root))
    return found


def _flatten_transparency(img: Image.Image) -> Image.Image:
    """Composite an image with alpha or palette transparency onto a white background."""
    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _high_depth_to_l(img: Image.Image) -> Image.Image:
    """16/32-bit integer or float greyscale -> 8-bit 'L', scaled rather than clipped.

    16-bit modes are divided by 257 (65535 -> 255). 'I' and 'F' images are taken as 8-bit
    if their values fit in [0, 255] (floats in [0, 1] are multiplied by 255), otherwise
    as 16-bit; anything beyond is clipped.
    """
    values = np.asarray(img, dtype=np.float64)
    peak = float(values.max()) if values.size else 0.0
    if img.mode.startswith("I;16") or peak > 255:
        values = values / 257.0
    elif img.mode == "F" and peak <= 1.0:
        values = values * 255.0
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
                      box=(left, top, left + side, top + side), reducing_gap=3.0)


def decode_image(path: str, resolution: int, channels: int, min_side: int,
                 max_pixels: float) -> np.ndarray:
    """Decode one file to a uint8 (C, R, R) array; raise :class:`_Skip` if it is unusable.

    Sizes are checked from the header before any pixel data is decoded.
    """
    if os.path.getsize(path) == 0:
        raise _Skip("empty file")
    with Image.open(path) as img:
        width, height = img.size
        if width * height > max_pixels:
            raise _Skip(f"too large ({width} x {height}, decompression-bomb guard)")
        if min(width, height) < min_side:
            raise _Skip(f"too small ({width}x{height})")
        if img.format in ("JPEG", "MPO"):  # reduced-size decoding; sides stay >= resolution
            img.draft("RGB" if channels == 3 else "L", (resolution, resolution))
        upright = ImageOps.exif_transpose(img)  # loads the first frame (GIF, TIFF)
    array = np.array(resize_crop(to_mode(upright, channels), resolution), dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _try_decode(path: str, *args) -> np.ndarray | str:
    """:func:`decode_image`, returning the reason as a string instead of raising."""
    try:
        return decode_image(path, *args)
    except _Skip as skip:
        return str(skip)
    except Image.DecompressionBombError:
        return "too large (over Pillow's MAX_IMAGE_PIXELS, decompression-bomb guard)"
    except Image.UnidentifiedImageError:
        return "not an image (unrecognised file contents)"
    except Exception as exc:  # any decoder failure skips the file, never the run
        message = (str(exc).splitlines() or [type(exc).__name__])[0]
        return f"corrupt or truncated: {message[:100]}"


def _checked_folder(root: str) -> str:
    """Return ``root`` if it is an existing folder, else raise a clear DataSourceError."""
    if not os.path.exists(root):
        raise DataSourceError(f"folder not found: {root}")
    if not os.path.isdir(root):
        raise DataSourceError(f"not a folder: {root} (--data folder:PATH needs a folder "
                              f"of images, not a file)")
    return root


def _layout(files: list[str], mode: str) -> tuple[list[str], list[int] | None]:
    """Class names and per-file label (-1: directly in PATH), or ([], None) if unlabelled."""
    split = [rel.split(os.sep, 1) for rel in files]
    class_names = sorted({parts[0] for parts in split if len(parts) == 2})
    if mode == "none" or not class_names:
        return [], None
    index = {name: i for i, name in enumerate(class_names)}
    return class_names, [index[parts[0]] if len(parts) == 2 else -1 for parts in split]


def _decode_all(root: str, files: list[str], usable: list[int], resolution: int, channels: int,
                options: FolderOptions, report: SkipReport) -> tuple[torch.Tensor, list[int]]:
    """Decode ``files[usable]`` in parallel, in order; return (uint8 tensor, kept indices).

    Unusable files go to ``report``. Pillow releases the GIL while decoding and resizing,
    so threads scale; results are collected in file order whatever finishes first.
    """
    min_side = options.min_side or max(8, resolution // 4)
    max_pixels = options.max_megapixels * 1e6
    workers = min(options.workers or os.cpu_count() or 1, max(1, len(usable)))
    args = (resolution, channels, min_side, max_pixels)
    out = torch.empty((len(usable), channels, resolution, resolution), dtype=torch.uint8)
    kept: list[int] = []
    with warnings.catch_warnings():  # Pillow's own bomb and EXIF warnings: no spam
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", module=r"PIL\.")
        with ThreadPoolExecutor(max_workers=workers) as pool:
            paths = [os.path.join(root, files[i]) for i in usable]
            results = pool.map(lambda path: _try_decode(path, *args), paths)  # in order
            for index, result in zip(usable, results):
                if isinstance(result, str):
                    report.add(files[index], result)
                else:
                    out[len(kept)] = torch.from_numpy(result)
                    kept.append(index)
    images = out[:len(kept)].clone() if len(kept) < len(usable) else out
    return images, kept


class FolderDataSource(InMemoryDataSource):
    """Images from a folder, scanned recursively (``--data folder:PATH``).

    Files: .jpg .jpeg .png .webp .bmp .gif (first frame) .tif .tiff, any letter case;
    hidden files and folders and other extensions are ignored. Files that cannot be
    used (corrupt, truncated, not really images, too small, too large) are skipped and
    counted in ``self.skipped``. Sizes are checked from the file header: images over
    ``max_megapixels`` (or over Pillow's own ``2 * Image.MAX_IMAGE_PIXELS`` limit) are
    skipped, never decoded. ``self.files`` lists the kept files, relative to PATH.

    Labels (option ``labels``):

    - ``auto``: if any immediate subfolder of PATH contains images (at any depth), each
      such subfolder is a class; class names are the sorted subfolder names and every
      image below a subfolder gets that class. Images lying directly in PATH are then
      skipped ("not in a class subfolder"). If no subfolder contains images, the data is
      unlabelled. Classes are decided from the file names, before decoding.
    - ``none``: always unlabelled; every image below PATH is used.
    """

    default_resolution = 64
    default_epochs = 25

    def __init__(self, root: str, *, resolution: int, channels: int,
                 options: FolderOptions | None = None):
        options = options or FolderOptions()
        resolution = int(resolution)
        if resolution < 1:
            raise DataSourceError(f"folder data needs a positive resolution, got {resolution}")
        if channels not in (1, 3):
            raise DataSourceError(f"folder data needs channels 1 or 3, got {channels}")
        self.root = root
        report = SkipReport()
        files = scan_images(_checked_folder(root))
        if not files:
            raise DataSourceError(f"no images found in {root} (looked for "
                                  f"{', '.join(IMAGE_EXTENSIONS)})")
        class_names, labels = _layout(files, options.labels)
        usable = []
        for index, rel in enumerate(files):
            if labels is not None and labels[index] < 0:
                report.add(rel, "not in a class subfolder")
            else:
                usable.append(index)
        images, kept = _decode_all(root, files, usable, resolution, channels, options, report)
        if not kept:
            problems = "; ".join(f"{p} ({why})" for p, why in report.examples)
            raise DataSourceError(f"none of the {len(files)} image files in {root} could be "
                                  f"used; first problems: {problems}")
        label_tensor = None
        if labels is not None:
            label_tensor = torch.tensor([labels[i] for i in kept], dtype=torch.int64)
        super().__init__(images, label_tensor, class_names)
        self.files = [files[i] for i in kept]
        self.skipped = report

    @classmethod
    def count_images(cls, argument: str | None, options: FolderOptions | None = None
                     ) -> int | None:
        """Image files under PATH (before unusable ones are skipped); None if no folder.

        Cheap (a directory walk, no decoding): ``--recipe auto`` uses it to pick the
        small-data recipe for small folders.
        """
        if not argument or not os.path.isdir(os.path.expanduser(argument)):
            return None
        return len(scan_images(os.path.expanduser(argument)))

    @classmethod
    def from_spec(cls, argument: str | None, options: FolderOptions | None, *,
                  resolution: int | None, channels: int, seed: int = 0) -> FolderDataSource:
        """The registered factory: ``argument`` is PATH from ``--data folder:PATH``."""
        if not argument:
            raise DataSourceError("folder needs a path: --data folder:PATH")
        return cls(os.path.expanduser(argument), resolution=resolution or cls.default_resolution,
                   channels=channels, options=options)
