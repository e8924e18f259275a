"""The folder data source's disk cache of preprocessed images.

One file per (folder, pixel settings): ``$ARTGAN_CACHE_DIR/data/<digest>.pt`` (default
``~/.cache/artgan/data``). It holds, for every image decoded from that folder, its path
relative to the folder, its size in bytes and modification time (ns), its stored width
and height (so size limits can be re-checked without opening it) and its preprocessed
uint8 pixels. An entry is used only if the file's size and mtime still match; the
digest covers the folder's absolute path, the resolution, the channels, the decoding
options (the width and fit too, when they differ from a square crop) and the Pillow
version, so anything that changes pixels gives another file.

Written atomically (temporary file, then rename) with ``torch.save``; read with
``torch.load(weights_only=True)``, so no code is ever unpickled. A file that cannot be
read or does not match its key is ignored and rewritten. Delete the folder to clear it.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import PIL
import torch

from artgan.core.atomic import why_unwritable
from artgan.core.checkpoint import save_atomic
from artgan.core.errors import ArtganWarning

CACHE_FORMAT = 2  # bump when the decoding pipeline changes the pixels it produces
# 2: images over 16 MP are box-reduced before orientation and mode conversion


def cache_root() -> Path:
    """Where decoded folders are cached: ``$ARTGAN_CACHE_DIR/data`` or ``~/.cache/artgan/data``."""
    root = os.environ.get("ARTGAN_CACHE_DIR") or os.path.join("~", ".cache", "artgan")
    return Path(root).expanduser() / "data"


@dataclass
class CachedImages:
    """Preprocessed images of one folder: row ``i`` belongs to ``files[i]``.

    ``stamps`` is (N, 2) int64 (size in bytes, mtime in ns), ``dims`` (N, 2) int64
    (stored width, height), ``images`` (N, C, R, R) uint8.
    """

    files: list[str]
    stamps: torch.Tensor
    dims: torch.Tensor
    images: torch.Tensor

    def __post_init__(self) -> None:
        self._row = {name: i for i, name in enumerate(self.files)}
        self._stamp = [tuple(pair) for pair in self.stamps.tolist()]

    def row(self, rel: str, stamp: tuple[int, int]) -> int | None:
        """Row of ``rel`` if it is cached with this (size, mtime_ns), else None."""
        i = self._row.get(rel)
        if i is None or self._stamp[i] != tuple(stamp):
            return None
        return i

    def merged(self, kept: list[str], images: torch.Tensor, fresh: dict[str, tuple],
               stamps: dict[str, tuple[int, int]]) -> "CachedImages | None":
        """The new cache content after a load, or None if it would not change.

        ``kept``/``images``: the files this load uses and their pixels, each either from
        this cache or freshly decoded; ``fresh`` maps the decoded ones to
        ((size, mtime_ns), (width, height)); ``stamps`` holds the current
        (size, mtime_ns) of every file in the folder. Old entries whose file is still
        there unchanged but was not used this time (another ``labels`` or ``min_side``
        setting) are kept; deleted and changed files are dropped. ``images`` is reused,
        not copied, unless such unused entries must be appended.
        """
        valid = [row for row, rel in enumerate(self.files)
                 if rel not in fresh and self.row(rel, stamps.get(rel, (-1, -1))) is not None]
        if not fresh and len(valid) == len(self.files):
            return None
        in_use = set(kept)
        extra = [row for row in valid if self.files[row] not in in_use]
        stamp_rows, dim_rows = [], []
        for rel in kept:
            if rel in fresh:
                stamp, dims = fresh[rel]
            else:
                row = self._row[rel]
                stamp, dims = self.stamps[row].tolist(), self.dims[row].tolist()
            stamp_rows.append(list(stamp))
            dim_rows.append(list(dims))
        files = [*kept, *(self.files[row] for row in extra)]
        stamps_t = torch.cat([_pairs(stamp_rows), self.stamps[extra]])
        dims_t = torch.cat([_pairs(dim_rows), self.dims[extra]])
        if extra:
            images = torch.cat([images, self.images[extra]])
        return CachedImages(files, stamps_t, dims_t, images)

    @classmethod
    def empty(cls, channels: int, resolution: int, width: int | None = None) -> "CachedImages":
        """A cache with no entries."""
        return cls([], torch.zeros((0, 2), dtype=torch.int64),
                   torch.zeros((0, 2), dtype=torch.int64),
                   torch.zeros((0, channels, resolution, width or resolution),
                               dtype=torch.uint8))


def _pairs(rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.int64).reshape(-1, 2)


class FolderCache:
    """The cache file of one folder at one pixel setting (see the module docstring)."""

    def __init__(self, root: str, *, resolution: int, channels: int,
                 settings: dict[str, Any], directory: str | os.PathLike | None = None,
                 width: int | None = None):
        """``width``: of non-square images (then part of ``settings`` too, by the caller)."""
        self.resolution, self.channels = int(resolution), int(channels)
        self.width = self.resolution if width is None else int(width)
        self.key = json.dumps({"format": CACHE_FORMAT, "root": os.path.abspath(root),
                               "resolution": self.resolution, "channels": self.channels,
                               "pillow": PIL.__version__, **settings}, sort_keys=True)
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:24]
        self.path = Path(directory or cache_root()) / f"{digest}.pt"

    def load(self) -> CachedImages | None:
        """The cached images, or None if there is no usable cache file."""
        if not self.path.is_file():
            return None
        try:
            with warnings.catch_warnings():  # torch's complaints about a foreign file
                warnings.simplefilter("ignore")
                entry = torch.load(self.path, map_location="cpu", weights_only=True)
            return self._check(entry)
        except Exception:  # truncated, corrupt, foreign or from another format: rebuild
            return None

    def _check(self, entry: Any) -> CachedImages | None:
        if not isinstance(entry, dict) or entry.get("key") != self.key:
            return None
        files, stamps, dims, images = (entry["files"], entry["stamps"], entry["dims"],
                                       entry["images"])
        n = len(files)
        if not (isinstance(files, list) and all(isinstance(f, str) for f in files)
                and stamps.dtype == dims.dtype == torch.int64
                and tuple(stamps.shape) == tuple(dims.shape) == (n, 2)
                and images.dtype == torch.uint8
                and tuple(images.shape) == (n, self.channels, self.resolution, self.width)):
            return None
        return CachedImages(files, stamps, dims, images)

    def save(self, cached: CachedImages) -> Path | None:
        """Write the cache file atomically; a cache that cannot be written only warns."""
        entry = {"key": self.key, "files": list(cached.files), "stamps": cached.stamps,
                 "dims": cached.dims, "images": cached.images.contiguous()}
        try:
            return save_atomic(entry, self.path)
        except OSError as exc:
            warnings.warn(f"decoded images not cached in {self.path.parent}: "
                          f"{why_unwritable(self.path.parent, exc)} (the next run decodes "
                          f"them again; $ARTGAN_CACHE_DIR sets the cache folder)",
                          ArtganWarning, stacklevel=2)
            return None
