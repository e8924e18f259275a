"""DiffAugment: shape, range, gradients, identity at strength 0, per-sample parameters,
and that every place D is called (D step, G step, penalties) sees augmented images."""

import pytest
import torch

from artgan.core.augment import AugmentPipeline, random_mirror
from artgan.core.view import DiscriminatorView
from artgan.plugin_host import get_registry
from artgan.plugins.adversarial import gradient_penalty
from artgan.plugins.augment import ColorOptions, CutoutOptions, TranslationOptions
from artgan.plugins.diffaugment import Color, Cutout, Translation
from artgan.testing import check_augmentation

AUGS = ["color", "translation", "cutout"]


@pytest.mark.parametrize("name", AUGS)
def test_every_builtin_augmentation_meets_the_contract(name):
    assert name in get_registry().names("augmentation")
    check_augmentation(name)


@pytest.mark.parametrize("name", AUGS)
def test_gradients_reach_the_generator_through_the_augmentation(name):
    torch.manual_seed(0)
    G = torch.nn.Sequential(torch.nn.Linear(8, 3 * 16 * 16), torch.nn.Tanh())
    fake = G(torch.randn(4, 8)).view(4, 3, 16, 16)
    aug = get_registry().build("augmentation", name)
    aug(fake).mean().backward()
    grad = G[0].weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("aug", [Color(ColorOptions(0.0)), Translation(TranslationOptions(0.0)), Cutout(CutoutOptions(0.0))])
def test_strength_zero_is_the_identity(aug):
    x = torch.rand(5, 3, 16, 16) * 2 - 1
    assert torch.equal(aug(x), x)


def _shift(img, dy, dx):
    """img shifted by (dy, dx) whole pixels with zero fill (the reference)."""
    out = torch.zeros_like(img)
    h, w = img.shape[-2:]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def test_translation_shifts_each_sample_by_its_own_offset_up_to_an_eighth():
    torch.manual_seed(1)
    img = torch.rand(3, 16, 16) * 2 - 1
    out = Translation(TranslationOptions(0.125))(img.expand(32, -1, -1, -1).contiguous())
    found = set()
    for sample in out:
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if torch.equal(sample, _shift(img, dy, dx))]
        assert matches, "output is not a shift of at most 2 px (1/8 of 16) of the input"
        found.add(matches[0])
    assert len(found) > 5  # per-sample draws, not one shift for the batch


def test_cutout_blanks_one_square_of_half_the_side_per_sample():
    torch.manual_seed(2)
    x = torch.rand(64, 3, 16, 16) + 0.5  # no zeros in the input
    out = Cutout(CutoutOptions(0.5))(x)
    holes = out[:, 0] == 0
    assert torch.equal(out[~holes[:, None].expand_as(out)], x[~holes[:, None].expand_as(x)])
    for hole in holes:
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert 0 < len(rows) <= 8 and 0 < len(cols) <= 8
        assert hole.sum() == len(rows) * len(cols)  # a (clipped) rectangle
    assert len({tuple(h.nonzero()[0].tolist()) for h in holes}) > 10  # per-sample positions


def test_color_draws_per_sample_factors_and_stays_in_range():
    torch.manual_seed(3)
    img = torch.rand(1, 3, 16, 16) * 2 - 1
    out = Color(ColorOptions(1.0))(img.expand(8, -1, -1, -1))
    assert out.min() >= -1 and out.max() <= 1
    assert len({round(float(o.mean()), 5) for o in out}) == 8


def test_pipeline_applies_in_order_and_keeps_shape():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    pipe = AugmentPipeline([Color(), Translation(), Cutout()], ("color", "translation", "cutout"))
    assert pipe(x).shape == x.shape


class LinearCritic(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(3 * 16 * 16))

    def forward(self, x, y=None):
        return x.flatten(1) @ self.w


class CountingAug(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x.flip(3)


def test_penalties_that_call_d_see_augmented_images():
    aug = CountingAug()
    D = DiscriminatorView(LinearCritic(), aug)
    real, fake = torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)
    gradient_penalty(D, real, fake, None)
    assert aug.calls == 1


def test_real_and_fake_get_independent_draws():
    """Each call of the wrapper draws new parameters (DiffAugment's D step: real and fake
    batches are augmented independently)."""
    torch.manual_seed(4)
    seen = []
    D = DiscriminatorView(LinearCritic(), Translation(TranslationOptions(0.25)))
    D.D.forward = lambda x, y=None: seen.append(x) or x.flatten(1).sum(1)
    x = torch.randn(16, 3, 16, 16)
    D(x), D(x)
    assert not torch.equal(seen[0], seen[1])


def test_trainer_hands_the_loss_an_augmented_discriminator(tmp_path):
    import artgan

    seen = []

    class SpyLoss(artgan.create("loss", "gan").__class__):
        def discriminator_loss(self, G, D, real, fake, y):
            seen.append(("d", type(D).__name__))
            return super().discriminator_loss(G, D, real, fake, y)

        def generator_loss(self, G, D, real, fake, y):
            seen.append(("g", type(D).__name__))
            return super().generator_loss(G, D, real, fake, y)

    trainer = artgan.make_trainer(loss=SpyLoss(), data="demo", resolution=16, batch_size=8,
                                  max_steps=2, device="cpu", augment="color,cutout",
                                  options={"gen": {"ngf": 8}, "disc": {"ndf": 8},
                                           "data": {"size": 16}}, out=tmp_path / "run")
    assert [a.name for a in trainer.config.regularisation.augment] == ["color", "cutout"]
    trainer.fit()
    assert set(seen) == {("d", "DiscriminatorView"), ("g", "DiscriminatorView")}
    assert trainer.view.augment is not None


def test_random_mirror_flips_about_half_the_images():
    torch.manual_seed(0)
    x = torch.arange(16.).view(1, 1, 1, 16).expand(200, 3, 4, 16)
    out = random_mirror(x)
    flipped = (out[:, 0, 0, 0] == 15).sum().item()
    assert 70 < flipped < 130 and torch.equal(out[out[:, 0, 0, 0] == 0], x[out[:, 0, 0, 0] == 0])


def test_augmentation_options_from_the_command_line(tmp_path):
    import json

    from artgan.builder import build_augment
    from artgan.core.config import RunConfig
    from artgan.core.resolve import RunPlan

    from .helpers import TINY, artgan

    result = artgan("run", *TINY, "--augment", "translation,cutout", "-o",
                    "translation.ratio=0.25", "--dry-run")
    config = RunConfig.from_dict(json.loads(result.output))
    assert {a.name: a.options for a in config.regularisation.augment} == \
        {"translation": {"ratio": 0.25}, "cutout": {"ratio": 0.5}}
    pipeline = build_augment(RunPlan(config), get_registry())
    assert [type(a).__name__ for a in pipeline.augmentations] == ["Translation", "Cutout"]
    assert pipeline.augmentations[0].ratio == 0.25
    result = artgan("run", *TINY, "--augment", "translation", "-o", "cutout.ratio=0.3",
                    "--dry-run", expect=2)
    assert "'cutout' is not a chosen metric or augmentation" in result.output
    result = artgan("run", *TINY, "--augment", "translation", "-o", "translation.size=3",
                    "--dry-run", expect=2)
    assert "ratio" in result.output  # the valid keys are listed
