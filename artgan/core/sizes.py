"""Network sizes, checked before any memory is allocated.

A width typed with one zero too many (``-o gen.ngf=100000000``), or read from a damaged
checkpoint, would otherwise make the constructor try to allocate terabytes. Each
network is first built on torch's ``meta`` device (shapes only, no memory, instant), its
parameters counted, and one over :func:`max_parameters` refused with the option to
lower, before the real build.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from typing import Any

import torch

from .config import Choice
from .errors import ConfigError

#: The most parameters a network may have: 1e9 (4 GB of float32 weights, about 16 GB
#: with gradients and Adam's state); ``$ARTGAN_MAX_PARAMETERS`` changes it.
MAX_PARAMETERS = 1_000_000_000


class NetworkTooLarge(ConfigError):
    """A network would have more parameters than :func:`max_parameters`."""


def max_parameters() -> int:
    """:data:`MAX_PARAMETERS`, or ``$ARTGAN_MAX_PARAMETERS`` when set to a number."""
    try:
        return int(float(os.environ["ARTGAN_MAX_PARAMETERS"]))
    except (KeyError, ValueError, OverflowError):
        return MAX_PARAMETERS


def meta_parameters(make) -> int | None:
    """How many parameters and buffer elements ``make()`` would allocate, from a build on
    the meta device; None when the component cannot be built there (the real build
    then reports whatever is wrong)."""
    try:
        with torch.device("meta"):
            module = make()
        tensors = itertools.chain(module.parameters(), module.buffers())
        return sum(t.numel() for t in tensors)
    except Exception:
        return None


def _size(count: int) -> str:
    """Bytes of ``count`` float32 values, in words (``4.0 GB``, ``1.3 TB``)."""
    value = count * 4 / 1e9
    for unit in ("GB", "TB", "PB"):
        if value < 1000 or unit == "PB":
            return f"{value:,.1f} {unit}"
        value /= 1000
    return ""  # not reached


def _culprits(entry: Any, choice: Choice, group: str) -> str:
    """The integer options set above their defaults (``-o gen.ngf=100000000``)."""
    defaults = {f.name: f.default for f in dataclasses.fields(entry.options)}
    raised = [f"-o {group}.{key}={value}" for key, value in choice.options.items()
              if isinstance(value, int) and not isinstance(value, bool)
              and isinstance(defaults.get(key), int) and value > defaults[key]]
    return " or ".join(raised) if raised else "--resolution or the network's widths"


def build_sized(registry: Any, kind: str, choice: Choice, **injected: Any) -> Any:
    """``registry.build(kind, choice.name, choice.options, **injected)`` after checking,
    on the meta device, that the network is not absurdly large (:class:`NetworkTooLarge`
    names the options to lower)."""
    def make():
        return registry.build(kind, choice.name, choice.options, **injected)

    count, limit = meta_parameters(make), max_parameters()
    if count is not None and count > limit:
        entry = registry.get(kind, choice.name)
        group = "gen" if kind == "generator" else "disc"
        raise NetworkTooLarge(
            f"{kind} {entry.name!r} would have {count:,} parameters ({_size(count)} of "
            f"float32 weights), over the limit of {limit:,} ({_size(limit)}): lower "
            f"{_culprits(entry, choice, group)} (or raise $ARTGAN_MAX_PARAMETERS)", "-o")
    return make()
