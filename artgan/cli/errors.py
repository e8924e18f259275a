"""Turn artgan's expected errors into clear one-line messages instead of tracebacks."""

from __future__ import annotations

import contextlib
import traceback
import warnings

import click

from ..core.errors import ArtganError, ArtganWarning, show_tracebacks
from .safe_text import clean


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
        """Run the command; its messages may quote files (a checkpoint's names, a lock's
        owner), so control characters in them are shown as escapes (:mod:`.safe_text`)."""
        try:
            with one_line_warnings():
                return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = clean(exc.message)
            raise
        except Exception as exc:
            if isinstance(exc, ArtganError) or _is_file_error(exc):
                if show_tracebacks():  # artgan --traceback / ARTGAN_TRACE_PLUGINS=1
                    traceback.print_exception(exc.__cause__ or exc)
                error = click.ClickException(clean(_describe(exc)))
                error.exit_code = 2
                raise error from None
            raise


@contextlib.contextmanager
def one_line_warnings():
    """artgan's own warnings (:class:`~artgan.core.errors.ArtganWarning`) as one
    ``warning: ...`` line on stderr, without Python's source line; others unchanged."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, ArtganWarning):
            click.echo(f"warning: {clean(message, newlines=False)}", err=True)
        else:
            previous(message, category, filename, lineno, file, line)
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def _is_file_error(exc: Exception) -> bool:
    """A file or folder the user named cannot be read or written (a path through a file,
    no permission, a full disk): their environment, not a bug."""
    return isinstance(exc, OSError) and exc.filename is not None


def _describe(exc: Exception) -> str:
    if _is_file_error(exc):
        return f"cannot use {exc.filename}: {exc.strerror or exc}"
    return str(exc)
