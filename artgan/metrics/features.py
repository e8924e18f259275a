"""Image sets, the feature-extraction loop and the on-disk reference-statistics cache.

- :class:`ImageSet`: a re-iterable stream of image batches in [-1, 1] plus what reports
  and caches need (count, description, cache key). Built from a tensor, a generator, a
  data source or any iterable of batches.
- :func:`extract_features`: runs a feature network over an image set, batch by batch,
  on one device, with an optional progress callback.
- :class:`FeatureStore`: extracts each (image set, network) pair once per evaluation, so
  that FID, KID and IS share one pass, and caches reference statistics on disk through
  :class:`RefStatsCache`.

A feature network is any callable ``net(images) -> Tensor | dict[str, Tensor]`` taking
(N, C, H, W) in [-1, 1] on the device; a dict names its outputs (the FID Inception returns
``pool``, ``logits`` and ``logits_unbiased``), a bare tensor serves every output asked
for. Its ``identity`` attribute (a string) names it in cache keys; networks without one,
or with identity ``"random-init"``, are never cached on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch

from artgan.core.sampling import generate_batches

from . import MetricError
from .stats import gaussian_stats

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
        pixels = getattr(source, "images", None)
        if cacheable and isinstance(pixels, torch.Tensor) and pixels.dtype == torch.uint8:
            key["content_blake2b"] = hashlib.blake2b(
                pixels[:n].contiguous().numpy().reshape(-1), digest_size=16).hexdigest()

        def batches():
            for start in range(0, n, batch_size):
                yield source.load_batch(torch.arange(start, min(start + batch_size, n)))[0]
        return cls(batches, n, f"{spec} ({n} images, {source.resolution}px)",
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


def _outputs(result: torch.Tensor | dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {"*": result} if isinstance(result, torch.Tensor) else dict(result)


@torch.no_grad()
def extract_features(images: Iterable[torch.Tensor], net: Callable, *,
                     device: str | torch.device = "cpu", quantize: bool = True,
                     advance: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """Run ``net`` over every batch on ``device``; return each output as float32 (N, D).

    ``quantize`` rounds images to 8 bits first, so generated tensors and the same images
    saved as PNGs give the same features. ``advance(n)`` is called after each batch.
    """
    device = torch.device(device)
    chunks: dict[str, list[np.ndarray]] = {}
    for batch in images:
        if batch.ndim != 4:
            raise MetricError(f"expected image batches (N, C, H, W), got {tuple(batch.shape)}")
        x = batch.to(device, torch.float32)
        if quantize:
            x = quantize_8bit(x)
        for name, value in _outputs(net(x)).items():
            chunks.setdefault(name, []).append(
                value.reshape(len(x), -1).float().cpu().numpy())
        if advance is not None:
            advance(len(batch))
    if not chunks:
        raise MetricError("no images to extract features from")
    return {name: np.concatenate(parts) for name, parts in chunks.items()}


def _cache_root() -> Path:
    """``$ARTGAN_CACHE_DIR`` (artgan's cache root) or ``~/.cache/artgan``, plus ref-stats."""
    root = os.environ.get("ARTGAN_CACHE_DIR") or os.path.join("~", ".cache", "artgan")
    return Path(root).expanduser() / "ref-stats"


class RefStatsCache:
    """Reference statistics (and features, for KID) on disk, one file per key.

    A file holds the full key as JSON next to tensors; it is written atomically with
    ``torch.save`` and read with ``weights_only=True``. A file that cannot be read or
    whose stored key differs is ignored (and rewritten).
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root else _cache_root()

    @staticmethod
    def _text(key: dict[str, Any]) -> str:
        return json.dumps(key, sort_keys=True, default=str)

    def path(self, key: dict[str, Any]) -> Path:
        digest = hashlib.sha256(self._text(key).encode()).hexdigest()[:24]
        return self.root / f"{key.get('what', 'stats')}-{digest}.pt"

    def load(self, key: dict[str, Any]) -> dict[str, torch.Tensor] | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            entry = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            return None
        if not isinstance(entry, dict) or entry.get("key") != self._text(key):
            return None
        return entry

    def save(self, key: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Path | None:
        """Write an entry; a cache that cannot be written only costs a warning."""
        from artgan.core.checkpoint import save_atomic

        try:
            return save_atomic({"key": self._text(key), **tensors}, self.path(key))
        except OSError as exc:
            warnings.warn(f"reference statistics not cached in {self.root}: {exc}")
            return None


def _network_identity(net: Any) -> str | None:
    identity = getattr(net, "identity", None)
    return identity if isinstance(identity, str) and identity and \
        identity != "random-init" else None


@dataclass
class FeatureStore:
    """Features and Gaussian statistics of image sets, computed once per evaluation.

    Metrics sharing a store and a network share one extraction pass per image set.
    ``cache`` (None: no disk cache) keeps statistics and features of image sets that
    have a ``cache_key`` (reference data) under networks that have an ``identity``.
    """

    device: str | torch.device = "cpu"
    progress: Progress | None = None
    cache: RefStatsCache | None = field(default_factory=RefStatsCache)
    quantize: bool = True
    _memo: dict[tuple, tuple[Any, Any, Any]] = field(default_factory=dict, repr=False)

    def _remember(self, key: tuple, images: ImageSet, net: Any, compute: Callable[[], Any]):
        if key not in self._memo:  # holding images and net keeps their ids valid
            self._memo[key] = (images, net, compute())
        return self._memo[key][2]

    def _disk_key(self, images: ImageSet, net: Any, output: str, what: str) -> dict | None:
        identity = _network_identity(net)
        if self.cache is None or images.cache_key is None or identity is None:
            return None
        return {"what": what, "images": images.cache_key, "network": identity,
                "output": output, "resize": getattr(net, "resize", ""),
                "quantize_8bit": self.quantize, "version": 1}

    def _extract(self, images: ImageSet, net: Any) -> dict[str, np.ndarray]:
        """Every output of ``net`` on ``images``, extracted once."""
        def run():
            advance = self.progress(f"features of {images.description}", images.count) \
                if self.progress else None
            return extract_features(images, net, device=self.device, quantize=self.quantize,
                                    advance=advance)
        return self._remember(("extract", id(images), id(net)), images, net, run)

    def _extracted(self, images: ImageSet, net: Any) -> bool:
        return ("extract", id(images), id(net)) in self._memo

    def _output(self, images: ImageSet, net: Any, output: str) -> np.ndarray:
        found = self._extract(images, net)
        value = found.get(output, found.get("*"))
        if value is None:
            raise MetricError(f"the feature network has no output {output!r} "
                              f"(it has {', '.join(sorted(found))})")
        return value

    def features(self, images: ImageSet, net: Any, output: str) -> np.ndarray:
        """Features (N, D) float32 of one output of ``net`` (disk-cached for references)."""
        def compute():
            disk = self._disk_key(images, net, output, "features")
            if disk and not self._extracted(images, net):
                entry = self.cache.load(disk)
                if entry is not None:
                    return entry["features"].numpy()
            value = self._output(images, net, output)
            if disk:
                self.cache.save(disk, {"features": torch.from_numpy(value)})
            return value
        return self._remember(("features", id(images), id(net), output), images, net, compute)

    def stats(self, images: ImageSet, net: Any, output: str) -> tuple[np.ndarray, np.ndarray, int]:
        """(mu, sigma, count) in float64 of one output (disk-cached for references).

        Without a cached entry, cached features (from an earlier KID) are used if present,
        before extracting anything.
        """
        def compute():
            disk = self._disk_key(images, net, output, "stats")
            if disk and not self._extracted(images, net):
                entry = self.cache.load(disk)
                if entry is not None:
                    return entry["mu"].numpy(), entry["sigma"].numpy(), int(entry["count"])
                cached = self.cache.load({**disk, "what": "features"})
                feats = cached["features"].numpy() if cached is not None else None
            else:
                feats = None
            if feats is None:
                feats = self._output(images, net, output)
            mu, sigma = gaussian_stats(feats)
            if disk:
                self.cache.save(disk, {"mu": torch.from_numpy(mu),
                                       "sigma": torch.from_numpy(sigma),
                                       "count": torch.tensor(len(feats))})
            return mu, sigma, len(feats)
        return self._remember(("stats", id(images), id(net), output), images, net, compute)
