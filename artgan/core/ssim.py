"""Differentiable SSIM and MS-SSIM in torch, for objectives (reconstruction, projection).

Images are in [-1, 1] and are compared as [0, 1] images with data range 1 (SSIM's
luminance term depends on the absolute level, so this is the usual convention).
Structural similarity (Wang et al. 2004) with an 11-tap Gaussian window (sigma 1.5),
K1 = 0.01, K2 = 0.03, population statistics, the mean over the "valid" positions (where
the window lies inside the image) and over channels: per image the same number as
scikit-image's ``structural_similarity(gaussian_weights=True,
use_sample_covariance=False, data_range=1)`` and as artgan's MS-SSIM metric (tests
check both).

    l = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)
    cs = (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2)
    SSIM = mean(l * cs),  C1 = K1^2, C2 = K2^2

MS-SSIM (Wang et al. 2003) = prod_j mean(cs_j)^w_j * SSIM_M^w_M over 2x2-average-pooled
scales, weights 0.0448, 0.2856, 0.3001, 0.2363, 0.1333; the terms are clipped at 0 (as
TensorFlow's ``ssim_multiscale``). Images too small for five scales use the scales whose
side is at least 11 px, with the first weights renormalised to sum to 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW, SIGMA, K1, K2 = 11, 1.5, 0.01, 0.03


def _window(channels: int, like: torch.Tensor) -> torch.Tensor:
    """The normalised 11x11 Gaussian as a depthwise conv weight (C, 1, 11, 11)."""
    r = torch.arange(WINDOW, dtype=torch.float64) - WINDOW // 2
    g = torch.exp(-(r ** 2) / (2 * SIGMA ** 2))
    g = g / g.sum()
    w = (g[:, None] * g[None, :]).to(like)
    return w.expand(channels, 1, WINDOW, WINDOW).contiguous()


def _terms(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: mean SSIM and mean contrast-structure term over valid positions."""
    c = x.shape[1]
    w = _window(c, x)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    sxx = blur(x * x) - mu_x ** 2
    syy = blur(y * y) - mu_y ** 2
    sxy = blur(x * y) - mu_x * mu_y
    c1, c2 = K1 ** 2, K2 ** 2
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)
    return (luminance * cs).flatten(1).mean(1), cs.flatten(1).mean(1)


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"SSIM needs two image batches of the same shape (N, C, H, W), "
                         f"got {tuple(x.shape)} and {tuple(y.shape)}")
    if min(x.shape[-2:]) < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW}x{WINDOW} pixels, got "
                         f"{tuple(x.shape[-2:])}")


def _unit(x: torch.Tensor) -> torch.Tensor:
    return (x.float() + 1) / 2  # [-1, 1] -> [0, 1]


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """SSIM per image (N,) of images in [-1, 1], differentiable."""
    _check(x, y)
    return _terms(_unit(x), _unit(y))[0]


def scales_for(side: int) -> int:
    """Number of MS-SSIM scales for images of this shorter side (at least 1)."""
    scales = 1
    while scales < len(WEIGHTS) and side // 2 ** scales >= WINDOW:
        scales += 1
    return scales


def ms_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MS-SSIM per image (N,) in [0, 1] of images in [-1, 1], differentiable (see the
    module docstring)."""
    _check(x, y)
    x, y = _unit(x), _unit(y)
    count = scales_for(min(x.shape[-2:]))
    weights = torch.tensor(WEIGHTS[:count], device=x.device)
    weights = weights / weights.sum()
    values = []
    for j in range(count):
        whole, cs = _terms(x, y)
        values.append((whole if j == count - 1 else cs).clamp_min(0))
        if j < count - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    stacked = torch.stack(values, dim=1)  # (N, scales)
    # a tiny floor keeps the gradient of t^w finite where a term is exactly 0
    return stacked.clamp_min(1e-8).pow(weights).prod(dim=1)
