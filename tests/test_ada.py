"""Adaptive augmentation strength (ADA): the update rule, the per-image probability, what
the trainer feeds it, resume and the CLI."""

import pytest
import torch

from artgan.core.augment import AdaptiveStrength, AugmentPipeline
from artgan.core.view import DiscriminatorView
from artgan.core.checkpoint import load_checkpoint

from .helpers import TINY, artgan as cli, read_stats


class AddOne(torch.nn.Module):
    """A visible, deterministic 'augmentation': x + 1."""

    def forward(self, x):
        return x + 1


def test_the_probability_moves_by_images_over_ramp_towards_the_target():
    pipeline = AugmentPipeline([AddOne()])
    ada = AdaptiveStrength(pipeline, target=0.6, ramp_images=1000, interval=2)
    assert pipeline.adaptive and ada.p.item() == 0.0  # starts without augmentation
    confident = torch.tensor([3.0, 1.0, 2.0, -1.0, 5.0])  # E[sign] = (4 - 1) / 5 = 0.6
    ada.observe(confident)
    assert ada.step(images=50) is None  # not due: adjusts every 2 D steps
    ada.observe(torch.ones(5))  # E[sign] over both steps: (3 + 5) / 10 = 0.8 > 0.6
    stats = ada.step(images=50)
    assert stats["r_t"].item() == pytest.approx(0.8)
    assert ada.p.item() == pytest.approx(100 / 1000)  # + 1 * (50 + 50) / 1000
    for _ in range(2):
        ada.observe(-torch.ones(5))  # E[sign] = -1 < 0.6: down by the same amount
        stats = ada.step(images=50)
    assert stats["r_t"].item() == -1.0 and ada.p.item() == pytest.approx(0.0, abs=1e-7)
    for _ in range(2):
        ada.observe(-torch.ones(5))
        ada.step(images=50)
    assert ada.p.item() == 0.0  # clamped at 0
    for _ in range(40):
        ada.observe(torch.ones(5))
        ada.step(images=100)
    assert ada.p.item() == 1.0  # clamped at 1


def test_without_observed_scores_the_probability_stays():
    ada = AdaptiveStrength(AugmentPipeline([AddOne()]), target=0.6, ramp_images=10, interval=1)
    assert ada.step(images=100) is None and ada.p.item() == 0.0


def test_each_image_is_augmented_with_probability_p():
    pipeline = AugmentPipeline([AddOne()])
    x = torch.zeros(4000, 1, 2, 2)
    assert torch.equal(pipeline(x), x + 1)  # not adaptive: always applied
    AdaptiveStrength(pipeline, target=0.6)
    assert torch.equal(pipeline(x), x)  # p = 0: identity
    pipeline.p.fill_(0.25)
    out = pipeline(x)
    per_image = out.flatten(1)
    assert set(per_image.unique().tolist()) == {0.0, 1.0}
    assert torch.all(per_image.min(1).values == per_image.max(1).values)  # whole images
    assert per_image[:, 0].mean().item() == pytest.approx(0.25, abs=0.03)
    pipeline.p.fill_(1.0)
    assert torch.equal(pipeline(x), x + 1)


def test_only_the_discriminator_steps_real_batch_is_observed():
    seen = []
    D = DiscriminatorView(lambda x, y: x.flatten(1).sum(1), AugmentPipeline([AddOne()]))
    D.observers.append(seen.append)
    real, fake = torch.zeros(3, 1, 2, 2), torch.zeros(3, 1, 2, 2)
    with D.tap(real):
        D(fake)
        D(real.detach().requires_grad_())  # e.g. a penalty at the real images: another tensor
        assert seen == []
        D(real)
    assert len(seen) == 1 and torch.equal(seen[0], torch.full((3,), 4.0))
    D(real)  # after the D step (e.g. a G step that scores the reals): not observed
    assert len(seen) == 1


def test_training_feeds_ada_every_real_batch_and_nothing_else(tmp_path):
    import artgan

    trainer = artgan.make_trainer(data="demo", resolution=16, batch_size=8, max_steps=3,
                                  options={"gen": {"ngf": 8}, "disc": {"ndf": 8}},
                                  augment="translation", ada_target=0.6, r1=1.0, r1_every=1,
                                  loss="wgan-gp", out=tmp_path / "run", device="cpu")
    trainer.fit()  # 3 D steps (fewer than the interval of 4): all scores still pending
    assert trainer.ada._scores == 3 * 8  # reals of each D step; not fakes, GP, R1 or G steps
    assert trainer.ada._images == 3 * 8


def test_a_run_reports_p_and_resumes_it_exactly(tmp_path):
    ada = ["--augment", "color,translation", "--ada-target", "0.6", "--ada-ramp", "500"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    cli("run", *TINY, *ada, "--max-steps", "22", "--out", straight)
    cli("run", *TINY, *ada, "--max-steps", "10", "--out", split)
    cli("run", "--resume", split, "--max-steps", "22")
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert a["config"]["regularisation"]["ada_target"] == 0.6 and a["step"] == b["step"] == 22
    assert a["ada"] == b["ada"]
    for key, value in a["generator"].items():
        assert torch.equal(value, b["generator"][key]), f"generator.{key} differs"
    stats = [r for r in read_stats(straight) if "ada/p" in r]
    assert stats and all(0.0 <= r["ada/p"] <= 1.0 and -1 <= r["ada/r_t"] <= 1 for r in stats)
    # adjusted after D steps 4, 8, ..., 20 by +-4 * 16 / 500 each; steps 21, 22 pending
    assert a["ada"]["steps"] == 22 and a["ada"]["images"] == 2 * 16
    k = a["ada"]["p"] / (64 / 500)
    assert k == pytest.approx(round(k), abs=1e-4) and 0 <= round(k) <= 5


def test_ada_without_augmentation_is_refused_with_the_flags(tmp_path):
    result = cli("run", *TINY, "--ada-target", "0.6", "--max-steps", "1", "--out",
                 tmp_path / "run", expect=2)
    assert "--ada-target" in result.output and "--augment color,translation,cutout" in \
        result.output
    assert not (tmp_path / "run").exists()
