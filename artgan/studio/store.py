"""What the studio holds for the page: generated PNGs (bounded) and uploads (in a
temporary folder removed when the studio closes). Thread-safe; no torch."""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ..restoration import RestoreError
from . import StudioError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str | None, default: str = "upload") -> str:
    """A file name made of ``[A-Za-z0-9._-]`` only (no folders, no leading dot), at most
    80 characters: what the user's file is called inside the studio's own folder."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = _UNSAFE.sub("_", base).strip("._")[:80]
    return base or default


class ImageStore:
    """PNGs by key, oldest dropped first once they pass ``max_bytes`` in all."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, key: str, png: bytes, filename: str) -> str:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old[0])
            self._items[key] = (png, filename)
            self._bytes += len(png)
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _key, (data, _name) = self._items.popitem(last=False)
                self._bytes -= len(data)
        return key

    def get(self, key: str) -> tuple[bytes, str] | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Upload:
    """An uploaded picture: its id, the user's (made safe) file name, where it lies in
    the studio's folder, and what was read from it."""

    id: str
    name: str
    path: Path
    width: int
    height: int
    channels: int
    alpha: bool
    size: int

    def to_json(self) -> dict:
        return {"upload": self.id, "name": self.name, "width": self.width,
                "height": self.height, "channels": self.channels, "alpha": self.alpha,
                "bytes": self.size}


def web_message(message: str) -> str:
    """A restoration error as the page says it: no command-line flags."""
    for flag, words in (("--mask auto", "the automatic mask"), ("--mask PATH", "a mask file"),
                        ("no --mask", "no mask"),
                        ("--mask ", "the mask "), ("--image ", "the picture ")):
        message = message.replace(flag, words)
    return message


class Uploads:
    """Uploaded files in a private temporary folder; the oldest beyond ``kept`` are
    deleted. Each file is checked as it arrives: its header must be an image's, of at
    most ``max_pixels``, and it must decode (``artgan.restoration.images.read_image``,
    as ``artgan project`` reads it)."""

    def __init__(self, kept: int, max_pixels: int):
        self.kept, self.max_pixels = kept, max_pixels
        self.folder = Path(tempfile.mkdtemp(prefix="artgan-studio-"))
        # removed by close(), else when this object goes or Python exits
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, True)
        self._items: OrderedDict[str, Upload] = OrderedDict()
        self._lock = threading.Lock()
        self._decoding = threading.BoundedSemaphore(2)  # a 25 MP picture is 75 MB decoded

    def add(self, name: str | None, data: bytes) -> Upload:
        name = safe_name(name)
        if not data:
            raise StudioError("the upload is empty: choose an image file")
        upload_id = secrets.token_hex(6)
        folder = self.folder / upload_id
        folder.mkdir()
        path = folder / name
        path.write_bytes(data)
        try:
            with self._decoding:
                upload = self._check(upload_id, name, path, len(data))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        with self._lock:
            self._items[upload_id] = upload
            while len(self._items) > self.kept:
                _id, old = self._items.popitem(last=False)
                shutil.rmtree(old.path.parent, ignore_errors=True)
        return upload

    def _check(self, upload_id: str, name: str, path: Path, size: int) -> Upload:
        from PIL import Image, UnidentifiedImageError

        from ..restoration.images import read_image

        try:
            with Image.open(path) as img:  # the header only: no pixels decoded yet
                width, height = img.size
        except UnidentifiedImageError:
            raise StudioError(f"{name} is not an image (Pillow cannot read it): upload a "
                              f"PNG, JPEG, WebP, BMP or TIFF") from None
        except Image.DecompressionBombError:
            raise StudioError(f"{name} is far too large to decode safely", 413) from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise StudioError(f"{name} cannot be read as an image ({exc})") from None
        if width * height > self.max_pixels:
            raise StudioError(f"{name} is {width}x{height} px ({width * height / 1e6:.0f} "
                              f"MP); the studio takes pictures of up to "
                              f"{self.max_pixels / 1e6:g} MP: make it smaller first", 413)
        try:
            picture = read_image(path, "upload")
        except RestoreError as exc:
            raise StudioError(web_message(str(exc).replace(str(path), name))) from None
        return Upload(upload_id, name, path, picture.width, picture.height,
                      picture.channels, picture.alpha is not None, size)

    def get(self, upload_id: object, what: str = "upload") -> Upload:
        with self._lock:
            upload = self._items.get(upload_id) if isinstance(upload_id, str) else None
        if upload is None:
            raise StudioError(f"no such {what} (it may have been replaced by newer "
                              f"uploads): upload the file again", 404)
        return upload

    def close(self) -> None:
        self._cleanup()
