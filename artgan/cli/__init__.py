"""The ``artgan`` command line. Importing this module does not import torch."""

from __future__ import annotations

import copy
import os
import sys
from typing import Sequence

import click

from ..core.version import __version__
from ..plugin_host import disable_plugin, plugin_errors, register_commands
from .errors import ArtganGroup
from .eval_cmd import eval_command
from .list_cmd import list_command
from .plugins_cmd import plugins_command
from .project_cmd import project_command
from .report_cmd import report_command
from .restore_cmd import restore_command
from .run_cmd import run_command
from .sample_cmd import sample_command
from .studio_cmd import studio_command
from .translate_cmd import translate_command
from .walk_cmd import walk_command


@click.group(cls=ArtganGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="artgan")
@click.option("--disable-plugin", "disabled", multiple=True, metavar="NAME",
              help="Do not load this plugin (repeatable; env: ARTGAN_DISABLE_PLUGINS).")
@click.option("--traceback", "show_traceback", is_flag=True,
              help="Show the traceback behind an error (plugin authors; same as "
                   "ARTGAN_TRACE_PLUGINS=1 without the hook-call trace).")
def cli(disabled: tuple[str, ...], show_traceback: bool) -> None:
    """Train GANs on your own images; compose components by name.

    \b
    Quick start:  artgan run                   (DCGAN on the built-in demo art)
    Your images:  artgan run --data folder:./paintings
    What exists:  artgan list --options
    """
    if show_traceback:
        os.environ["ARTGAN_TRACEBACK"] = "1"
    for name in disabled:
        disable_plugin(name)
    for info in plugin_errors():
        click.echo(f"Warning: plugin {info.name!r} (package {info.package}) is not loaded: "
                   f"{info.error}; to skip it: {info.disable_hint()}.", err=True)


def _add_builtin_commands() -> None:
    for command in (run_command, sample_command, walk_command, translate_command,
                    project_command, restore_command, studio_command, eval_command,
                    report_command, list_command, plugins_command):
        cli.add_command(command)


_add_builtin_commands()


def disabled_in_argv(argv: Sequence[str]) -> list[str]:
    """The ``--disable-plugin`` values among the group options, before the command name."""
    names, args = [], iter(argv)
    for arg in args:
        if arg == "--disable-plugin":
            names.append(next(args, ""))
        elif arg.startswith("--disable-plugin="):
            names.append(arg.partition("=")[2])
        elif arg == "--" or not arg.startswith("-"):
            break
    return [name for name in names if name]


def build_cli(argv: Sequence[str]) -> click.Group:
    """A copy of :data:`cli` with the plugins' commands, after applying ``--disable-plugin``
    from ``argv`` (so a disabled plugin's commands are never registered). Problems with
    plugin commands are printed as warnings; the other commands keep working."""
    for name in disabled_in_argv(argv):
        disable_plugin(name)
    group = copy.copy(cli)
    group.commands = dict(cli.commands)
    for message in register_commands(group):
        click.echo(f"Warning: {message}", err=True)
    return group


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: built-in commands plus those plugins register."""
    args = list(sys.argv[1:] if argv is None else argv)
    build_cli(args)(args=args, prog_name="artgan")
