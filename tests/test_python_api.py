"""The Python API: objects mixed with names anywhere, and the same run folder as the CLI."""

import json

import pytest
import torch
from torch import nn

import artgan
from artgan.api import python_name
from artgan.core.config import ConfigError
from artgan.core.metric import Metric

#: Tiny settings: 16 px, narrow networks, one 8-image step on 16 demo images.
SMALL = dict(data="demo", resolution=16, batch_size=8, max_steps=1, device="cpu")
NARROW = {"gen": {"ngf": 8, "z_dim": 16}, "disc": {"ndf": 8}, "data": {"size": 16}}


def tiny_generator():
    return artgan.create("generator", "dcgan", resolution=16, channels=3, ngf=8, z_dim=16)


class LabelledGenerator(nn.Module):
    """A plain conditional generator: takes (z, y), so artgan wraps it as conditional."""

    z_dim = 8

    def __init__(self, resolution=16, channels=3):
        super().__init__()
        self.shape = (channels, resolution, resolution)
        self.net = nn.Linear(8, channels * resolution * resolution)

    def forward(self, z, y):
        return torch.tanh(self.net(z)).view(-1, *self.shape)


class LinearCritic(nn.Module):
    def __init__(self, resolution, channels):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(channels * resolution ** 2, 1))

    def forward(self, x):
        return self.net(x)


# -- 1: an object network next to a registered one --------------------------------------
def test_generator_object_with_a_discriminator_by_name(tmp_path):
    trainer = artgan.make_trainer(gen=tiny_generator(), disc="dcgan", out=tmp_path / "run",
                                  options={"disc": {"ndf": 8}, "data": {"size": 16}}, **SMALL)
    assert trainer.config.components.disc.name == "dcgan" and trainer.config.components.disc.options["ndf"] == 8
    assert trainer.config.components.gen.name.startswith("python:")
    assert type(trainer.D).__name__ == "DCGANDiscriminator" and not trainer.D.conditional
    trainer.fit()
    assert trainer.step == 1


def test_a_registered_discriminator_is_conditional_when_the_generator_object_is(tmp_path):
    trainer = artgan.make_trainer(gen=LabelledGenerator, disc="cgan", out=tmp_path / "run",
                                  options={"disc": {"ndf": 8}, "data": {"size": 16}}, **SMALL)
    assert trainer.G.conditional and trainer.D.conditional
    assert trainer.D.num_classes == trainer.G.num_classes == 5  # the demo's styles
    trainer.fit()


def test_discriminator_object_with_a_generator_by_name(tmp_path):
    trainer = artgan.make_trainer(gen="dcgan", disc=LinearCritic, out=tmp_path / "run",
                                  options=NARROW, **SMALL)
    assert trainer.config.components.gen.name == "dcgan" and trainer.config.components.gen.options["ngf"] == 8
    assert trainer.config.components.disc.name == "python:tests.test_python_api.LinearCritic"
    trainer.fit()


def test_a_generator_object_alone_still_asks_for_a_discriminator(tmp_path):
    with pytest.raises(ConfigError, match="pass disc="):
        artgan.make_trainer(gen=tiny_generator(), out=tmp_path / "run", **SMALL)


# -- 2: a loss object declares its needs like a loss by name -----------------------------
def test_a_loss_instance_picks_the_discriminator_norm_as_its_name_does(tmp_path):
    by_name = artgan.make_trainer(loss="wgan-gp", out=tmp_path / "a", options=NARROW, **SMALL)
    trainer = artgan.make_trainer(loss=artgan.create("loss", "wgan-gp"), out=tmp_path / "b",
                                  options=NARROW, **SMALL)
    assert trainer.config.components.disc.options["norm"] == "layer"
    assert any("disc.norm=layer" in note for note in trainer.config.notes)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in trainer.D.modules())
    assert trainer.config.schedule.n_critic == by_name.config.schedule.n_critic == 5
    assert trainer.config.optimisation.lr_d == by_name.config.optimisation.lr_d
    trainer.fit()


def test_a_loss_instance_refuses_a_batchnorm_discriminator_asked_for(tmp_path):
    options = {**NARROW, "disc": {"ndf": 8, "norm": "batch"}}
    with pytest.raises(ConfigError, match="without BatchNorm"):
        artgan.make_trainer(loss=artgan.create("loss", "wgan-gp"), out=tmp_path / "run",
                            options=options, **SMALL)


