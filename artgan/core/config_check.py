"""Checks of a config read back from a file (a checkpoint's): a checkpoint is untrusted
input, so every field is checked against its declaration (type, range, choices) before
anything is built from it, and a missing or impossible value is reported in one line
instead of surfacing as a ``KeyError`` or ``TypeError`` deep in the trainer.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from .config import GROUPS, SETTINGS, Choice, RunConfig

#: What sampling from a checkpoint needs (``artgan sample``, ``walk``, ``eval --ckpt``).
FOR_SAMPLING = ("gen", "resolution", "channels")
#: Settings whose flag's maximum binds only the CLI: from Python (or a data source's own
#: size) a run may have a larger resolution, which the networks then check.
_CLI_MAXIMUM_ONLY = frozenset({"resolution"})


def _optional(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return (origin is typing.Union or isinstance(tp, types.UnionType)) and \
        type(None) in typing.get_args(tp)


def _base(tp: Any) -> Any:
    if _optional(tp):
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _problem(value: Any, tp: Any, name: str) -> str | None:
    """What is wrong with ``value`` for a field of type ``tp`` (its setting's range and
    choices too), or None."""
    tp = _base(tp)
    info = SETTINGS.get(name)
    origin = typing.get_origin(tp)
    if tp is Choice:
        ok = isinstance(value, Choice) and isinstance(value.name, str) and value.name and \
            isinstance(value.options, dict)
        return None if ok else "is not a component choice"
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, tuple):
            return "is not a list"
        if args and args[-1] is Ellipsis:
            return next((p for v in value if (p := _problem(v, args[0], "")) is not None), None)
        if value and len(value) != len(args):
            return f"has {len(value)} values, expected {len(args)}"
        return next((p for v, a in zip(value, args) if (p := _problem(v, a, "")) is not None),
                    None) or (_range(value, info) if info else None)
    if tp is bool:
        return None if isinstance(value, bool) else "is not true or false"
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            return "is not an integer"
    elif tp is float:
        if not _number(value) or not math.isfinite(value):
            return "is not a finite number"
    elif tp is str:
        if not isinstance(value, str):
            return "is not text"
    elif tp is dict or origin is dict:
        return None if isinstance(value, dict) else "is not a table"
    if info is not None and info.choices is not None and value not in info.choices:
        return f"is not one of {', '.join(map(str, info.choices))}"
    return _range(value, info) if info is not None else None


def _range(value: Any, info) -> str | None:
    for v in value if isinstance(value, tuple) else (value,):
        if not _number(v):
            continue
        low, high = info.minimum, info.maximum
        if low is not None and (v < low or (info.min_open and v == low)):
            return f"is {v}, below the smallest allowed value {low:g}"
        if high is not None and info.name not in _CLI_MAXIMUM_ONLY and \
                (v > high or (info.max_open and v == high)):
            return f"is {v}, above the largest allowed value {high:g}"
    return None


def config_problem(config: RunConfig, required: tuple[str, ...] | None = None) -> str | None:
    """The first field of ``config`` that is missing, of the wrong type or out of its
    declared range, in words (``image.resolution is 100000, above ...``); None if all
    are fine. ``required``: the fields that must be set (default: every field whose type
    is not optional, as a resolved config has them)."""
    for group_cls in GROUPS:
        attr = group_cls.group
        group = getattr(config, attr)
        hints = typing.get_type_hints(group_cls)
        for f in dataclasses.fields(group_cls):
            value, tp = getattr(group, f.name), hints[f.name]
            if value is None:
                needed = f.name in required if required is not None else not _optional(tp)
                if needed:
                    return f"{attr}.{f.name} is missing"
                continue
            problem = _problem(value, tp, f.name)
            if problem:
                return f"{attr}.{f.name} {problem}"
    if not isinstance(config.notes, tuple) or not all(isinstance(n, str)
                                                        for n in config.notes):
        return "notes is not a list of text"
    return None
