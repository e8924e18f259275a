"""Build registered components by name: the Python face of ``--gen``, ``--loss``, ``--data``."""

from __future__ import annotations

from typing import Any

from .core.options import build_options
from .core.registry import KINDS, Entry, Registry
from .plugin_host import get_registry

_KIND_ALIASES = {"gen": "generator", "disc": "discriminator", "data-source": "data",
                 "data_source": "data"}


def _kind(kind: str) -> str:
    kind = _KIND_ALIASES.get(kind, kind)
    kind = kind[:-1] if kind.endswith("s") and kind[:-1] in KINDS else kind
    if kind not in KINDS:
        raise ValueError(f"unknown component kind {kind!r}; kinds: {', '.join(KINDS)}")
    return kind


def load_plugins() -> Registry:
    """Load every plugin (built-in and installed) and return the component registry."""
    return get_registry()


def list_components(kind: str | None = None) -> list[Entry]:
    """Registered components, all kinds or one (``"generator"``, ``"loss"``, ...)."""
    return get_registry().entries(_kind(kind) if kind else None)


def build(kind: str, name: str, options: dict[str, Any] | None = None, /, *args: Any,
          **injected: Any) -> Any:
    """Instantiate component ``name`` of ``kind`` with validated ``options``.

    ``args`` and ``injected`` are what the data determines (see :mod:`artgan.hookspecs`).
    """
    entry = get_registry().get(_kind(kind), name)
    opts = build_options(entry.options, options or {}, owner=f"{entry.kind} {entry.name}")
    component = entry.load_factory()(*args, opts, **injected) if args else \
        entry.load_factory()(opts, **injected)
    if hasattr(component, "component_name"):
        component.component_name = entry.name
    if hasattr(component, "source_name"):
        component.source_name = entry.name
    return component


def create(kind: str, name: str, **options: Any) -> Any:
    """Build a loss or metric by name, e.g. ``artgan.create("loss", "gan")``.

    Generators and discriminators also need what the data determines: pass
    ``resolution=``, ``channels=`` and ``num_classes=`` along with their options.
    """
    kind = _kind(kind)
    injected_keys = {"generator": ("resolution", "channels", "num_classes"),
                     "discriminator": ("resolution", "channels", "num_classes"),
                     "data": ("resolution", "channels", "seed")}.get(kind, ())
    injected = {k: options.pop(k) for k in injected_keys if k in options}
    if kind == "data":
        argument = options.pop("argument", None)
        return build(kind, name, options, argument, **injected)
    return build(kind, name, options, **injected)
