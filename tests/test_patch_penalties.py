"""Gradient penalties with patch discriminators (FastGAN (N, 50), PatchGAN (N, P)): the
gradient is that of the image's score, the mean over its patches, so that gamma means
the same whatever the number of patches. Checked against the closed form of a linear
patch critic, D_p(x) = <w_p, x>: grad_x mean_p D_p(x) = mean_p w_p."""

from __future__ import annotations

import torch

from artgan.core.networks import Discriminator
from artgan.core.regularizers import gradient_penalty as r1_style_penalty
from artgan.plugins.adversarial import gradient_penalty as wgan_gp_penalty


class LinearPatchCritic(Discriminator):
    """Scores (N, P): patch p's score is <w_p, x> (P weight images)."""

    patch_scores = True

    def __init__(self, weights: torch.Tensor):
        super().__init__(resolution=weights.shape[-1], channels=weights.shape[1])
        self.weights = torch.nn.Parameter(weights)

    def forward(self, x, y=None):
        return torch.einsum("nchw,pchw->np", x, self.weights)


class LinearCritic(Discriminator):
    """One score per image, <w, x>."""

    def __init__(self, weight: torch.Tensor):
        super().__init__(resolution=weight.shape[-1], channels=weight.shape[0])
        self.weight = torch.nn.Parameter(weight)

    def forward(self, x, y=None):
        return torch.einsum("nchw,chw->n", x, self.weight)


def test_r1_of_a_linear_patch_critic_is_the_squared_norm_of_the_mean_weight():
    torch.manual_seed(0)
    weights = torch.randn(50, 3, 8, 8)
    x = torch.randn(4, 3, 8, 8)
    expected = weights.mean(0).square().sum()  # ||mean_p w_p||^2, the same for every x
    got = r1_style_penalty(LinearPatchCritic(weights), x, None)
    torch.testing.assert_close(got, expected)
    # the sum over patches (the old behaviour) would have been P^2 = 2500 times larger
    assert got < weights.sum(0).square().sum() / 1000


def test_wgan_gp_of_a_linear_patch_critic_uses_the_norm_of_the_mean_weight():
    torch.manual_seed(1)
    weights = torch.randn(9, 1, 4, 4) * 0.3
    real, fake = torch.randn(5, 1, 4, 4), torch.randn(5, 1, 4, 4)
    expected = (weights.mean(0).norm() - 1).square()  # (||mean_p w_p|| - 1)^2
    torch.testing.assert_close(wgan_gp_penalty(LinearPatchCritic(weights), real, fake, None),
                               expected)


def test_penalties_do_not_grow_with_the_number_of_patches():
    torch.manual_seed(2)
    w = torch.randn(3, 8, 8)
    x = torch.randn(2, 3, 8, 8)
    single = r1_style_penalty(LinearCritic(w), x, None)
    torch.testing.assert_close(single, w.square().sum())  # (N,) scores: unchanged
    for patches in (1, 4, 50):
        copies = LinearPatchCritic(w.expand(patches, -1, -1, -1).clone())
        torch.testing.assert_close(r1_style_penalty(copies, x, None), single)
        torch.testing.assert_close(wgan_gp_penalty(copies, x, x.flip(0), None),
                                   wgan_gp_penalty(LinearCritic(w), x, x.flip(0), None))