def test_notes_about_options_of_a_replaced_discriminator_are_dropped(tmp_path):
    trainer = artgan.make_trainer(disc=LinearCritic, loss="wgan-gp", out=tmp_path / "run",
                                  options={"gen": {"ngf": 8}, "data": {"size": 16}}, **SMALL)
    assert not any("disc.norm" in note for note in trainer.config.notes)


# -- 3: metric and augmentation objects ---------------------------------------------------
class Brightness(Metric):
    key = "brightness"
    requires_real = False

    def __init__(self):
        self.calls = 0

    def compute(self, fake, real, device="cpu", **kwargs):
        self.calls += 1
        return {"brightness": float(torch.cat(list(fake)).mean())}


class Invert(nn.Module):
    def forward(self, x):
        return -x


def test_metric_instances_are_accepted_with_names(tmp_path):
    metric = Brightness()
    msssim = artgan.create("metric", "ms-ssim")
    trainer = artgan.make_trainer(metrics=[metric, "msssim", msssim], eval_images=8,
                                  out=tmp_path / "run", options=NARROW, **SMALL)
    names = [choice.name for choice in trainer.config.evaluation.metrics]
    assert names == ["python:tests.test_python_api.Brightness", "ms-ssim", python_name(msssim)]
    assert trainer.evaluation.metrics[names[0]] is metric
    assert trainer.evaluation.metrics[names[2]] is msssim


def test_a_metric_instance_scores_the_run(tmp_path):
    metric = Brightness()
    trainer = artgan.make_trainer(metrics=[metric], eval_images=8, out=tmp_path / "run",
                                  options=NARROW, **SMALL)
    trainer.fit()
    assert metric.calls == 1
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert "brightness" in json.dumps(record)


def test_augmentation_instances_and_module_classes_are_accepted(tmp_path):
    color = artgan.create("augmentation", "color")
    trainer = artgan.make_trainer(augment=[color, "cutout", Invert], out=tmp_path / "run",
                                  options={**NARROW, "cutout": {"ratio": 0.25}}, **SMALL)
    assert tuple(a.name for a in trainer.config.regularisation.augment) == (python_name(color), "cutout",
                                      "python:tests.test_python_api.Invert")
    modules = list(trainer.view.augment.augmentations)
    assert modules[0] is color and modules[1].ratio == 0.25 and isinstance(modules[2], Invert)
    trainer.fit()


def test_options_of_an_unchosen_metric_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="'kid' is not a chosen metric"):
        artgan.make_trainer(out=tmp_path / "run", options={**NARROW, "kid": {"subsets": 2}},
                            **SMALL)


# -- 4: recipe= ------------------------------------------------------------------------
def test_a_recipe_can_be_chosen(tmp_path):
    trainer = artgan.make_trainer(recipe="small-data", out=tmp_path / "run", options=NARROW,
                                  **SMALL)
    config, reg = trainer.config, trainer.config.regularisation
    assert tuple(a.name for a in reg.augment) == ("color", "translation", "cutout") and reg.ema
    assert reg.r1 == 1.0 and any("recipe small-data" in note for note in config.notes)
    plain = artgan.make_trainer(out=tmp_path / "plain", options=NARROW, **SMALL)
    assert not plain.config.regularisation.augment and not plain.config.regularisation.ema  # no recipe


# -- 5: the run folder matches the CLI's ---------------------------------------------------
def test_config_json_has_the_data_summary_like_the_cli(tmp_path):
    artgan.make_trainer(out=tmp_path / "run", options=NARROW, **SMALL)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data_summary"]["images"] == 16
    assert len(config["data_summary"]["classes"]) == 5
    assert config["data_summary"]["skipped"] == 0 and config["world_size"] == 1


# -- 6: kinds as the CLI spells them; missing arguments named ----------------------------
@pytest.mark.parametrize("alias, kind", [("losses", "loss"), ("gen", "generator"),
                                         ("discriminators", "discriminator"),
                                         ("aug", "augmentation"), ("metrics", "metric")])
def test_list_components_accepts_the_cli_kind_aliases(alias, kind):
    assert artgan.list_components(alias) == artgan.list_components(kind)


def test_create_names_missing_arguments():
    with pytest.raises(TypeError, match=r"generator 'dcgan' needs resolution and channels"):
        artgan.create("generator", "dcgan")
    with pytest.raises(TypeError, match=r"needs channels \("):
        artgan.create("discriminator", "dcgan", resolution=16)
