"""CycleGAN: the two-generator model, the two-critic discriminator, the loss against its
formulas (stub networks, hand-made tensors); the image pool and resume:
tests/test_cyclegan_pool.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from artgan import testing
from artgan.core.networks import Discriminator, Generator
from artgan.plugin_host import get_registry
from artgan.plugins.cyclegan import GeneratorOptions, LossOptions
from artgan.plugins.cyclegan_loss import CycleGANLoss, CycleGANSetupError
from artgan.plugins.cyclegan_nets import CycleGANGenerator, ResNetGenerator, auto_blocks

from .cyclegan_helpers import SMALL_D, SMALL_G, build, build_loss, images


# -- the generator ---------------------------------------------------------------------------
def test_generator_is_two_resnets_translating_at_any_multiple_of_four():
    G = build("generator", options=SMALL_G)
    assert (G.z_dim, G.condition_channels, G.image_conditioned) == (0, 3, True)
    assert G.directions == ("a2b", "b2a") and G.size_multiple == 4
    assert isinstance(G.in_direction("a2b"), ResNetGenerator)
    assert G.in_direction("b2a") is G.b2a and G.in_direction("a2b") is not G.b2a
    A = images(2)
    out = G(G.sample_z(2), None, A)
    assert out.shape == A.shape and out.abs().max() <= 1
    assert torch.equal(out, G.a2b(A))
    for h, w in ((20, 12), (8, 36)):  # fully convolutional: other sizes keep their size
        x = images(1, h=h, w=w)
        assert G(G.sample_z(1), None, x).shape == (1, 3, h, w)
        assert G.b2a(x).shape == (1, 3, h, w)
    with pytest.raises(ValueError, match="unknown direction 'c2d'.*a2b or b2a"):
        G.in_direction("c2d")


def test_generator_architecture_follows_cyclegan():
    G = build("generator", options={"ngf": 8})
    layers = list(G.a2b.modules())
    norms = [m for m in layers if isinstance(m, nn.InstanceNorm2d)]
    assert norms and not any(m.affine or m.track_running_stats for m in norms)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in layers)
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in layers) == 2 + 2 * G.blocks
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    assert convs[0].kernel_size == (7, 7) and convs[-1].kernel_size == (7, 7)
    assert [m.out_channels for m in convs[:3]] == [8, 16, 32]  # c7s1-64, d128, d256 at ngf 8
    assert isinstance(list(G.a2b.main)[-1], nn.Tanh)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in layers) == 2
    assert (auto_blocks(128), auto_blocks(255), auto_blocks(256), auto_blocks(512)) == (6, 6, 9, 9)
    assert build("generator", options={"ngf": 1}, resolution=256).blocks == 9
    assert build("generator", options={"ngf": 1}, resolution=128).blocks == 6
    assert build("generator", options={"ngf": 1, "blocks": 2}).blocks == 2


def test_generator_preview_rows_are_source_translation_reconstruction():
    G = build("generator", options=SMALL_G).eval()
    A = images(3)
    rows = G.preview_rows(G.sample_z(3), None, A)
    assert len(rows) == 3
    assert torch.equal(rows[0], A)
    assert torch.allclose(rows[1], G.a2b(A))
    assert torch.allclose(rows[2], G.b2a(G.a2b(A)))


def test_generator_refuses_bad_sizes_and_data_without_input_images():
    with pytest.raises(ValueError, match="--resolution 18.*multiple of 4"):
        CycleGANGenerator(GeneratorOptions(ngf=4), resolution=18, channels=3)
    for cond in (0, 1):
        with pytest.raises(ValueError, match="--data unpaired:folder:A,folder:B"):
            CycleGANGenerator(GeneratorOptions(ngf=4), resolution=16, channels=3,
                              condition_channels=cond)
    grey = build("generator", options=SMALL_G, channels=1, condition_channels=1)
    assert grey(grey.sample_z(2), None, images(2, c=1)).shape == (2, 1, 16, 16)


def test_generator_registration_pairs_the_cyclegan_disc_and_loss():
    entry = get_registry().get("generator", "cyclegan")
    assert dict(entry.defaults) == {"disc": "cyclegan", "loss": "cyclegan", "data": "unpaired"}


# -- the discriminator -----------------------------------------------------------------------
def test_discriminator_is_two_patchgans_and_passes_the_contract():
    D = testing.check_discriminator("cyclegan", SMALL_D)
    assert D.patch_scores and not D.image_conditioned
    x = images(2)
    assert torch.equal(D(x), D.d_b(x))
    assert not torch.equal(D.d_a(x), D.d_b(x))  # two networks, two sets of weights
    ids = {id(p) for p in D.d_a.parameters()}
    assert ids.isdisjoint(id(p) for p in D.d_b.parameters())
    norms = [m for m in D.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    testing.check_discriminator("cyclegan", SMALL_D, resolution=32, channels=1)


# -- the loss against its formulas -----------------------------------------------------------
class Scale(nn.Module):
    """x -> s * x + t: a stub translator with two weights."""

    def __init__(self, s, t):
        super().__init__()
        self.s, self.t = nn.Parameter(torch.tensor(s)), nn.Parameter(torch.tensor(t))

    def forward(self, x):
        return self.s * x + self.t


class StubTranslator(Generator):
    directions = ("a2b", "b2a")

    def __init__(self):
        super().__init__(z_dim=0, resolution=4, channels=1, condition_channels=1)
        self.a2b, self.b2a = Scale(0.5, 0.1), Scale(-0.8, 0.2)

    def in_direction(self, name):
        return getattr(self, name)

    def forward(self, z, y=None, condition=None):
        return self.a2b(condition)


class Patches(nn.Module):
    """A stub critic: patch scores k * x (N, 1, H, W)."""

    def __init__(self, k):
        super().__init__()
        self.k = nn.Parameter(torch.tensor(k))

    def forward(self, x):
        return self.k * x


class StubCritics(Discriminator):
    patch_scores = True

    def __init__(self):
        super().__init__(resolution=4, channels=1)
        self.d_a, self.d_b = Patches(0.7), Patches(-1.3)

    def forward(self, x, y=None):
        return self.d_b(x)


def hand_made():
    A = torch.tensor([[[[0.5, -0.5, 0.25, 1.0]] * 4], [[[-1.0, 0.0, 0.75, -0.25]] * 4]])
    B = torch.tensor([[[[0.1, 0.2, -0.3, 0.4]] * 4], [[[0.9, -0.6, 0.0, -0.9]] * 4]])
    return A, B  # (2, 1, 4, 4) each


def mse(x, target):
    return F.mse_loss(x, torch.full_like(x, target))


def test_generator_loss_matches_the_cyclegan_formulas():
    G, D = StubTranslator(), StubCritics()
    A, B = hand_made()
    assert (LossOptions().cycle, LossOptions().identity, LossOptions().pool_size) == (10, 0.5, 50)
    loss = CycleGANLoss(LossOptions())
    fake_b = G(G.sample_z(2), None, A)
    out = loss.generator_loss(G, D, B, fake_b, None, condition=A)
    a2b = lambda x: 0.5 * x + 0.1  # noqa: E731  (the stubs' weights)
    b2a = lambda x: -0.8 * x + 0.2  # noqa: E731
    adv_b = mse(-1.3 * a2b(A), 1.0)  # LSGAN, generator side: E[(D(G(x)) - 1)^2]
    adv_a = mse(0.7 * b2a(B), 1.0)
    cycle_a = F.l1_loss(b2a(a2b(A)), A)  # forward cycle: |F(G(A)) - A|_1
    cycle_b = F.l1_loss(a2b(b2a(B)), B)  # backward cycle: |G(F(B)) - B|_1
    idt_b = F.l1_loss(a2b(B), B)  # identity: |G(B) - B|_1
    idt_a = F.l1_loss(b2a(A), A)
    expected = adv_b + adv_a + 10 * (cycle_a + cycle_b) + 0.5 * 10 * (idt_a + idt_b)
    for key, value in dict(adv_b=adv_b, adv_a=adv_a, cycle_a=cycle_a, cycle_b=cycle_b,
                           idt_a=idt_a, idt_b=idt_b, loss=expected).items():
        assert torch.allclose(out[key], value), key
    out["loss"].backward()
    for module in (G.a2b, G.b2a):  # both generators learn in the generator phase
        assert all(p.grad is not None and p.grad.abs() > 0 for p in module.parameters())

    no_identity = CycleGANLoss(LossOptions(identity=0.0))
    out0 = no_identity.generator_loss(G, D, B, fake_b, None, condition=A)
    assert "idt_a" not in out0 and torch.allclose(out0["loss"], expected - 5 * (idt_a + idt_b))
    weighted = CycleGANLoss(LossOptions(cycle=4.0, identity=0.25))
    out4 = weighted.generator_loss(G, D, B, fake_b, None, condition=A)
    assert torch.allclose(out4["loss"], adv_b + adv_a + 4 * (cycle_a + cycle_b)
                          + 0.25 * 4 * (idt_a + idt_b))


def test_discriminator_loss_matches_the_formulas_and_leaves_the_generators_alone():
    G, D = StubTranslator(), StubCritics()
    A, B = hand_made()
    loss = CycleGANLoss(LossOptions(pool_size=0))
    fake_b = G(G.sample_z(2), None, A).detach()
    out = loss.discriminator_loss(G, D, B, fake_b, None, condition=A)
    fake_a = -0.8 * B + 0.2  # b2a(B)
    # 1/2 (E[(D(real) - 1)^2] + E[D(fake)^2]) per discriminator, summed
    expected_b = 0.5 * (mse(-1.3 * B, 1.0) + mse(-1.3 * fake_b, 0.0))
    expected_a = 0.5 * (mse(0.7 * A, 1.0) + mse(0.7 * fake_a, 0.0))
    assert torch.allclose(out["loss"], expected_b + expected_a)
    assert torch.allclose(out["real_b"], (-1.3 * B).mean())
    assert torch.allclose(out["fake_a"], (0.7 * fake_a).mean())
    out["loss"].backward()
    assert all(p.grad is None for p in G.parameters())
    assert D.d_a.k.grad is not None and D.d_b.k.grad is not None


def test_loss_refuses_networks_and_data_it_cannot_train():
    loss = build_loss()
    G, D = StubTranslator(), StubCritics()
    A, B = hand_made()
    with pytest.raises(CycleGANSetupError, match="--data unpaired"):
        loss.generator_loss(G, D, B, A, None)
    dcgan = get_registry().build("generator", "dcgan", {"ngf": 8, "z_dim": 4},
                                 resolution=16, channels=3, num_classes=0)
    with pytest.raises(CycleGANSetupError, match="--gen dcgan .*use --gen cyclegan"):
        loss.generator_loss(dcgan, D, B, A, None, condition=A)
    critic = get_registry().build("discriminator", "patchgan", {"ndf": 4}, resolution=16,
                                  channels=3, num_classes=0)
    with pytest.raises(CycleGANSetupError, match="--disc patchgan .*use --disc cyclegan"):
        CycleGANLoss.check_networks(G, critic)
    CycleGANLoss.check_networks(G, D)


def test_loss_recommends_cyclegans_optimiser_and_schedule():
    settings = build_loss().optimizer
    assert (settings.name, settings.lr, settings.betas) == ("adam", 2e-4, (0.5, 0.999))
    assert settings.decay_start == 0.5  # 100 epochs constant, 100 decaying to 0


def test_loss_phases_on_the_registered_networks():
    """The contract check for a translation loss (artgan.testing.check_loss cannot pass
    the input images): finite scalars; D phase reaches both critics and no generator; G
    phase reaches both generators."""
    G, D, loss = build("generator", options=SMALL_G), build("discriminator", options=SMALL_D), \
        build_loss(pool_size=2)
    A, B = images(2, seed=1), images(2, seed=2)
    out = loss.discriminator_loss(G, D, B, G(G.sample_z(2), None, A).detach(), None,
                                  condition=A)
    assert all(v.ndim == 0 and torch.isfinite(v) for v in out.values())
    out["loss"].backward()
    assert all(p.grad is None for p in G.parameters())
    for critic in (D.d_a, D.d_b):
        assert all(p.grad is not None for p in critic.parameters())
    D.zero_grad(set_to_none=True)
    D.requires_grad_(False)  # as the trainer does in the generator phase
    out = loss.generator_loss(G, D, B, G(G.sample_z(2), None, A), None, condition=A)
    assert all(v.ndim == 0 and torch.isfinite(v) for v in out.values())
    out["loss"].backward()
    for generator in (G.a2b, G.b2a):
        assert all(p.grad is not None and torch.isfinite(p.grad).all()
                   for p in generator.parameters())
