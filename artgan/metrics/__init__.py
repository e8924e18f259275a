"""Sample-quality metrics: FID, KID, Inception Score (FID Inception-v3) and MS-SSIM diversity.

The registered metrics (``fid``, ``kid``, ``is``, ``ms-ssim``) live in
:mod:`artgan.metrics.scores` and :mod:`artgan.metrics.msssim`, their options in
:mod:`artgan.metrics.options`; the maths in :mod:`artgan.metrics.stats`; the network in
:mod:`artgan.metrics.inception`. Image sets, feature extraction, the reference-statistics
cache and periodic evaluation are the machinery of :mod:`artgan.evaluation`.

This package module does not import torch: the error types below are safe to import
from the CLI's error handling, and other names load on first use.
"""

from __future__ import annotations

from importlib import import_module


from artgan.core.errors import MetricError


class InceptionWeightsError(MetricError):
    """The FID Inception weights are missing, unreadable or have the wrong SHA-256."""


_EXPORTS = {
    "FIDInception": "inception", "load_inception": "inception",
    "find_inception_weights": "inception", "WEIGHTS_FILENAME": "inception",
    "frechet_distance": "stats", "gaussian_stats": "stats",
    "kernel_inception_distance": "stats", "mmd2_unbiased": "stats",
    "inception_score": "stats",
    "FID": "scores", "KID": "scores", "InceptionScore": "scores",
    "MSSSIM": "msssim", "ms_ssim": "msssim",
}

__all__ = ["MetricError", "InceptionWeightsError", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
