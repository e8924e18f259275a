"""``--gen unet`` (pix2pix's U-Net) and ``--loss pix2pix`` (against its formula)."""

from __future__ import annotations

import pytest
import torch

import artgan.components as components
from artgan.core.errors import PluginError
from artgan.core.loss import OptimizerSettings
from artgan.core.networks import Discriminator
from artgan.plugin_host import get_registry


def unet(options=None, *, resolution=16, channels=3, condition_channels=4):
    return components.build("generator", "unet", options, resolution=resolution,
                            channels=channels, condition_channels=condition_channels)


# -- the U-Net -----------------------------------------------------------------------------

@pytest.mark.parametrize("resolution,depth", [(16, 4), (32, 5), (96, 5), (256, 8), (512, 8)])
def test_depth_is_as_many_levels_as_the_resolution_allows_up_to_8(resolution, depth):
    G = unet({"ngf": 1}, resolution=resolution)
    assert G.depth == depth and G.size_multiple == 2 ** depth and G.z_dim == 0


def test_pix2pix_layout_at_256_px():
    G = unet({"ngf": 2}, resolution=256)
    convs = [m for m in G.downs.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [2, 4, 8, 16, 16, 16, 16, 16]  # C64-...-C512
    dropouts = [m for m in G.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 3 and all(d.p == 0.5 for d in dropouts)
    assert isinstance(G.ups[0][-1], torch.nn.Tanh)
    # pix2pix's unet_256 (3 input channels) has 54,413,955 parameters; a 4th input channel
    # adds 64 * 4 * 4 = 1,024 weights to the first conv
    full = unet(resolution=256)
    assert sum(p.numel() for p in full.parameters()) == 54_413_955 + 1_024


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_fully_convolutional_at_any_multiple_of_its_size(norm):
    G = unet({"ngf": 4, "norm": norm}, resolution=16)
    for h, w in [(16, 16), (48, 32), (16, 80)]:
        out = G(G.sample_z(2), None, torch.rand(2, 4, h, w) * 2 - 1)
        assert out.shape == (2, 3, h, w) and out.abs().max() <= 1
    with pytest.raises(PluginError, match="needs sides divisible by 16, got 24x16"):
        G(G.sample_z(1), None, torch.zeros(1, 4, 24, 16))


def test_the_output_depends_on_the_input_through_the_skips():
    G = unet({"ngf": 4}, resolution=16).eval()
    x = (torch.rand(1, 4, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    x.requires_grad_(True)
    G(G.sample_z(1), None, x)[0, :, 3, 3].sum().backward()
    # the outermost skip carries each pixel's neighbourhood straight to the output
    assert x.grad[0, :, 3, 3].abs().sum() > 0


@pytest.mark.parametrize("options,injected,message", [
    (None, {"condition_channels": 0}, "the U-Net is image to image: it needs input images "
                                      "(a damaged image and its mask) from the data; use "
                                      "--data damage:SPEC"),
    ({"depth": 5}, {}, "-o gen.depth=5 needs a resolution divisible by 32; got "
                       "--resolution 16"),
    ({"depth": 1}, {}, "-o gen.depth must be 0 (auto) or 2 to 8; got 1"),
    (None, {"resolution": 18}, "the U-Net needs a resolution divisible by 4 (two stride-2 "
                               "levels); got --resolution 18"),
])
def test_refuses_settings_it_cannot_run_naming_the_flag(options, injected, message):
    with pytest.raises(PluginError) as info:
        unet(options, **injected)
    assert info.value.setting  # a ValueError: a setting refused, not a bug
    assert str(info.value).startswith(f"generator 'unet' (built into artgan): {message}")


def test_registered_with_its_discriminator_and_loss():
    entry = get_registry().get("generator", "unet")
    assert dict(entry.defaults) == {"disc": "patchgan", "loss": "pix2pix", "data": "damage:demo"}


# -- the pix2pix loss ----------------------------------------------------------------------

class FixedScores(Discriminator):
    """A stub D whose patch scores are the images' first channel, (N, H*W)."""

    patch_scores = True

    def __init__(self):
        super().__init__(resolution=2, channels=3)
        self.calls = []

    def forward(self, x, y=None):
        self.calls.append(x)
        return x[:, :1]


def test_pix2pix_loss_against_its_formula():
    loss = components.create("loss", "pix2pix")
    assert loss.optimizer == OptimizerSettings("adam", lr=2e-4, betas=(0.5, 0.999))
    real = torch.tensor([[[[0.5, -1.0], [2.0, 0.0]], [[0.1, 0.2], [0.3, 0.4]],
                          [[0.0, 0.0], [0.0, 0.0]]]])
    fake = torch.tensor([[[[-0.5, 1.0], [0.0, 3.0]], [[0.2, 0.2], [0.0, 0.0]],
                          [[1.0, -1.0], [0.0, 0.0]]]])
    D = FixedScores()
    sig = torch.sigmoid
    r, f = real[:, 0].flatten(), fake[:, 0].flatten()
    # D: 1/2 (mean -log sigmoid(D(real)) + mean -log(1 - sigmoid(D(fake))))
    expected_d = 0.5 * ((-torch.log(sig(r))).mean() + (-torch.log(1 - sig(f))).mean())
    out = loss.discriminator_loss(None, D, real, fake, None)
    assert torch.allclose(out["loss"], expected_d)
    assert D.calls[0] is real and D.calls[1] is fake
    # G: mean -log sigmoid(D(fake)) + 100 * mean |fake - real|
    l1 = (fake - real).abs().sum() / fake.numel()
    expected_g = (-torch.log(sig(f))).mean() + 100 * l1
    out = loss.generator_loss(None, D, real, fake, None)
    assert torch.allclose(out["loss"], expected_g)
    assert torch.allclose(out["l1"], l1) and torch.allclose(out["adv"], expected_g - 100 * l1)

    weighted = components.create("loss", "pix2pix", l1_weight=7.5)
    assert torch.allclose(weighted.generator_loss(None, D, real, fake, None)["loss"],
                          (-torch.log(sig(f))).mean() + 7.5 * l1)


def test_pix2pix_trains_a_unet_against_a_patchgan_judging_pairs():
    torch.manual_seed(0)
    G = unet({"ngf": 4}, resolution=16)
    D = components.build("discriminator", "patchgan", {"ndf": 4}, resolution=16, channels=3,
                         condition_channels=4)
    loss = components.create("loss", "pix2pix")
    condition = torch.rand(2, 4, 16, 16) * 2 - 1
    real = torch.rand(2, 3, 16, 16) * 2 - 1

    def bound(x, y):  # what the trainer hands the loss: D bound to the input images
        return D(x, y, condition)

    fake = G(G.sample_z(2), None, condition)
    out = loss.generator_loss(G, bound, real, fake, None)
    out["loss"].backward()
    assert all(p.grad is not None for p in G.parameters())
    assert torch.isfinite(out["loss"]) and out["l1"] > 0
    D.zero_grad()
    loss.discriminator_loss(G, bound, real, fake.detach(), None)["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in D.parameters() if p.grad is not None)
