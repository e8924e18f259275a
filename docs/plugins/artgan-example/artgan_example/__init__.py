"""artgan-example: the hooks. Kept free of torch imports so `artgan list` stays fast;
the components live in artgan_example.components and are loaded lazily by name."""

from dataclasses import dataclass

import click

import artgan
from artgan.core.options import option

IMPL = "artgan_example.components"


@dataclass(frozen=True)
class MLPOptions:
    z_dim: int = option(32, "Size of the latent vector z.", min=1)
    hidden: int = option(128, "Width of the hidden layer.", min=1)


@dataclass(frozen=True)
class CheckersOptions:
    size: int = option(256, "Number of images.", min=1)


@artgan.hookimpl
def register_generators(register):
    register("example-mlp", f"{IMPL}:MLPGenerator.from_options",
             description="A two-layer MLP generator (example plugin).", options=MLPOptions)


@artgan.hookimpl
def register_losses(register):
    register("example-rsgan", f"{IMPL}:RelativisticGAN",
             description="Relativistic standard GAN loss (example plugin).")


@artgan.hookimpl
def register_data_sources(register):
    register("example-checkers", f"{IMPL}:Checkers.from_spec",
             description="Coloured N x N checkerboards: example-checkers:N (example plugin).",
             options=CheckersOptions)


@artgan.hookimpl
def register_commands(cli):
    @cli.command("example-hello")
    def example_hello():
        """Say which components artgan-example provides."""
        from artgan.plugin_host import plugin_infos

        mine = next(p for p in plugin_infos() if p.name == "example")
        for kind, names in sorted(mine.components.items()):
            click.echo(f"artgan-example provides {kind}: {', '.join(names)}")
