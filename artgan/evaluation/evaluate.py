"""Compute several metrics on the same images, sharing one feature extraction."""

from __future__ import annotations

import inspect

import torch

from artgan.core.errors import MetricError
from artgan.core.metric import Metric

from .features import FeatureStore, RefStatsCache
from .image_sets import ImageSet, Progress


def evaluate(metrics: dict[str, Metric], fake, real=None, *,
             device: str | torch.device = "cpu", progress: Progress | None = None,
             cache: RefStatsCache | None | bool = True,
             quantize: bool = True) -> dict[str, dict[str, float | int | str]]:
    """Compute several metrics on the same images, sharing feature extraction.

    Every metric's network is loaded first (``prepare``), so missing weights fail before
    any image is generated. ``cache``: True for the default reference-statistics cache,
    False/None for none, or a :class:`RefStatsCache`.
    """
    if cache is True:
        cache = RefStatsCache()
    for name, metric in metrics.items():
        if getattr(metric, "requires_real", True) and real is None:
            raise MetricError(f"metric {name} needs real images (a reference set)")
    for metric in metrics.values():
        if hasattr(metric, "prepare"):
            metric.prepare(device)
    store = FeatureStore(device, progress=progress, cache=cache or None, quantize=quantize)
    fake = ImageSet.wrap(fake, "generated images")
    real = None if real is None else ImageSet.wrap(real, "real images")
    results = {}
    for name, metric in metrics.items():
        if "store" in inspect.signature(metric.compute).parameters:
            results[name] = metric.compute(fake, real, device, store=store)
        else:  # a third-party Metric with the plain interface
            results[name] = metric.compute(fake, real, device)
    return results
