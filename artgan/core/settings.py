"""Run settings, each declared once, beside the config field it fills.

A field of a config group (:mod:`artgan.core.config`) declared with :func:`setting` is a
run setting: the ``artgan run`` flag, the ``make_trainer`` keyword, the default, the help
text, the range and whether ``--resume`` may change it all come from that declaration::

    @dataclass(frozen=True)
    class Schedule:
        epochs: int = setting(None, "Passes over the data.", min=1, resume=True)

The default is what a run gets when neither the user nor a recipe chose a value; None
means "decided at resolution" (from the data source, the loss, ...). This module does
not import torch or click: the CLI turns :class:`SettingInfo` into Click options.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SettingInfo:
    """One run setting, as declared (see :func:`setting`)."""

    name: str
    group: str
    type: Any  # what the user gives: int, float, str, bool, tuple[float, float], ...
    default: Any
    help: str
    flag: str
    resume: bool = False
    minimum: float | None = None
    maximum: float | None = None
    min_open: bool = False
    max_open: bool = False
    choices: tuple | None = None
    metavar: str | None = None
    multiple: bool = False
    path: str | None = None  # "file" or "dir": the value names a file or a folder

    @property
    def optional(self) -> bool:
        """Whether "not chosen" (None) is a valid value of this setting."""
        return self.default is None or _is_optional(self.type)


def _is_optional(tp: Any) -> bool:
    return type(None) in typing.get_args(tp)


def setting(default: Any, help: str, *, flag: str | None = None, resume: bool = False,
            type: Any = None, min: float | None = None, max: float | None = None,
            min_open: bool = False, max_open: bool = False, choices: tuple | None = None,
            metavar: str | None = None, multiple: bool = False, path: str | None = None,
            cli: bool = True) -> Any:
    """Declare a config field as a run setting.

    ``type`` is what the user gives when it differs from the field's type (a component
    name for a field holding the resolved :class:`~artgan.core.config.Choice`).
    ``resume=True``: ``artgan run --resume`` may change it. ``cli=False``: Python only.
    """
    meta = {"setting": dict(help=help, flag=flag, resume=resume, type=type, minimum=min,
                            maximum=max, min_open=min_open, max_open=max_open,
                            choices=choices, metavar=metavar, multiple=multiple, path=path,
                            cli=cli)}
    return field(default=default, metadata=meta)


def declared(*classes: type) -> dict[str, SettingInfo]:
    """Every setting declared on the fields of ``classes`` (config groups), by name."""
    found: dict[str, SettingInfo] = {}
    for cls in classes:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            meta = f.metadata.get("setting")
            if meta is None:
                continue
            meta = dict(meta)
            cli = meta.pop("cli")
            tp = meta.pop("type") or hints[f.name]
            flag = meta.pop("flag") or ("--" + f.name.replace("_", "-") if cli else "")
            found[f.name] = SettingInfo(name=f.name, group=getattr(cls, "group", cls.__name__),
                                        type=tp, default=f.default, flag=flag, **meta)
    return found
