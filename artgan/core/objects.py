"""Python objects standing where component names go (the Python API): their recorded
name and how a class is instantiated with what it accepts."""

from __future__ import annotations

import inspect
from typing import Any


def python_name(obj: Any) -> str:
    """``python:module.QualName`` of an object or class: how the config records it."""
    cls = obj if isinstance(obj, type) else type(obj)
    return f"python:{cls.__module__}.{cls.__qualname__}"


def instantiate(obj: Any, **available: Any) -> Any:
    """Call a class with the keyword arguments its constructor accepts; pass objects
    through."""
    if not isinstance(obj, type):
        return obj
    params = inspect.signature(obj).parameters
    takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
    return obj(**{k: v for k, v in available.items() if takes_all or k in params})
