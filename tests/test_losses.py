"""Losses checked against their formulas on hand-made logits, independent of the code."""

import math

import torch

from artgan import create


class FixedD(torch.nn.Module):
    """A stand-in discriminator returning given logits for real (marked 1) and fake (0)."""

    def __init__(self, real_logits, fake_logits):
        super().__init__()
        self.real, self.fake = real_logits, fake_logits

    def forward(self, x, y=None):
        return self.real if bool(x[0, 0, 0, 0] > 0) else self.fake


def sigmoid(v):
    return 1 / (1 + math.exp(-v))


def test_gan_discriminator_loss_equals_bce_formula():
    real_l, fake_l = [2.0, -1.0, 0.5], [-3.0, 0.25, 1.5]
    D = FixedD(torch.tensor(real_l), torch.tensor(fake_l))
    real, fake = torch.ones(3, 1, 1, 1), -torch.ones(3, 1, 1, 1)
    out = create("loss", "gan").discriminator_loss(None, D, real, fake, None)
    expected = sum(-math.log(sigmoid(r)) for r in real_l) / 3 + \
        sum(-math.log(1 - sigmoid(f)) for f in fake_l) / 3
    assert math.isclose(out["loss"].item(), expected, rel_tol=1e-6)


def test_gan_generator_loss_is_non_saturating():
    fake_l = [-3.0, 0.25, 1.5]
    D = FixedD(None, torch.tensor(fake_l))
    out = create("loss", "gan").generator_loss(None, D, None, -torch.ones(3, 1, 1, 1), None)
    expected = sum(-math.log(sigmoid(f)) for f in fake_l) / 3
    assert math.isclose(out["loss"].item(), expected, rel_tol=1e-6)


def test_label_smoothing_uses_target_one_minus_s():
    real_l = [2.0, -1.0]
    D = FixedD(torch.tensor(real_l), torch.tensor([0.0, 0.0]))
    out = create("loss", "gan", label_smoothing=0.1).discriminator_loss(
        None, D, torch.ones(2, 1, 1, 1), -torch.ones(2, 1, 1, 1), None)
    t = 0.9
    bce = [-(t * math.log(sigmoid(r)) + (1 - t) * math.log(1 - sigmoid(r))) for r in real_l]
    expected = sum(bce) / 2 + math.log(2)
    assert math.isclose(out["loss"].item(), expected, rel_tol=1e-6)


def _fixed(real_l, fake_l):
    return FixedD(torch.tensor(real_l), torch.tensor(fake_l)), torch.ones(len(real_l), 1, 1, 1), \
        -torch.ones(len(fake_l), 1, 1, 1)


def test_hinge_losses_equal_their_formulas():
    real_l, fake_l = [2.0, 0.5, -0.3], [-2.0, 0.2, 1.5]
    D, real, fake = _fixed(real_l, fake_l)
    loss = create("loss", "hinge")
    d = loss.discriminator_loss(None, D, real, fake, None)["loss"].item()
    expected = sum(max(0, 1 - r) for r in real_l) / 3 + sum(max(0, 1 + f) for f in fake_l) / 3
    assert math.isclose(d, expected, rel_tol=1e-6)
    g = loss.generator_loss(None, D, real, fake, None)["loss"].item()
    assert math.isclose(g, -sum(fake_l) / 3, rel_tol=1e-6)


def test_lsgan_losses_equal_their_formulas():
    real_l, fake_l = [2.0, 0.5], [-2.0, 0.25]
    D, real, fake = _fixed(real_l, fake_l)
    loss = create("loss", "lsgan")
    d = loss.discriminator_loss(None, D, real, fake, None)["loss"].item()
    expected = 0.5 * sum((r - 1) ** 2 for r in real_l) / 2 + 0.5 * sum(f ** 2 for f in fake_l) / 2
    assert math.isclose(d, expected, rel_tol=1e-6)
    g = loss.generator_loss(None, D, real, fake, None)["loss"].item()
    assert math.isclose(g, 0.5 * sum((f - 1) ** 2 for f in fake_l) / 2, rel_tol=1e-6)


def test_wgan_critic_loss_is_the_negative_wasserstein_estimate():
    real_l, fake_l = [2.0, 1.0], [-1.0, 0.5]
    D, real, fake = _fixed(real_l, fake_l)
    out = create("loss", "wgan").discriminator_loss(None, D, real, fake, None)
    assert math.isclose(out["wdist"].item(), 1.5 - (-0.25), rel_tol=1e-6)
    assert math.isclose(out["loss"].item(), -1.75, rel_tol=1e-6)


def test_wgan_clips_every_critic_weight_into_minus_c_c():
    D = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 1))
    torch.nn.init.normal_(D[0].weight, std=3.0)
    loss = create("loss", "wgan", clip=0.05)
    loss.after_discriminator_step(D)
    flat = torch.cat([p.flatten() for p in D.parameters()])
    assert flat.abs().max().item() <= 0.05 + 1e-9
    assert (flat.abs() == 0.05).any()  # the clip bound was actually reached


class LinearCritic(torch.nn.Module):
    """D(x) = w . x: its input gradient is w everywhere, so ||grad|| = ||w||."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x, y=None):
        return (x.flatten(1) * self.w).sum(1)


def test_wgan_gp_penalty_of_a_linear_critic_is_lambda_times_norm_minus_one_squared():
    torch.manual_seed(0)
    w = torch.randn(3 * 4 * 4) * 0.3
    D = LinearCritic(w)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    out = create("loss", "wgan-gp", gp_weight=7.0).discriminator_loss(None, D, real, fake, None)
    expected_gp = (w.norm().item() - 1) ** 2
    assert math.isclose(out["gp"].item(), expected_gp, rel_tol=1e-5)
    wdist = (D(real).mean() - D(fake).mean()).item()
    assert math.isclose(out["loss"].item(), -wdist + 7.0 * expected_gp, rel_tol=1e-5)
    out["loss"].backward()  # the penalty is differentiable w.r.t. the critic's weights
    assert D.w.grad is not None and torch.isfinite(D.w.grad).all()


def test_losses_declare_the_published_optimiser_settings():
    wgan, gp = create("loss", "wgan"), create("loss", "wgan-gp")
    assert (wgan.optimizer.name, wgan.optimizer.lr, wgan.n_critic) == ("rmsprop", 5e-5, 5)
    assert (gp.optimizer.name, gp.optimizer.lr, gp.optimizer.betas, gp.n_critic) == \
        ("adam", 1e-4, (0.0, 0.9), 5)
    assert gp.forbids_batchnorm and not wgan.forbids_batchnorm
