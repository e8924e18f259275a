"""Build registered components by name: the Python face of ``--gen``, ``--loss``, ``--data``."""

from __future__ import annotations

from typing import Any

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
    """Instantiate a registered component; see :meth:`artgan.core.registry.Registry.build`."""
    return get_registry().build(_kind(kind), name, options, *args, **injected)


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
