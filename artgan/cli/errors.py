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


class ArtganGroup(click.Group):
    """A Click group that shows artgan's user errors as ``Error: ...`` (exit code 2)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except Exception as exc:
            if isinstance(exc, user_errors()):
                error = click.ClickException(str(exc))
                error.exit_code = 2
                raise error from None
            raise
