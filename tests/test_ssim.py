"""The differentiable SSIM/MS-SSIM of artgan.core.ssim against independent computations."""

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from artgan.core.ssim import ms_ssim, scales_for, ssim
from artgan.metrics.msssim import ms_ssim as metric_ms_ssim


def _pair(side: int, noise: float = 0.3):
    gen = torch.Generator().manual_seed(side)
    x = torch.rand(3, 3, side, side, generator=gen) * 2 - 1
    return x, (x + noise * torch.randn(x.shape, generator=gen)).clamp(-1, 1)


def test_ssim_equals_scikit_image_per_image():
    x, y = _pair(40)
    expected = [structural_similarity(((a + 1) / 2).double().numpy(),
                                      ((b + 1) / 2).double().numpy(), channel_axis=0,
                                      data_range=1.0, gaussian_weights=True,
                                      use_sample_covariance=False)
                for a, b in zip(x, y)]
    np.testing.assert_allclose(ssim(x, y).numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("side", [16, 64, 180])
def test_ms_ssim_equals_the_metric_implementation(side):
    x, y = _pair(side)
    # the metric works on [0, 1] images (data range 1) with scipy filters
    expected = metric_ms_ssim(((x + 1) / 2).numpy(), ((y + 1) / 2).numpy())
    np.testing.assert_allclose(ms_ssim(x, y).numpy(), expected, rtol=1e-4, atol=1e-5)
    assert scales_for(side) == {16: 1, 64: 3, 180: 5}[side]


def test_identical_images_score_one_and_gradients_are_finite():
    x, y = _pair(32)
    assert torch.allclose(ms_ssim(x, x), torch.ones(3))
    x.requires_grad_(True)
    (1 - ms_ssim(x, y)).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_too_small_or_mismatched_images_are_refused():
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="same shape"):
        ms_ssim(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 17))
