"""Errors meant for the user: each message is one line that says what is wrong and who
is responsible. Torch-free, so the CLI can catch them without importing torch.
"""

from __future__ import annotations

import os
from typing import Any, Callable


class ArtganError(Exception):
    """Marker base of every error whose message is meant for the user (the CLI prints it
    as one ``Error:`` line, no traceback). Each concrete error also subclasses the
    builtin type it refines (``ValueError``, ``RuntimeError``)."""


class ArtganWarning(UserWarning):
    """A warning meant for the user (a cache that cannot be written): the CLI prints it
    as one ``warning:`` line."""


class ConfigError(ArtganError, ValueError):
    """The combination of choices cannot run; the message names the flags involved."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


class CheckpointError(ArtganError, ValueError):
    """A checkpoint file is missing, unreadable or not an artgan checkpoint."""


class MetricError(ArtganError, ValueError):
    """A metric cannot be computed (too few images, wrong shapes, bad reference set)."""


class PluginError(ArtganError, RuntimeError):
    """A component's factory, constructor or forward raised.

    The message names the component, the package that provides it and where it failed,
    in one line. ``setting`` is True when the component refused a setting (it raised
    ``ValueError``, the documented way to say "this option or size is not supported"),
    False when it failed in another way (most likely a bug in the plugin). The original
    exception is ``__cause__``; ``artgan --traceback`` or ``ARTGAN_TRACE_PLUGINS=1``
    shows its traceback.
    """

    def __init__(self, message: str, *, setting: bool = False):
        super().__init__(message)
        self.setting = setting


def show_tracebacks() -> bool:
    """Whether plugin failures should show their traceback (``ARTGAN_TRACE_PLUGINS=1``,
    also set by ``artgan --traceback``)."""
    return any(os.environ.get(name, "") not in ("", "0")
               for name in ("ARTGAN_TRACE_PLUGINS", "ARTGAN_TRACEBACK"))


def guarded(who: str, where: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``; any exception becomes a one-line :class:`PluginError`
    naming ``who`` (artgan's own errors, already meant for the user, pass through)."""
    try:
        return call(*args, **kwargs)
    except ArtganError:
        raise
    except Exception as exc:
        raise plugin_failure(who, where, exc) from exc


def plugin_failure(who: str, where: str, exc: BaseException) -> PluginError:
    """The :class:`PluginError` for ``exc`` raised by component ``who`` (``generator
    'pixelnoise' from package artgan-pixelnoise 0.1``) in ``where`` (``its constructor``).
    """
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, ValueError):
        return PluginError(f"{who}: {detail}", setting=True)
    return PluginError(f"{who} failed in {where}: {type(exc).__name__}: {detail} (a bug in "
                       f"the component, or a setting it does not handle; "
                       f"`artgan --traceback ...` shows where)")
