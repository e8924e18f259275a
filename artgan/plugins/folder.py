"""``--data folder:PATH``: your own images, scanned recursively and decoded once into memory.

Every image is preprocessed on the first load (upright via EXIF, converted to RGB, grey or
RGBA (``--channels 4``: transparency kept, opaque alpha for images without),
resized so its shorter side is the resolution, centre-cropped to a square, or to the
``--aspect`` (``-o data.fit=pad``: padded instead); see
:mod:`artgan.core.image_files`) and kept as one uint8 tensor. Large JPEGs are decoded
at reduced size, files are decoded on a thread pool, and the result is kept in a disk
cache (:mod:`artgan.plugins.folder_cache`) so that later runs on the same folder only
decode new or changed files. Files that cannot be used are skipped and counted in
``self.skipped``; only a folder with nothing usable at all is an error.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import torch
from PIL import Image

from artgan.core.data import DataSourceError, InMemoryDataSource, SkipReport
from artgan.core import image_files
from artgan.core.image_files import IMAGE_EXTENSIONS, scan_images
from artgan.plugins.data import FolderOptions
from artgan.plugins.folder_cache import CachedImages, FolderCache

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
    loose = sum(len(parts) == 1 for parts in split)
    if mode == "none" or not class_names or (mode == "auto" and 2 * loose >= len(split)):
        return [], None
    index = {name: i for i, name in enumerate(class_names)}
    return class_names, [index[parts[0]] if len(parts) == 2 else -1 for parts in split]


def _stamp(path: str) -> tuple[int, int] | str:
    """(size in bytes, mtime in ns) of a file, or why it cannot be read."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror or type(exc).__name__}"
    return st.st_size, st.st_mtime_ns


