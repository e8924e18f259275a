"""The pluggy plugin host: loads built-in and third-party plugins and builds the registry.

Built-in plugin modules are listed in ``registry.toml`` and registered with pluggy through
the same door as third-party plugins, which come from the ``artgan`` entry-point group.

Switches:
- ``ARTGAN_LOAD_PLUGINS=a,b`` loads only those entry points ('' loads none).
- ``ARTGAN_DISABLE_PLUGINS=a,b`` (or ``artgan --disable-plugin NAME``) skips plugins by name.
"""

from __future__ import annotations

import importlib
import os
import sys
from functools import lru_cache
from typing import Any

import pluggy

from . import hookspecs
from .core.registry import KINDS, Registry, RegistrationError, make_register

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

hookimpl = pluggy.HookimplMarker("artgan")

ENTRY_POINT_GROUP = "artgan"
_disabled: set[str] = set()


def read_catalogue() -> dict[str, Any]:
    """Parse the packaged ``registry.toml``."""
    from importlib.resources import files

    return tomllib.loads(files("artgan").joinpath("registry.toml").read_text("utf-8"))


def disable_plugin(name: str) -> None:
    """Skip the plugin ``name`` (built-in or entry point) the next time plugins load."""
    _disabled.add(name)
    reset()


def _disabled_names() -> set[str]:
    env = os.environ.get("ARTGAN_DISABLE_PLUGINS", "")
    return _disabled | {n.strip() for n in env.split(",") if n.strip()}


@lru_cache(maxsize=1)
def get_plugin_manager() -> pluggy.PluginManager:
    """Create the plugin manager once: hookspecs, built-ins, entry points, check_pending."""
    pm = pluggy.PluginManager("artgan")
    pm.add_hookspecs(hookspecs)
    disabled = _disabled_names()
    for plugin_name, spec in read_catalogue().get("builtin", {}).items():
        if f"artgan.plugins.{plugin_name}" in disabled or plugin_name in disabled:
            continue
        pm.register(importlib.import_module(spec["module"]), name=f"artgan.plugins.{plugin_name}")
    for name in disabled:
        pm.set_blocked(name)
    _load_entry_points(pm)
    pm.check_pending()
    return pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    only = os.environ.get("ARTGAN_LOAD_PLUGINS")
    if only is None:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        return
    for name in (n.strip() for n in only.split(",")):
        if name:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)


def _plugin_versions(pm: pluggy.PluginManager) -> dict[str, str]:
    from . import __version__

    versions = {name: __version__ for name, _ in pm.list_name_plugin() if name.startswith("artgan.")}
    for plugin, dist in pm.list_plugin_distinfo():
        versions[pm.get_name(plugin)] = f"{dist.project_name} {dist.version}"
    return versions


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """Build the component registry once from every loaded plugin's hooks."""
    pm = get_plugin_manager()
    versions = _plugin_versions(pm)
    registry = Registry()
    for kind, (hook_name, _) in KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            register = make_register(registry, kind, impl.plugin_name,
                                     versions.get(impl.plugin_name, ""))
            try:
                impl.function(register=register)
            except RegistrationError:
                raise
            except Exception as exc:
                raise RegistrationError(
                    f"plugin {impl.plugin_name!r} failed in {hook_name}: {exc!r}") from exc
    for kind, names in read_catalogue().get("known", {}).items():
        for name, package in names.items():
            registry.known_packages[(kind, name)] = package
    return registry


def plugin_versions() -> dict[str, str]:
    """Plugin name -> version string, for the resolved config."""
    return _plugin_versions(get_plugin_manager())


def register_commands(cli: Any) -> None:
    """Let plugins add Click commands to the ``artgan`` group."""
    get_plugin_manager().hook.register_commands(cli=cli)


def reset() -> None:
    """Forget the plugin manager and registry (tests, and after changing switches)."""
    get_plugin_manager.cache_clear()
    get_registry.cache_clear()
