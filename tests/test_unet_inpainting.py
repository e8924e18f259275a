"""The U-Net's inpainting options (``fill``, ``residual``) and pix2pix's ``hole_weight``."""

from __future__ import annotations

import pytest
import torch

import artgan.components as components
from artgan.core.errors import PluginError
from artgan.plugins.unet_fill import FILLS, fill_holes
from tests.test_unet_pix2pix import FixedScores, unet


def damaged_batch(seed=0, n=2, size=16):
    """(image (N, 3, S, S) in [-1, 1], damaged (N, 1, S, S) bool with two boxes)."""
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(n, 3, size, size, generator=gen) * 2 - 1
    damaged = torch.zeros(n, 1, size, size, dtype=torch.bool)
    damaged[0, :, 2:9, 3:12] = True
    damaged[-1, :, 10:15, 0:4] = True
    return image, damaged


@pytest.mark.parametrize("mode", FILLS)
def test_fills_change_only_the_masked_pixels(mode):
    image, damaged = damaged_batch()
    out = fill_holes(mode, image, damaged)
    assert out.shape == image.shape
    outside = ~damaged.expand_as(image)
    assert torch.equal(out[outside], image[outside])
    if mode != "none":  # the hole's pixels are replaced by values from its surroundings
        inside = damaged.expand_as(image)
        assert not torch.equal(out[inside], image[inside])
        assert out[inside].min() >= image.min() - 1e-6
        assert out[inside].max() <= image.max() + 1e-6


def test_fills_of_a_flat_image_are_that_colour_and_mean_is_the_mean():
    image, damaged = damaged_batch()
    flat = torch.full_like(image, 0.25)
    for mode in ("mean", "pushpull", "biharmonic"):
        assert torch.allclose(fill_holes(mode, flat.where(~damaged, -1.0), damaged), flat,
                              atol=1e-5), mode
    known = ~damaged[0, 0]
    expected = image[0][:, known].mean(1)  # each channel's mean over the known pixels
    got = fill_holes("mean", image, damaged)[0][:, ~known]
    assert torch.allclose(got, expected[:, None].expand_as(got), atol=1e-6)


def test_pushpull_fills_a_smooth_ramp_closely():
    ramp = torch.linspace(-1, 1, 32).view(1, 1, 1, 32).expand(1, 3, 32, 32).contiguous()
    damaged = torch.zeros(1, 1, 32, 32, dtype=torch.bool)
    damaged[..., 8:20, 10:22] = True
    out = fill_holes("pushpull", ramp.where(~damaged, 1.0), damaged)
    assert (out - ramp).abs().max() < 0.15  # a flat colour would be off by up to 0.7


def test_residual_output_is_the_input_outside_the_mask_exactly_and_the_fill_at_start():
    image, damaged = damaged_batch(size=32)
    condition = torch.cat([image, damaged.float() * 2 - 1], 1)
    for fill in ("none", "pushpull"):
        G = unet({"ngf": 4, "fill": fill, "residual": True}, resolution=32)
        out = G(G.sample_z(2), None, condition)
        outside = ~damaged.expand_as(image)
        assert torch.equal(out[outside], image[outside])
        # the correction starts at 0: an untrained residual U-Net returns the fill
        assert torch.allclose(out, fill_holes(fill, image, damaged).clamp(-1, 1))
        # and it learns: the correction's layer gets a gradient
        out.sum().backward()
        assert G.ups[0][1].weight.grad.abs().sum() > 0
        assert G.keeps_unmasked  # declared to the core, so restore relies on it
    assert not unet({"ngf": 4, "fill": "pushpull"}, resolution=32).keeps_unmasked


def test_fill_without_residual_feeds_the_filled_image_to_the_network():
    image, damaged = damaged_batch()
    condition = torch.cat([image, damaged.float() * 2 - 1], 1)
    torch.manual_seed(0)
    G = unet({"ngf": 4, "fill": "mean"}).eval()
    filled = torch.cat([fill_holes("mean", image, damaged), condition[:, 3:]], 1)
    torch.manual_seed(0)
    plain = unet({"ngf": 4}).eval()
    assert torch.allclose(G(G.sample_z(2), None, condition),
                          plain(plain.sample_z(2), None, filled))


def test_fill_and_residual_need_a_restorers_input():
    with pytest.raises(PluginError, match="need a restorer's input"):
        unet({"fill": "pushpull"}, condition_channels=6)


def test_hole_weight_matches_its_formula():
    real = torch.rand(2, 3, 2, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    fake = torch.rand(2, 3, 2, 2, generator=torch.Generator().manual_seed(2)) * 2 - 1
    damaged = torch.zeros(2, 1, 2, 2, dtype=torch.bool)
    damaged[0, 0, :1, :] = True
    damaged[1, 0, 1, 1] = True
    condition = torch.cat([real, damaged.float() * 2 - 1], 1)
    D = FixedScores()
    adversarial = torch.nn.functional.softplus(-fake[:, :1]).mean()
    loss = components.create("loss", "pix2pix", hole_weight=5.0, l1_weight=10.0)
    out = loss.generator_loss(None, D, real, fake, None, condition=condition)
    # L1 = mean(w |fake - real|), w = 5 in the mask, 1 elsewhere
    w = torch.where(damaged, 5.0, 1.0).expand_as(real)
    l1 = (w * (fake - real).abs()).sum() / real.numel()
    assert torch.allclose(out["l1"], l1)
    assert torch.allclose(out["loss"], adversarial + 10.0 * l1)
    # weight 1 (the default), or no condition: the plain L1
    plain = (fake - real).abs().mean()
    default = components.create("loss", "pix2pix")
    assert torch.allclose(default.generator_loss(None, D, real, fake, None,
                                                 condition=condition)["l1"], plain)
    assert torch.allclose(loss.generator_loss(None, D, real, fake, None)["l1"], plain)


def test_a_residual_restorer_without_a_mask_is_refused_not_a_silent_no_op():
    import numpy as np

    from artgan.restoration import RestoreError
    from artgan.restoration.inpaint import restore

    G = unet({"ngf": 4, "fill": "pushpull", "residual": True})
    pixels = np.full((16, 16, 3), 128, np.uint8)
    with pytest.raises(RestoreError, match="repairs only what the mask marks"):
        restore(G, pixels, None)
    mask = np.zeros((16, 16), bool)
    mask[4:8, 4:8] = True
    pixels[mask] = 255
    result = restore(G, pixels, mask)  # the untrained residual restorer: the fill
    assert (result.pixels[mask] == 128).all() and (result.pixels[~mask] == 128).all()
    assert (result.weights == mask).all()  # no feathered band: only the mask changes