def default_workers() -> int:
    """Decoding threads when the ``workers`` option is 0: the CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _decode_files(paths: list[str], args: tuple, workers: int) -> list:
    """:func:`image_files.try_decode` on every path; results in the order of ``paths``.

    Pillow releases the GIL while decoding and resampling, so threads scale; ``map``
    returns results in input order whatever finishes first.
    """
    def one(path: str):
        return image_files.try_decode(path, *args)

    workers = min(workers, len(paths))
    with warnings.catch_warnings():  # Pillow's own bomb and EXIF warnings: no spam
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", module=r"PIL\.")
        if workers <= 1:
            return [one(path) for path in paths]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, paths))


def _lookup(files: list[str], usable: list[int], stamps: dict, cached: CachedImages,
            min_side: int, max_pixels: float) -> tuple[dict[int, str | int], list[int]]:
    """For each usable file: the cache row holding it, or why it is skipped; and the files
    left to decode. Size limits are checked on the size remembered in the cache."""
    outcome: dict[int, str | int] = {}
    to_decode = []
    for index in usable:
        stamp = stamps[files[index]]
        row = None if isinstance(stamp, str) else cached.row(files[index], stamp)
        if isinstance(stamp, str):
            outcome[index] = stamp
        elif row is None:
            to_decode.append(index)
        else:
            width, height = cached.dims[row].tolist()
            outcome[index] = image_files.size_problem(width, height, min_side,
                                                        max_pixels) or row
    return outcome, to_decode


def _decode_all(root: str, files: list[str], usable: list[int], resolution: int, channels: int,
                options: FolderOptions, report: SkipReport, width: int | None = None
                ) -> tuple[torch.Tensor, list[int], dict]:
    """Load ``files[usable]`` in order; return (uint8 tensor, kept indices, counts).

    ``outcome`` below maps each usable file to why it is skipped (str), its cache row
    (int) or its freshly decoded pixels (array).

    Each file is taken from the disk cache if it holds it with the same size and mtime,
    otherwise decoded (in parallel). Unusable files go to ``report`` in file order.
    ``counts``: how many images came from the cache and how many were decoded.
    """
    min_side = options.min_side or max(8, resolution // 4)
    max_pixels = options.max_megapixels * 1e6
    width = resolution if width is None else int(width)
    settings = {"draft": options.draft, **({"width": width} if width != resolution else {}),
                **({"fit": options.fit} if options.fit != "crop" else {})}
    cache = FolderCache(root, resolution=resolution, channels=channels, settings=settings,
                        width=width) if options.cache else None
    cached = (cache.load() if cache else None) or CachedImages.empty(channels, resolution,
                                                                     width)
    # stat before decoding: a file changed meanwhile gets a stale stamp, so it is
    # decoded again next time rather than cached with pixels it no longer has
    stamps = {rel: _stamp(os.path.join(root, rel)) for rel in files}
    outcome, to_decode = _lookup(files, usable, stamps, cached, min_side, max_pixels)
    args = (resolution, channels, min_side, max_pixels, options.draft, width, options.fit)
    results = _decode_files([os.path.join(root, files[i]) for i in to_decode], args,
                            options.workers or default_workers())
    fresh = {}
    for index, result in zip(to_decode, results):
        if isinstance(result, str):
            outcome[index] = result
        else:
            outcome[index] = result[0]
            fresh[files[index]] = (stamps[files[index]], result[1])
    kept = [i for i in usable if not isinstance(outcome[i], str)]
    for index in usable:
        if isinstance(outcome[index], str):
            report.add(files[index], outcome[index])
    images = _assemble(kept, outcome, cached, channels, resolution, width)
    outcome.clear()  # the decoded arrays now live in images
    if cache is not None:
        valid = {rel: s for rel, s in stamps.items() if not isinstance(s, str)}
        update = cached.merged([files[i] for i in kept], images, fresh, valid)
        if update is not None:
            cache.save(update)
    return images, kept, {"cached": len(kept) - len(fresh), "decoded": len(fresh)}


def _assemble(kept: list[int], outcome: dict, cached: CachedImages, channels: int,
              resolution: int, width: int) -> torch.Tensor:
    """One (N, C, R, W) uint8 tensor of the kept images, in file order."""
    rows = [outcome[i] for i in kept]
    if rows and all(isinstance(r, int) for r in rows) and rows == list(range(len(cached.files))):
        return cached.images  # everything from the cache, in the same order: no copy
    out = torch.empty((len(kept), channels, resolution, width), dtype=torch.uint8)
    from_cache = [k for k, r in enumerate(rows) if isinstance(r, int)]
    if from_cache:
        out[from_cache] = cached.images[[rows[k] for k in from_cache]]
    for k, r in enumerate(rows):
        if not isinstance(r, int):
            out[k] = torch.from_numpy(r)
    return out


class FolderDataSource(InMemoryDataSource):
    """Images from a folder, scanned recursively (``--data folder:PATH``).

    Files: .jpg .jpeg .png .webp .bmp .gif (first frame) .tif .tiff, any letter case;
    hidden files and folders and other extensions are ignored. Files that cannot be
    used (corrupt, truncated, not really images, too small, too large) are skipped and
    counted in ``self.skipped``. Sizes are checked from the file header: images over
    ``max_megapixels`` (or over Pillow's own ``2 * Image.MAX_IMAGE_PIXELS`` limit) are
    skipped, never decoded. ``self.files`` lists the kept files, relative to PATH.

    Decoded images are cached on disk (option ``cache``, see
    :mod:`artgan.plugins.folder_cache`): a later run decodes only files that are new or
    whose size or modification time changed. ``self.load_counts`` says how many images
    came from the cache and how many were decoded.

    Labels (option ``labels``):

    - ``subfolders``: each immediate subfolder of PATH that contains images (at any
      depth) is a class; class names are the sorted subfolder names and every image
      below a subfolder gets that class. Images lying directly in PATH are skipped ("not
      in a class subfolder"). Classes are decided from the file names, before decoding.
    - ``none``: always unlabelled; every image below PATH is used.
    - ``auto``: ``subfolders`` when subfolders hold most of the images (a WikiArt-style
      layout with a few strays), else ``none`` (a folder of paintings with an "old" or
      "sketches" subfolder trains on all of them).
    """

    default_resolution = 64
    default_epochs = 25
    non_square = True  # --aspect: cropped (or padded, option fit) to width x resolution

    def __init__(self, root: str, *, resolution: int, channels: int,
                 options: FolderOptions | None = None, width: int | None = None):
        options = options or FolderOptions()
        resolution = int(resolution)
        if resolution < 1:
            raise DataSourceError(f"folder data needs a positive resolution, got {resolution}")
        if channels not in (1, 3, 4):
            raise DataSourceError(f"folder data needs channels 1, 3 or 4, got {channels}")
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
        images, kept, counts = _decode_all(root, files, usable, resolution, channels, options,
                                           report, width)
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
        if options.labels == "subfolders" and labels is None:
            self.notes = [f"-o data.labels=subfolders, but {root} has no class subfolders "
                          f"(all {len(files)} images lie directly in it), so the data is "
                          f"unlabelled: put each class's images in a subfolder named after "
                          f"it"]
        self.load_counts = counts  # {"cached": n, "decoded": m}: where the images came from

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
    def input_folders(cls, argument: str | None) -> list[str]:
        """PATH: the folder the images come from."""
        return [os.path.expanduser(argument)] if argument else []

    @classmethod
    def from_spec(cls, argument: str | None, options: FolderOptions | None, *,
                  resolution: int | None, channels: int, seed: int = 0,
                  width: int | None = None) -> FolderDataSource:
        """The registered factory: ``argument`` is PATH from ``--data folder:PATH``;
        ``width``: non-square images (``--aspect``), ``resolution`` being the height."""
        if not argument:
            raise DataSourceError("folder needs a path: --data folder:PATH")
        return cls(os.path.expanduser(argument), resolution=resolution or cls.default_resolution,
                   channels=channels, options=options, width=width)
