"""The user's pictures for projection and restoration: read with Pillow, upright, 8 bit.

Images are turned upright by their EXIF orientation. Grey (L) and colour (RGB) are
kept as they are; palette, CMYK, 1-bit and similar modes become RGB or L, 16-bit and
float greyscale are scaled to 8 bit. Transparency (RGBA, LA, palette transparency) is
kept apart as an alpha channel: ``--mask auto`` treats transparent pixels as damage.

Pixels are numpy arrays (H, W, C) of uint8 with C = 1 or 3; the networks see tensors
(1, C, H, W) in [-1, 1].
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..core.atomic import write_atomic
from . import RestoreError

HIGH_DEPTH = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


@dataclass
class Picture:
    """An image as read from a file: ``pixels`` (H, W, C) uint8, C = 1 or 3, and
    ``alpha`` (H, W) uint8 where the file has transparency, else None."""

    pixels: np.ndarray
    alpha: np.ndarray | None
    path: Path
    notes: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[2])

    def flattened(self) -> np.ndarray:
        """The pixels composited onto white where transparent (as the folder data source
        reads training images)."""
        if self.alpha is None:
            return self.pixels
        a = self.alpha[..., None].astype(np.float64) / 255.0
        return np.rint(self.pixels * a + 255.0 * (1 - a)).astype(np.uint8)


def to_8bit_grey(img: Image.Image) -> Image.Image:
    """16/32-bit integer or float greyscale -> 8-bit L (16 bit: / 257; other ranges are
    stretched from their minimum and maximum)."""
    values = np.asarray(img, dtype=np.float64)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if img.mode.startswith("I;16"):
        values = values / 257.0
    elif img.mode == "F" and low >= 0.0 and high <= 1.0:
        values = values * 255.0
    elif low < 0.0 or high > 255.0:
        values = (values - low) * (255.0 / max(high - low, 1e-12))
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")


def open_upright(path: str | os.PathLike, what: str) -> Image.Image:
    """Open and decode an image file fully, upright by EXIF; a one-line
    :class:`RestoreError` naming ``what`` (``--image``) for anything that is not one."""
    path = Path(path)
    if path.is_dir():
        raise RestoreError(f"{what} {path}: is a folder, not an image file")
    try:
        with Image.open(path) as img:
            img.load()
            upright = ImageOps.exif_transpose(img)
            upright.load()
    except UnidentifiedImageError:
        raise RestoreError(f"{what} {path}: not an image (Pillow cannot read this file; "
                           f"use a PNG, JPEG, WebP, BMP or TIFF)") from None
    except Image.DecompressionBombError as exc:
        raise RestoreError(f"{what} {path}: too large ({exc})") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated, corrupt, unsupported
        if isinstance(exc, FileNotFoundError):
            raise RestoreError(f"{what} {path}: file not found") from None
        if isinstance(exc, PermissionError):
            raise RestoreError(f"{what} {path}: cannot be read (permission denied)") from None
        raise RestoreError(f"{what} {path}: cannot be decoded ({exc}); is the file "
                           f"complete?") from None
    return upright


def read_image(path: str | os.PathLike, what: str = "--image") -> Picture:
    """Read an image file as a :class:`Picture` (see the module docstring)."""
    img = open_upright(path, what)
    notes: list[str] = []
    alpha = None
    if img.mode in HIGH_DEPTH:
        img = to_8bit_grey(img)
        notes.append("16-bit or float image read as 8-bit")
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        grey = img.mode in ("LA", "La") or (img.mode == "L")
        img = img.convert("LA" if grey else "RGBA")
        alpha = np.asarray(img.getchannel("A"), dtype=np.uint8).copy()
        img = img.convert("L" if grey else "RGB")
        if alpha.min() == 255:
            alpha = None  # an alpha channel that is opaque everywhere
    elif img.mode == "1":
        img = img.convert("L")
    elif img.mode not in ("L", "RGB"):
        img = img.convert("RGB")  # palette, CMYK, YCbCr, LAB, ...
    pixels = np.asarray(img, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    return Picture(pixels.copy(), alpha, Path(path), notes)


def check_model_channels(channels: int, who: str, shape: tuple[int, ...] | None = None) -> None:
    """Pictures are read as grey (1 channel) or colour (3), square; other models cannot
    be fed (``shape``: the model's (C, H, W), to refuse a non-square ``--aspect`` one)."""
    if channels not in (1, 3):
        raise RestoreError(f"{who} makes {channels}-channel images; artgan reads pictures "
                           f"as greyscale (1 channel) or RGB (3 channels) only")
    if shape is not None and shape[-1] != shape[-2]:
        raise RestoreError(f"{who} makes {shape[-1]}x{shape[-2]} images (--aspect); artgan "
                           f"fits pictures to square models only")


def grey(pixels: np.ndarray) -> np.ndarray:
    """RGB -> L with Pillow's weights (ITU-R 601-2: L = 0.299 R + 0.587 G + 0.114 B)."""
    if pixels.shape[2] == 1:
        return pixels
    return np.array(Image.fromarray(pixels, "RGB").convert("L"), dtype=np.uint8)[..., None]


def is_colour(pixels: np.ndarray, tolerance: float = 3.0) -> bool:
    """Whether an RGB image has colour: its channels differ from their grey by more than
    ``tolerance`` levels on average (JPEGs of grey pictures differ by a level or two)."""
    if pixels.shape[2] == 1:
        return False
    diff = np.abs(pixels.astype(np.int16) - grey(pixels).astype(np.int16))
    return float(diff.mean()) > tolerance


def to_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """Grey <-> RGB: grey is repeated into three channels, RGB becomes L."""
    if pixels.shape[2] == channels:
        return pixels
    if channels == 1:
        return grey(pixels)
    return np.repeat(pixels, 3, axis=2)


def fit_square(pixels: np.ndarray, resolution: int) -> tuple[np.ndarray, str]:
    """Resize (shorter side, Lanczos) and centre-crop to ``resolution`` x ``resolution``,
    as the folder data source prepares training images. Returns the pixels and a note."""
    h, w, c = pixels.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = pixels[top:top + side, left:left + side]
    img = Image.fromarray(square[..., 0] if c == 1 else square, "L" if c == 1 else "RGB")
    if side != resolution:
        img = img.resize((resolution, resolution), Image.Resampling.LANCZOS)
    out = np.asarray(img, dtype=np.uint8)
    out = out[..., None] if out.ndim == 2 else out
    crop = f"centre-cropped to {side}x{side} and " if (h, w) != (side, side) else ""
    what = "resized" if side != resolution else "used"
    note = f"{w}x{h} image {crop}{what} at the model's {resolution}x{resolution} px"
    return out.copy(), note


def to_tensor(pixels: np.ndarray):
    """(H, W, C) uint8 -> (1, C, H, W) float32 in [-1, 1]."""
    import torch

    t = torch.from_numpy(np.array(pixels, dtype=np.uint8)).permute(2, 0, 1)[None].float()
    return t / 127.5 - 1


def to_pixels(images) -> np.ndarray:
    """(1, C, H, W) or (C, H, W) in [-1, 1] -> (H, W, C) uint8, rounded."""
    import torch

    t = images.detach().float().cpu()
    t = t[0] if t.ndim == 4 else t
    values = ((t.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return values.permute(1, 2, 0).numpy().copy()


def to_float(images) -> np.ndarray:
    """(1, C, H, W) in [-1, 1] -> (H, W, C) float64 in [0, 255], not rounded (for blending)."""
    t = images.detach().double().cpu()
    t = t[0] if t.ndim == 4 else t
    return ((t.clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0).numpy()


def pil_image(pixels: np.ndarray, alpha: np.ndarray | None = None) -> Image.Image:
    """(H, W, C) uint8 (and alpha) -> a Pillow image (L, RGB, LA or RGBA)."""
    if pixels.shape[2] == 1:
        img = Image.fromarray(pixels[..., 0], "L")
    else:
        img = Image.fromarray(pixels, "RGB")
    if alpha is not None:
        img = img.convert("LA" if pixels.shape[2] == 1 else "RGBA")
        img.putalpha(Image.fromarray(alpha, "L"))
    return img


def save_image(pixels: np.ndarray, path: str | os.PathLike,
               alpha: np.ndarray | None = None) -> Path:
    """Write pixels atomically (temporary file + rename) in the format of the suffix."""
    path = Path(path)
    img = pil_image(pixels, alpha)
    fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
    return write_atomic(path, lambda fh: img.save(fh, format=fmt))


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file (resolved; hard links and symlinks too)."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False
