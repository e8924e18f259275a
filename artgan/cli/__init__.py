"""The ``artgan`` command line. Importing this module does not import torch."""

from __future__ import annotations

import click

from .. import __version__
from ..plugin_host import disable_plugin, register_commands
from .errors import ArtganGroup


@click.group(cls=ArtganGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="artgan")
@click.option("--disable-plugin", "disabled", multiple=True, metavar="NAME",
              help="Do not load this plugin (repeatable; env: ARTGAN_DISABLE_PLUGINS).")
def cli(disabled: tuple[str, ...]) -> None:
    """Train GANs on your own images; compose components by name.

    \b
    Quick start:  artgan run                   (DCGAN on the built-in demo art)
    Your images:  artgan run --data folder:./paintings
    What exists:  artgan list --options
    """
    for name in disabled:
        disable_plugin(name)
    from ..plugin_host import plugin_errors

    for info in plugin_errors():
        click.echo(f"Warning: plugin {info.name!r} (package {info.package}) is not loaded: "
                   f"{info.error}", err=True)


def _add_builtin_commands() -> None:
    from .eval_cmd import eval_command
    from .list_cmd import list_command
    from .plugins_cmd import plugins_command
    from .run_cmd import run_command
    from .sample_cmd import sample_command

    for command in (run_command, sample_command, eval_command, list_command,
                    plugins_command):
        cli.add_command(command)


_add_builtin_commands()


def main() -> None:
    """Console-script entry point: built-in commands plus those plugins register."""
    try:
        register_commands(cli)
    except Exception as exc:  # a broken plugin must not take the whole CLI down
        click.echo(f"Warning: plugin commands not loaded: {exc}", err=True)
    cli(prog_name="artgan")
