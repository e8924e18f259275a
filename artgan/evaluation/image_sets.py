"""Image sets: re-iterable streams of image batches in [-1, 1] for metrics.

An :class:`ImageSet` carries what reports and caches need besides the batches: the count,
a description and a cache key. It is built from a tensor, a generator, a data source or
any iterable of batches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import torch

from artgan.core.errors import MetricError
from artgan.core.sampling import generate_batches

#: ``progress(label, total) -> advance``: called when a pass starts; ``advance(n)`` after
#: each batch of n images. ``total`` is None when the number of images is unknown.
Progress = Callable[[str, "int | None"], Callable[[int], None]]


@dataclass
class ImageSet:
    """Image batches (N, C, H, W) in [-1, 1], re-created on each iteration.

    ``cache_key`` identifies the images for the on-disk reference cache (a JSON-able
    dict); None means never cache (generated images).
    """

    make_batches: Callable[[], Iterator[torch.Tensor]]
    count: int | None
    description: str
    cache_key: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter(self.make_batches())

    @classmethod
    def wrap(cls, images: "ImageSet | torch.Tensor | Iterable[torch.Tensor]",
             description: str) -> "ImageSet":
        """Accept what :meth:`artgan.core.Metric.compute` may be given."""
        if isinstance(images, ImageSet):
            return images
        if isinstance(images, torch.Tensor):
            return cls.from_tensor(images, description=description)
        return cls(lambda: iter(images), None, description)

    @classmethod
    def from_tensor(cls, images: torch.Tensor, *, batch_size: int = 64,
                    description: str = "images") -> "ImageSet":
        def batches():
            for start in range(0, len(images), batch_size):
                yield images[start:start + batch_size]
        return cls(batches, len(images), f"{description} ({len(images)})")

    @classmethod
    def from_data_source(cls, source, *, spec: str, options: dict | None = None,
                         count: int | None = None, batch_size: int = 64,
                         cacheable: bool = True) -> "ImageSet":
        """The first ``count`` images (all by default) of a DataSource, in index order.

        The cache key holds the spec, options, resolution, channels, count and, for
        in-memory sources, a BLAKE2 digest of the pixels, so an edited folder is noticed.
        ``cacheable=False`` (generated images in a folder): no key, never cached.
        """
        n = len(source) if count is None else min(int(count), len(source))
        if n < 1:
            raise MetricError(f"data source {spec!r} has no images")
        key = {"source": spec, "options": options or {}, "resolution": source.resolution,
               "channels": source.channels, "count": n}
        width = getattr(source, "width", source.resolution)
        if width != source.resolution:  # non-square (--aspect); square keys stay as they were
            key["width"] = width
        pixels = getattr(source, "images", None)
        if cacheable and isinstance(pixels, torch.Tensor) and pixels.dtype == torch.uint8:
            key["content_blake2b"] = hashlib.blake2b(
                pixels[:n].contiguous().numpy().reshape(-1), digest_size=16).hexdigest()

        def batches():
            for start in range(0, n, batch_size):
                yield source.load_batch(torch.arange(start, min(start + batch_size, n)))[0]
        size = f"{source.resolution}px" if width == source.resolution else \
            f"{width}x{source.resolution}px"
        return cls(batches, n, f"{spec} ({n} images, {size})",
                   key if cacheable else None)

    @classmethod
    def from_generator(cls, G, count: int, *, seed: int = 0, batch_size: int = 64,
                       labels: torch.Tensor | None = None,
                       description: str = "generated") -> "ImageSet":
        """``count`` images of generator ``G``, made batch by batch on G's device.

        Same latents and labels as :func:`artgan.core.sampling.sample_images` with the
        same seed (so ``artgan sample`` shows the evaluated images), without holding all
        images in memory.
        """
        def batches():
            return generate_batches(G, count, seed=seed, batch_size=batch_size, labels=labels)
        return cls(batches, count, f"{description} ({count} images, seed {seed})")


def quantize_8bit(images: torch.Tensor) -> torch.Tensor:
    """Round [-1, 1] images to the 256 levels a PNG can hold (what a saved sample is)."""
    return images.add(1).mul(127.5).round().clamp(0, 255).div(127.5).sub(1)
