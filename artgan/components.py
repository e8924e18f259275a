"""Build registered components by name: the Python face of ``--gen``, ``--loss``, ``--data``."""

from __future__ import annotations

import inspect
from typing import Any

from .core.registry import KIND_ALIASES, KINDS, Entry, Registry
from .plugin_host import get_registry

#: ``artgan list``'s kind aliases (``losses``, ``gen``, ``aug``, ...) and a few more.
_KIND_ALIASES = {**KIND_ALIASES, "data-source": "data", "data_source": "data",
                 "data-sources": "data", "data_sources": "data"}


def _kind(kind: str) -> str:
    """The canonical kind of ``kind``, accepting what ``artgan list KIND`` accepts."""
    key = kind.strip().lower()
    key = _KIND_ALIASES.get(key, key)
    if key not in KINDS:
        known = ", ".join([*KINDS, *_KIND_ALIASES])
        raise ValueError(f"unknown component kind {kind!r}; kinds: {known}")
    return key


def load_plugins() -> Registry:
    """Load every plugin (built-in and installed) and return the component registry."""
    return get_registry()


def list_components(kind: str | None = None) -> list[Entry]:
    """Registered components, all kinds or one (``"generator"``, ``"loss"``, ...)."""
    return get_registry().entries(_kind(kind) if kind else None)


def build(kind: str, name: str, options: dict[str, Any] | None = None, /, *args: Any,
          **injected: Any) -> Any:
    """Instantiate a registered component; see :meth:`artgan.core.registry.Registry.build`."""
    return get_registry().build(_kind(kind), name, options, *args, **injected)


def create(kind: str, name: str, **options: Any) -> Any:
    """Build a component by name with its options, e.g. ``artgan.create("loss", "gan")``.

    Generators and discriminators also need what the data determines: pass
    ``resolution=``, ``channels=`` and ``num_classes=`` (image-to-image ones also
    ``condition_channels=``) along with their options. Data sources take ``argument=``
    (the text after ``NAME:``), ``resolution=``, ``channels=`` and ``seed=`` (default 0).
    """
    kind = _kind(kind)
    injected_keys = {"generator": ("resolution", "channels", "num_classes",
                                   "condition_channels"),
                     "discriminator": ("resolution", "channels", "num_classes",
                                       "condition_channels"),
                     "data": ("resolution", "channels", "seed")}.get(kind, ())
    injected = {k: options.pop(k) for k in injected_keys if k in options}
    if kind == "data":
        injected.setdefault("seed", 0)
    _check_required(kind, name, injected)
    if kind == "data":
        argument = options.pop("argument", None)
        return build(kind, name, options, argument, **injected)
    return build(kind, name, options, **injected)


def _check_required(kind: str, name: str, given: dict[str, Any]) -> None:
    """Refuse to build without the keyword arguments the factory requires (``resolution``,
    ``channels``, ...), naming them and the component, rather than a bare TypeError."""
    entry = get_registry().get(kind, name)
    try:
        params = inspect.signature(entry.load_factory()).parameters.values()
    except (TypeError, ValueError):  # a factory without a signature: let it speak
        return
    missing = [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty
               and p.name not in given]
    if missing:
        needed = ", ".join(f"{m}=..." for m in missing)
        raise TypeError(f"{kind} {entry.name!r} needs {' and '.join(missing)} (what the data "
                        f"determines): artgan.create({kind!r}, {entry.name!r}, {needed})")
