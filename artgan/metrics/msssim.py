"""MS-SSIM diversity: mean multi-scale SSIM between random pairs of generated images.

Odena et al. (AC-GAN, 2017) use it to detect mode collapse: pairs of distinct training
images score low; a generator that repeats itself scores high. Lower means more diverse;
compare with the value of the real images (``ms_ssim_real``) rather than aiming for 0.

Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), on images in [0, 1] (data range 1):
at each scale the SSIM terms use an 11-tap Gaussian window (sigma 1.5, K1 0.01, K2 0.03,
population covariance, reflected borders, the window radius cropped before averaging,
channels averaged): exactly scikit-image's ``structural_similarity(gaussian_weights=True,
use_sample_covariance=False, data_range=1)`` (the tests check it). Between scales images
are 2x2 average-pooled. The score is ``prod_j cs_j^w_j * ssim_M^w_M``, the contrast-
structure term cs at the finer scales and the full SSIM at the coarsest, with the weights
0.0448, 0.2856, 0.3001, 0.2363, 0.1333; negative terms are clipped to 0 first (as
TensorFlow's ``ssim_multiscale``), so the result lies in [0, 1]. scikit-image only
returns the full SSIM, so the per-scale terms are computed here with the same filter.

Small images: five scales need a side of 176 px (11 px at the coarsest scale). Smaller
images use only the scales whose side is at least 11 px (16-31 px: 1 scale, 32-63 px: 2,
64-127 px: 3, 128-175 px: 4), with the first weights renormalised to sum to 1; below
11 px a single scale with the largest odd window that fits (sigma scaled with it).
"""

from __future__ import annotations

import numpy as np
import torch
# scipy, not skimage.metrics.structural_similarity: that returns only the full SSIM (and
# its map/gradient), never the contrast-structure term cs that MS-SSIM needs per scale
from scipy.ndimage import gaussian_filter

from artgan.core.metric import Metric

from artgan.core.errors import MetricError
from artgan.evaluation.image_sets import ImageSet, Progress, quantize_8bit

from .options import MSSSIMOptions

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW, SIGMA, TRUNCATE, K1, K2 = 11, 1.5, 3.5, 0.01, 0.03


def scale_plan(side: int) -> tuple[int, int, float]:
    """(number of scales, window size, Gaussian sigma) for square images of ``side`` px."""
    if side < 3:
        raise MetricError(f"MS-SSIM needs images of at least 3x3 pixels, got {side}")
    if side < WINDOW:
        window = side if side % 2 else side - 1
        return 1, window, SIGMA * window / WINDOW
    scales = 1
    while scales < len(WEIGHTS) and side // 2 ** scales >= WINDOW:
        scales += 1
    return scales, WINDOW, SIGMA


