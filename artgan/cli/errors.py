"""Turn artgan's expected errors into clear one-line messages instead of tracebacks."""

from __future__ import annotations

import sys

import click

from ..core.config import ConfigError
from ..core.options import OptionError
from ..core.registry import RegistrationError, UnknownComponentError
from ..metrics import MetricError


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types whose message is meant for the user (torch-free ones first)."""
    errors: list[type[BaseException]] = [ConfigError, MetricError, OptionError,
                                         RegistrationError, UnknownComponentError]
    if "torch" in sys.modules:  # only then can the torch-side errors have been raised
        from ..core.checkpoint import CheckpointError
        from ..core.data import DataSourceError
        from ..core.device import DeviceError
        from ..core.networks import ComponentShapeError
        from ..core.sampling import ClassError
        from ..core.trainer import TrainingDiverged

        errors += [CheckpointError, ClassError, DataSourceError, DeviceError,
                   ComponentShapeError, TrainingDiverged]
    return tuple(errors)


#: ``--seed`` values torch accepts (its generators take a 64-bit seed).
SEED = click.IntRange(0, 2**63 - 1)
#: ``--device`` help, the same for every command.
DEVICE_HELP = "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps."


def generator_source(command):
    """``--ckpt``, ``--device`` and ``--no-ema``: where commands that draw from a trained
    generator (``sample``, ``walk``) get it."""
    for option in reversed([
            click.option("--ckpt", required=True, type=click.Path(exists=True),
                         help="Checkpoint file or run folder."),
            click.option("--device", default="auto", show_default=True, help=DEVICE_HELP),
            click.option("--no-ema", is_flag=True, help="Use the raw generator, not its "
                                                        "moving average (runs with --ema).")]):
        command = option(command)
    return command


class ArtganGroup(click.Group):
    """A Click group that shows artgan's user errors as ``Error: ...`` (exit code 2)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except Exception as exc:
            if isinstance(exc, user_errors()) or _is_file_error(exc):
                error = click.ClickException(_describe(exc))
                error.exit_code = 2
                raise error from None
            raise


def _is_file_error(exc: Exception) -> bool:
    """A file or folder the user named cannot be read or written (a path through a file,
    no permission, a full disk): their environment, not a bug."""
    return isinstance(exc, OSError) and exc.filename is not None


def _describe(exc: Exception) -> str:
    if _is_file_error(exc):
        return f"cannot use {exc.filename}: {exc.strerror or exc}"
    return str(exc)
