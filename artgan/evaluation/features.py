"""Feature extraction and the on-disk reference-statistics cache.

- :func:`extract_features`: runs a feature network over an image set, batch by batch,
  on one device, with an optional progress callback.
- :class:`FeatureStore`: extracts each (image set, network) pair once per evaluation, so
  that FID, KID and IS share one pass, and caches reference statistics on disk through
  :class:`RefStatsCache`.
- :func:`gaussian_stats`: the mean and covariance of features that FID compares.

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
from typing import Any, Callable, Iterable

import numpy as np
import torch

from artgan.core.atomic import save_atomic, why_unwritable
from artgan.core.errors import ArtganWarning, MetricError

from .image_sets import ImageSet, Progress, quantize_8bit


def as_matrix(x, name: str) -> np.ndarray:
    """``x`` as a non-empty, finite float64 (N, D) array, or a MetricError naming it."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise MetricError(f"{name}: expected a non-empty (N, D) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise MetricError(f"{name}: contains NaN or infinite values")
    return x


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (unbiased, ddof=1, as pytorch-fid) of features ``(N, D)``."""
    x = as_matrix(features, "features")
    if x.shape[0] < 2:
        raise MetricError(f"a covariance needs at least 2 images, got {x.shape[0]}")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


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
        try:
            return save_atomic({"key": self._text(key), **tensors}, self.path(key))
        except OSError as exc:
            warnings.warn(f"reference statistics not cached in {self.root}: "
                          f"{why_unwritable(self.path(key).parent, exc)}", ArtganWarning,
                          stacklevel=2)
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