def _ssim_terms(a: np.ndarray, b: np.ndarray, sigma: float,
                pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean SSIM and mean contrast-structure term per image pair; a, b (N, C, H, W)."""
    def blur(x):
        return gaussian_filter(x, sigma=(0, 0, sigma, sigma), truncate=TRUNCATE, mode="reflect")

    c1, c2 = K1 ** 2, K2 ** 2
    ux, uy = blur(a), blur(b)
    vx, vy, vxy = blur(a * a) - ux * ux, blur(b * b) - uy * uy, blur(a * b) - ux * uy
    # SSIM = l * cs, l = (2 ux uy + C1) / (ux^2 + uy^2 + C1), cs = (2 vxy + C2) / (vx + vy + C2)
    cs = (2 * vxy + c2) / (vx + vy + c2)
    ssim = (2 * ux * uy + c1) / (ux * ux + uy * uy + c1) * cs
    inner = (Ellipsis, slice(pad, -pad or None), slice(pad, -pad or None))
    return ssim[inner].mean(axis=(1, 2, 3)), cs[inner].mean(axis=(1, 2, 3))


def _downsample(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling (an odd last row or column is dropped)."""
    n, c, h, w = x.shape
    x = x[:, :, :h // 2 * 2, :w // 2 * 2]
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def ms_ssim(a, b) -> np.ndarray:
    """MS-SSIM of each pair (a[i], b[i]); images (N, C, H, W) in [0, 1]. Returns (N,)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 4:
        raise MetricError(f"ms_ssim: expected two (N, C, H, W) arrays of the same shape, "
                          f"got {a.shape} and {b.shape}")
    scales, window, sigma = scale_plan(min(a.shape[2:]))
    weights = np.array(WEIGHTS[:scales]) / sum(WEIGHTS[:scales])
    pad = (window - 1) // 2
    value = np.ones(len(a))
    for j in range(scales):
        ssim, cs = _ssim_terms(a, b, sigma, pad)
        # MS-SSIM = prod_{j<M} cs_j^w_j * ssim_M^w_M
        value *= np.maximum(ssim if j == scales - 1 else cs, 0.0) ** weights[j]
        if j < scales - 1:
            a, b = _downsample(a), _downsample(b)
    return value


def random_pairs(n: int, num_pairs: int, seed: int) -> np.ndarray:
    """``num_pairs`` index pairs (i, j), i != j, uniformly among ``n`` images. (P, 2)."""
    if n < 2:
        raise MetricError(f"MS-SSIM needs at least 2 images, got {n}")
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n, num_pairs)
    return np.stack([first, (first + rng.integers(1, n, num_pairs)) % n], axis=1)


def _collect(images: ImageSet, wanted: np.ndarray | None, quantize: bool,
             advance) -> dict[int, np.ndarray]:
    """Images at the ``wanted`` indices (all if None) as float32 [0, 1] arrays."""
    kept: dict[int, np.ndarray] = {}
    wanted_set = None if wanted is None else set(wanted.tolist())
    start = 0
    for batch in images:
        batch = batch.detach().float().cpu()
        batch = quantize_8bit(batch) if quantize else batch
        unit = batch.add(1).div(2).clamp(0, 1).numpy()
        for k in range(len(unit)):
            if wanted_set is None or start + k in wanted_set:
                kept[start + k] = unit[k]
        start += len(unit)
        if advance is not None:
            advance(len(unit))
    return kept


def pairwise_ms_ssim(images: ImageSet, *, num_pairs: int, seed: int = 0, quantize: bool = True,
                     progress: Progress | None = None,
                     chunk: int = 64) -> tuple[float, int, int]:
    """Mean MS-SSIM over random pairs of ``images``; returns (mean, image count, side)."""
    advance = progress(f"MS-SSIM pairs of {images.description}", images.count) \
        if progress else None
    if images.count is not None:
        pairs = random_pairs(images.count, num_pairs, seed)
        kept = _collect(images, np.unique(pairs), quantize, advance)
        n = images.count
    else:
        kept = _collect(images, None, quantize, advance)
        n = len(kept)
        pairs = random_pairs(n, num_pairs, seed)
    if any(int(i) not in kept for i in pairs.reshape(-1)):
        raise MetricError(f"{images.description}: fewer images than announced ({len(kept)})")
    values = []
    for start in range(0, len(pairs), chunk):
        part = pairs[start:start + chunk]
        values.append(ms_ssim(np.stack([kept[int(i)] for i in part[:, 0]]),
                              np.stack([kept[int(j)] for j in part[:, 1]])))
    side = min(next(iter(kept.values())).shape[1:])
    return float(np.concatenate(values).mean()), n, side


class MSSSIM(Metric):
    """``ms-ssim``: diversity of generated images (lower = more diverse); needs no weights."""

    higher_is_better = False
    requires_real = False
    key = "ms_ssim"
    component_name = "ms-ssim"

    def __init__(self, options=None):

        self.options = options or MSSSIMOptions()

    def prepare(self, device: str | torch.device = "cpu") -> None:
        """Nothing to load."""

    def compute(self, fake, real=None, device: str | torch.device = "cpu", *, store=None,
                progress: Progress | None = None) -> dict[str, float | int | str]:
        quantize = getattr(store, "quantize", True)
        progress = progress or getattr(store, "progress", None)
        fake = ImageSet.wrap(fake, "generated images")
        value, n, side = pairwise_ms_ssim(fake, num_pairs=self.options.num_pairs,
                                          seed=self.options.seed, quantize=quantize,
                                          progress=progress)
        scales, window, _ = scale_plan(side)
        out: dict[str, float | int | str] = {
            "ms_ssim": value, "num_fake": n, "ms_ssim_pairs": self.options.num_pairs,
            "ms_ssim_scales": scales, "ms_ssim_window": window, "fake": fake.description}
        if real is not None and self.options.with_real:
            real = ImageSet.wrap(real, "real images")
            out["ms_ssim_real"], out["num_real"], _ = pairwise_ms_ssim(
                real, num_pairs=self.options.num_pairs, seed=self.options.seed,
                quantize=quantize, progress=progress)
            out["reference"] = real.description
        return out
