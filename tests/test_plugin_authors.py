"""What a third-party plugin author hits: errors that name the plugin, defaults for a
missing partner, the regulariser's fakes, ``create`` for data sources, ``artgan plugins``
with disabled plugins and clashes, and testing a plugin from a checkout."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import artgan
from artgan import hookimpl, plugin_host
from artgan.cli import cli
from artgan.core import Generator, InMemoryDataSource, Loss
from artgan.testing import check_generator, plugin

from .helpers import FakeEntryPoint, module

RUN = ["run", "--resolution", "16", "--batch-size", "8", "--device", "cpu", "--max-steps", "2"]
DEMO = ["-o", "data.size=16"]


class Pixel(Generator):
    """A tiny generator; ``mode`` chooses where it breaks."""

    mode = "ok"

    def __init__(self, options=None, *, resolution, channels, num_classes=0):
        if self.mode == "constructor":
            raise RuntimeError("constructor broke")
        if self.mode == "setting":
            raise ValueError("gen.width must be even")
        super().__init__(z_dim=4, resolution=resolution, channels=channels)
        self.net = nn.Linear(4, channels * resolution * resolution)

    def forward(self, z, y=None):
        if self.mode == "forward":
            raise RuntimeError("forward broke")
        return torch.tanh(self.net(z)).view(-1, *self.output_shape)


def pixel(mode):
    return type(f"Pixel{mode.title()}", (Pixel,), {"mode": mode})


class BrokenLoss(Loss):
    def __init__(self, options=None):
        pass

    def discriminator_loss(self, G, D, real, fake, y):
        raise RuntimeError("loss broke")

    def generator_loss(self, G, D, real, fake, y):
        return {"loss": -D(fake, y).mean()}


class BrokenData(InMemoryDataSource):
    @classmethod
    def from_spec(cls, argument, options, *, resolution, channels, seed):
        return cls(torch.zeros(16, channels, resolution, resolution, dtype=torch.uint8))

    def get_batch(self, indices):
        raise RuntimeError("data broke")


def pixelnoise_plugin():
    @hookimpl
    def register_generators(register):
        for mode in ("constructor", "setting", "forward", "ok"):
            register(f"pixel-{mode}", pixel(mode))
        register("pixel-factory", lambda options, **shape: 1 / 0)

    @hookimpl
    def register_losses(register):
        register("broken-loss", BrokenLoss)

    @hookimpl
    def register_data_sources(register):
        register("broken-data", BrokenData.from_spec)
    return module(register_generators=register_generators, register_losses=register_losses,
                  register_data_sources=register_data_sources)


def run_cli(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


@pytest.mark.parametrize("args,where,what", [
    (["--gen", "pixel-constructor", "--disc", "dcgan", *DEMO], "failed in its factory or "
     "constructor: RuntimeError: constructor broke", "generator 'pixel-constructor'"),
    (["--gen", "pixel-factory", "--disc", "dcgan", *DEMO], "ZeroDivisionError: division by "
     "zero", "generator 'pixel-factory'"),
    (["--gen", "pixel-forward", "--disc", "dcgan", *DEMO], "failed in forward: RuntimeError: "
     "forward broke", "generator 'pixel-forward'"),
    (["--loss", "broken-loss", "-o", "gen.ngf=8", "-o", "disc.ndf=8", *DEMO],
     "failed in its 'd' phase: RuntimeError: loss broke", "loss 'broken-loss'"),
    (["--data", "broken-data", "-o", "gen.ngf=8", "-o", "disc.ndf=8"],
     "failed in get_batch: RuntimeError: data broke", "data source 'broken-data'"),
])
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_plugin_that_raises_is_one_line_naming_its_package(entry_points, tmp_path, args,
                                                             where, what, dry_run):
    entry_points.append(FakeEntryPoint("pixelnoise", pixelnoise_plugin, "artgan-pixelnoise"))
    runtime = where.startswith(("failed in forward", "failed in its 'd'", "failed in get"))
    if dry_run and runtime:
        pytest.skip("a dry run builds the components but runs no step")
    result = run_cli(*RUN, *args, "--out", tmp_path / "run", *(["--dry-run"] if dry_run else []))
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and f"{what} (package artgan-pixelnoise 9.9)" in error[0]
    assert where in error[0] and "Traceback" not in result.output


def test_a_refused_setting_reads_as_the_plugin_s_message(entry_points, tmp_path):
    entry_points.append(FakeEntryPoint("pixelnoise", pixelnoise_plugin, "artgan-pixelnoise"))
    result = run_cli(*RUN, *DEMO, "--gen", "pixel-setting", "--disc", "dcgan", "--out",
                     tmp_path / "r")
    assert result.exit_code == 2
    assert ("Error: generator 'pixel-setting' (package artgan-pixelnoise 9.9): gen.width "
            "must be even") in result.output


def test_traceback_on_request_shows_where_the_plugin_failed(entry_points, tmp_path,
                                                           monkeypatch, capsys):
    entry_points.append(FakeEntryPoint("pixelnoise", pixelnoise_plugin, "artgan-pixelnoise"))
    monkeypatch.setenv("ARTGAN_TRACEBACK", "1")
    from artgan.cli import main

    with pytest.raises(SystemExit):
        main([*RUN, *DEMO, "--gen", "pixel-constructor", "--disc", "dcgan", "--out",
              str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert "Traceback" in err and 'raise RuntimeError("constructor broke")' in err


def test_a_generator_without_a_partner_falls_back_to_dcgan_with_a_note(entry_points):
    entry_points.append(FakeEntryPoint("pixelnoise", pixelnoise_plugin, "artgan-pixelnoise"))
    config = json.loads(run_cli("run", "--gen", "pixel-ok", "--dry-run",
                                "--resolution", "16").output)
    assert config["components"]["disc"]["name"] == "dcgan"
    assert any("names no discriminator to pair with" in n for n in config["notes"])


def test_the_regularizer_gets_the_step_s_fakes_detached(tmp_path):
    seen = []

    class Regularised(type(artgan.create("loss", "gan"))):
        regularize_every = 2

        def regularizer_loss(self, G, D, real, y, fake=None):
            seen.append(fake is not None and not fake.requires_grad and fake.shape == real.shape)
            return {"loss": 0.0 * D(real, y).mean()}

    trainer = artgan.make_trainer(loss=Regularised(), data="demo", resolution=16, batch_size=8,
                                  max_steps=4, device="cpu", out=tmp_path / "run",
                                  options={"gen": {"ngf": 8}, "disc": {"ndf": 8},
                                           "data": {"size": 16}})
    trainer.fit()
    assert seen == [True, True]  # steps 0 and 2


def test_create_builds_a_data_source_without_a_seed():
    """The documented factory signature requires ``seed``; ``create`` passes 0."""
    seeds = []

    def factory(argument, options, *, resolution, channels, seed):
        seeds.append(seed)
        return InMemoryDataSource(torch.zeros(4, channels, resolution, resolution,
                                              dtype=torch.uint8))

    @hookimpl
    def register_data_sources(register):
        register("needs-seed", factory)

    with plugin(module(register_data_sources=register_data_sources), "seeded"):
        data = artgan.create("data", "needs-seed", resolution=16, channels=3)
    assert len(data) == 4 and seeds == [0]
    assert len(artgan.create("data", "demo", argument="waves", size=8, resolution=16,
                             channels=3)) == 8


def test_artgan_plugins_lists_disabled_plugins_and_explains_a_clash(entry_points):
    entry_points.append(FakeEntryPoint("pixelnoise", pixelnoise_plugin, "artgan-pixelnoise"))
    out = run_cli("--disable-plugin", "pixelnoise", "plugins").output
    assert "pixelnoise (artgan-pixelnoise 9.9): disabled" in out
    assert "No third-party plugins installed" not in out

    def clash():
        @hookimpl
        def register_losses(register):
            register("gan", BrokenLoss)
        return module(register_losses=register_losses)

    plugin_host.reset()
    entry_points.append(FakeEntryPoint("clash", clash, "artgan-clash"))
    result = run_cli("plugins")
    assert result.exit_code == 0, result.output
    assert "PROBLEM: loss name 'gan' is registered twice" in result.output
    assert "pixelnoise (artgan-pixelnoise 9.9)" in result.output


def test_a_plugin_can_be_checked_from_a_checkout_without_installing_it():
    hooks = pixelnoise_plugin()
    hooks.__name__ = "artgan_pixelnoise"
    with plugin(hooks) as registry:
        assert "pixel-ok" in registry.names("generator")
        check_generator("pixel-ok", resolution=16)
    assert "pixel-ok" not in plugin_host.get_registry().names("generator")
