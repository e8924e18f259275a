"""Click options made from the run settings' declarations (:mod:`artgan.core.settings`).

Every ``artgan run`` flag of a run setting comes from here, so a setting is declared in
one place. Numbers are range-checked, and floats must be finite (``nan`` and ``inf`` are
refused with the flag's name). Torch-free.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Any

import click

from ..core.settings import SettingInfo


class FiniteFloat(click.FloatRange):
    """A float in a range that must be finite: ``--lr nan`` is a usage error, not NaN."""

    name = "float"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def _base(tp: Any) -> Any:
    """``int | None`` -> int; other types unchanged."""
    if typing.get_origin(tp) is typing.Union or isinstance(tp, types.UnionType):
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def _number_type(info: SettingInfo, kind: type) -> click.ParamType:
    cls = click.IntRange if kind is int else FiniteFloat
    return cls(info.minimum, info.maximum, min_open=info.min_open, max_open=info.max_open)


def _click_type(info: SettingInfo) -> Any:
    tp = _base(info.type)
    if info.choices is not None:
        return click.Choice([str(c) for c in info.choices])
    if info.path == "dir":
        return click.Path(file_okay=False)
    if info.path == "file":
        return click.Path(dir_okay=False)
    if tp in (int, float):
        return _number_type(info, tp)
    if typing.get_origin(tp) is tuple and not info.multiple:
        return tuple(_number_type(info, a) for a in typing.get_args(tp))
    return click.STRING


def _convert_choice(info: SettingInfo):
    """Choices of ints (``--channels 3``) are given as text and converted back."""
    kind = type(info.choices[0]) if info.choices else str

    def convert(ctx, param, value):
        return value if value is None or kind is str else kind(value)
    return convert


def setting_option(info: SettingInfo):
    """The ``click.option`` decorator of one run setting."""
    tp = _base(info.type)
    kwargs: dict[str, Any] = {"help": info.help}
    if tp is bool:  # --x / --no-x, so a recipe's choice can be undone
        decls = [f"{info.flag}/--no-{info.flag[2:]}", info.name]
        return click.option(*decls, default=info.default, show_default=True, **kwargs)
    kwargs["type"] = _click_type(info)
    if info.choices is not None:
        kwargs["callback"] = _convert_choice(info)
    if info.metavar:
        kwargs["metavar"] = info.metavar
    if info.multiple:
        return click.option(info.flag, info.name, multiple=True, **kwargs)
    if info.default is not None:
        kwargs.update(default=str(info.default) if info.choices else info.default,
                      show_default=True)
    return click.option(info.flag, info.name, **kwargs)


def setting_options(settings: dict[str, SettingInfo]):
    """A decorator adding an option per setting (those with a flag), in declared order."""
    def decorate(command):
        for info in reversed([s for s in settings.values() if s.flag]):
            command = setting_option(info)(command)
        return command
    return decorate
