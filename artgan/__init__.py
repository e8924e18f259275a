"""artgan: train GANs on your own images, with components composed by name.

Torch-free at import time; heavier names load on first use.
"""

from importlib import import_module

from .core.version import __version__
from .hookspecs import hookimpl

_EXPORTS = {
    "create": "artgan.components",
    "list_components": "artgan.components",
    "load_plugins": "artgan.components",
    "make_trainer": "artgan.api",
}

__all__ = ["hookimpl", "__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'artgan' has no attribute {name!r}")
