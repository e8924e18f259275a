"""Turn artgan's expected errors into clear one-line messages instead of tracebacks."""

from __future__ import annotations

import sys

import click

from ..core.config import ConfigError
from ..core.options import OptionError
from ..core.registry import RegistrationError, UnknownComponentError


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types whose message is meant for the user (torch-free ones first)."""
    errors: list[type[BaseException]] = [ConfigError, OptionError, RegistrationError,
                                         UnknownComponentError]
    if "torch" in sys.modules:  # only then can the torch-side errors have been raised
        from ..core.checkpoint import CheckpointError
        from ..core.data import DataSourceError
        from ..core.device import DeviceError
        from ..core.networks import ComponentShapeError
        from ..core.trainer import TrainingDiverged

        errors += [CheckpointError, DataSourceError, DeviceError, ComponentShapeError,
                   TrainingDiverged]
    return tuple(errors)


def run_cli(cli: click.Group, register_commands) -> None:
    try:
        register_commands(cli)
    except RegistrationError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    try:
        cli.main(standalone_mode=False, prog_name="artgan")
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        if isinstance(exc, user_errors()):
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        raise
