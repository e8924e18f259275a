"""The evaluation machinery: image sets, feature extraction with its reference cache,
scoring several metrics in one pass, and periodic evaluation during training.

Metrics themselves (FID, KID, IS, MS-SSIM) are in :mod:`artgan.metrics`; any object with
the :class:`artgan.core.Metric` interface can be evaluated here. Names load on first use.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "ImageSet": "image_sets", "quantize_8bit": "image_sets",
    "FeatureStore": "features", "RefStatsCache": "features",
    "extract_features": "features", "gaussian_stats": "features",
    "evaluate": "evaluate",
    "PeriodicEvaluation": "periodic", "check_metrics": "periodic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
