"""Typed component options: one frozen dataclass per component, help text in field metadata.

A plugin declares its options next to its code::

    @dataclass(frozen=True)
    class Options:
        ngf: int = option(64, "Generator width: channels of the last hidden layer.", min=1)

The same declaration feeds validation, ``-o gen.ngf=32`` overrides from the CLI and
``artgan list --options``. This module does not import torch, so listing stays fast.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import ArtganError


class OptionError(ArtganError, ValueError):
    """A component option was unknown, of the wrong type or out of range."""


def option(default: Any, help: str, *, choices: tuple | None = None,
           min: float | None = None, max: float | None = None) -> Any:
    """Declare one option field with its default, help text and optional constraints."""
    meta = {"help": help, "choices": choices, "min": min, "max": max}
    if isinstance(default, (list, dict, set)):
        raise TypeError("option defaults must be immutable; use a tuple")
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class NoOptions:
    """Options class for components that take none."""


@dataclass(frozen=True)
class OptionInfo:
    """What ``artgan list --options`` shows for one field."""

    name: str
    type: str
    default: Any
    help: str
    choices: tuple | None


def _field_types(options_cls: type) -> dict[str, Any]:
    return typing.get_type_hints(options_cls)


def describe(options_cls: type) -> list[OptionInfo]:
    """Return name, type, default and help of every option of a component."""
    types = _field_types(options_cls)
    return [
        OptionInfo(f.name, _type_name(types[f.name]), f.default, f.metadata.get("help", ""),
                   f.metadata.get("choices"))
        for f in dataclasses.fields(options_cls)
    ]


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Convert a CLI string (or a Python value) to the declared field type."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or str(origin) == "types.UnionType":
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return _convert(value, args[0], key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise OptionError(f"{key} expects true or false, got {value!r}")
    if tp in (int, float, str):
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise OptionError(f"{key} expects an integer, got {value!r}")
        if tp is not str and isinstance(value, bool):
            raise OptionError(f"{key} expects a {tp.__name__}, got {value!r}")
        try:
            converted = tp(value)
        except (TypeError, ValueError, OverflowError):
            raise OptionError(f"{key} expects a {tp.__name__}, got {value!r}") from None
        if tp is float and not math.isfinite(converted):
            raise OptionError(f"{key} must be a finite number, got {value!r}")
        return converted
    return value


def build_options(options_cls: type, values: Mapping[str, Any], *, owner: str) -> Any:
    """Build an options instance from ``values``, validating keys, types and ranges.

    ``owner`` names the component in error messages (for example ``"gen dcgan"``).
    """
    fields = {f.name: f for f in dataclasses.fields(options_cls)}
    types = _field_types(options_cls)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        valid = ", ".join(sorted(fields)) or "(none)"
        raise OptionError(
            f"unknown option {', '.join(unknown)} for {owner}; valid options: {valid}")
    converted = {}
    for key, raw in values.items():
        f = fields[key]
        value = _convert(raw, types[key], f"{owner} option {key}")
        _check_range(value, f.metadata, f"{owner} option {key}")
        converted[key] = value
    return options_cls(**converted)


def _check_range(value: Any, meta: Mapping[str, Any], key: str) -> None:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise OptionError(f"{key} must be one of {', '.join(map(str, choices))}; got {value!r}")
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and value is not None and value < lo:
        raise OptionError(f"{key} must be >= {lo}; got {value!r}")
    if hi is not None and value is not None and value > hi:
        raise OptionError(f"{key} must be <= {hi}; got {value!r}")


def as_dict(options: Any) -> dict[str, Any]:
    """Plain-dict view of an options instance (JSON-friendly for configs and checkpoints)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(options).items()}


GROUPS = ("gen", "disc", "loss", "data")


def parse_overrides(pairs: list[str] | tuple[str, ...],
                    extra_groups: tuple[str, ...] | list[str] = ()) -> dict[str, dict[str, str]]:
    """Parse ``["gen.ngf=32", "loss.gp_weight=5"]`` into ``{"gen": {"ngf": "32"}, ...}``.

    ``extra_groups`` are accepted too (the chosen metrics: ``-o kid.subset_size=500``).
    Values stay strings here; :func:`build_options` converts them to the declared types.
    """
    out: dict[str, dict[str, str]] = {g: {} for g in (*GROUPS, *extra_groups)}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        group, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise OptionError(f"-o expects GROUP.KEY=VALUE (for example gen.ngf=32); got {pair!r}")
        if group not in out:
            raise OptionError(f"-o {pair!r}: unknown group {group!r}; groups are "
                              f"{', '.join(out)}")
        out[group][name.strip().replace("-", "_")] = value.strip()
    return out
