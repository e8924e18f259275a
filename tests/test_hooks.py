"""Every hook in hookspecs.py is documented with its exact signature and exercised here."""

import inspect
import re
import types
from pathlib import Path

import click
from click.testing import CliRunner
import pytest
import torch

from artgan import hookimpl, hookspecs, plugin_host
from artgan.core import Discriminator, Metric

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
HOOKS = [name for name, fn in vars(hookspecs).items()
         if callable(fn) and name.startswith("register_")]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook):
    signature = f"{hook}({', '.join(inspect.signature(getattr(hookspecs, hook)).parameters)})"
    assert f"`{signature}`" in DOCS.read_text(), f"docs/plugins.md does not document {signature}"


class TinyD(Discriminator):
    def __init__(self, options, *, resolution, channels, num_classes):
        super().__init__(resolution=resolution, channels=channels)
        self.w = torch.nn.Linear(channels * resolution * resolution, 1)

    def forward(self, x, y=None):
        return self.w(x.flatten(1))


class MeanMetric(Metric):
    def __init__(self, options):
        pass


@hookimpl
def register_generators(register):
    register("hook-gen", "artgan.plugins.dcgan_nets:DCGANGenerator")


@hookimpl
def register_discriminators(register):
    register("hook-disc", TinyD)


@hookimpl
def register_losses(register):
    register("hook-loss", "artgan.plugins.adversarial:Hinge")


@hookimpl
def register_data_sources(register):
    register("hook-data", "artgan.plugins.demo:DemoDataSource.from_spec")


@hookimpl
def register_metrics(register):
    register("hook-metric", MeanMetric)


@hookimpl
def register_augmentations(register):
    from artgan.plugins.diffaugment import Cutout

    register("hook-aug", lambda options: Cutout())


@hookimpl
def register_commands(cli):
    @cli.command("hook-hello")
    def hello():
        click.echo("hello from a plugin command")


def test_every_hook_registers_through_an_entry_point(monkeypatch):
    plugin = types.ModuleType("hook_plugin")
    plugin.__dict__.update({name: globals()[name] for name in HOOKS})
    ep = types.SimpleNamespace(name="hooks", value="hook_plugin", load=lambda: plugin,
                               dist=types.SimpleNamespace(name="artgan-hooks", version="1.0"))
    monkeypatch.setattr(plugin_host.metadata, "entry_points",
                        lambda group: [ep] if group == "artgan" else [])
    registry = plugin_host.get_registry()
    for kind, name in [("generator", "hook-gen"), ("discriminator", "hook-disc"),
                       ("loss", "hook-loss"), ("data", "hook-data"), ("metric", "hook-metric"),
                       ("augmentation", "hook-aug")]:
        assert registry.get(kind, name).plugin == "hooks"
    assert isinstance(registry.build("metric", "hook-metric"), MeanMetric)
    assert registry.build("augmentation", "hook-aug")(torch.ones(2, 3, 8, 8)).shape == (2, 3, 8, 8)
    D = registry.build("discriminator", "hook-disc", None, resolution=16, channels=3,
                       num_classes=0)
    assert D(torch.zeros(2, 3, 16, 16)).shape == (2,)

    group = click.Group("artgan")
    plugin_host.register_commands(group)
    result = CliRunner().invoke(group, ["hook-hello"])
    assert result.output == "hello from a plugin command\n"


def test_hooks_only_grow_the_documented_set():
    assert HOOKS == ["register_generators", "register_discriminators", "register_losses",
                     "register_data_sources", "register_metrics", "register_augmentations",
                     "register_commands"]
    assert re.search(r"register_commands\(cli\)", DOCS.read_text())
