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
    out = create("loss", "gan").generator_loss(None, D, -torch.ones(3, 1, 1, 1), None)
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
