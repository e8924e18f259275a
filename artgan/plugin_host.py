"""The pluggy plugin host: loads built-in and third-party plugins and builds the registry.

Built-in plugin modules are listed in ``registry.toml`` and registered with pluggy through
the same door as third-party plugins, which come from the ``artgan`` entry-point group.
A broken third-party plugin (fails to import, misspells a hook, registers a bad object)
is reported with its package name and left out; artgan keeps working with the others.

Switches:
- ``ARTGAN_LOAD_PLUGINS=a,b`` loads only those entry points ('' loads none).
- ``ARTGAN_DISABLE_PLUGINS=a,b`` (or ``artgan --disable-plugin NAME``) skips plugins by name.
- ``ARTGAN_TRACE_PLUGINS=1`` prints every hook call to stderr.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
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
BUILTIN_PREFIX = "artgan.plugins."
_disabled: set[str] = set()


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin: what ``artgan plugins`` shows."""

    name: str
    package: str = "artgan"
    version: str = ""
    builtin: bool = False
    components: dict[str, list[str]] = field(default_factory=dict)
    error: str = ""


@dataclass
class PluginHost:
    pm: pluggy.PluginManager
    plugins: dict[str, PluginInfo]


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


def _version() -> str:
    from . import __version__

    return __version__


@lru_cache(maxsize=1)
def get_host() -> PluginHost:
    """Create the plugin manager once: hookspecs, built-ins, entry points, check_pending."""
    pm = pluggy.PluginManager("artgan")
    pm.add_hookspecs(hookspecs)
    if os.environ.get("ARTGAN_TRACE_PLUGINS", "") not in ("", "0"):
        pm.trace.root.setwriter(lambda text: sys.stderr.write(f"[artgan plugins] {text}"))
        pm.enable_tracing()
    disabled = _disabled_names()
    plugins: dict[str, PluginInfo] = {}
    for short, spec in read_catalogue().get("builtin", {}).items():
        name = BUILTIN_PREFIX + short
        if name in disabled or short in disabled:
            continue
        pm.register(importlib.import_module(spec["module"]), name=name)
        plugins[name] = PluginInfo(name, "artgan", _version(), builtin=True)
    _load_entry_points(pm, plugins, disabled)
    _check_hook_names(pm, plugins)
    return PluginHost(pm, plugins)


def get_plugin_manager() -> pluggy.PluginManager:
    return get_host().pm


def _selected_entry_points(disabled: set[str]):
    only = os.environ.get("ARTGAN_LOAD_PLUGINS")
    wanted = None if only is None else {n.strip() for n in only.split(",") if n.strip()}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if (wanted is None or ep.name in wanted) and ep.name not in disabled:
            yield ep


def _load_entry_points(pm: pluggy.PluginManager, plugins: dict[str, PluginInfo],
                       disabled: set[str]) -> None:
    """Import each entry point; a failure is recorded, not raised."""
    for ep in _selected_entry_points(disabled):
        dist = getattr(ep, "dist", None)
        info = PluginInfo(ep.name, dist.name if dist else "?", dist.version if dist else "")
        plugins[ep.name] = info
        if pm.has_plugin(ep.name):
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:
            info.error = f"failed to import {ep.value!r}: {type(exc).__name__}: {exc}"


def _check_hook_names(pm: pluggy.PluginManager, plugins: dict[str, PluginInfo]) -> None:
    """``check_pending`` per plugin: a misspelled hook disables that plugin, with a hint."""
    while True:
        try:
            pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin)
            if name is None or name.startswith(BUILTIN_PREFIX):
                raise
            pm.unregister(exc.plugin)
            unknown = [attr for attr in dir(exc.plugin) if attr.startswith("register")
                       and not hasattr(hookspecs, attr)]
            hints = [f"{u} (did you mean {', '.join(difflib.get_close_matches(u, _hook_names()))}?)"
                     for u in unknown]
            plugins[name].error = f"implements unknown hook(s): {'; '.join(hints) or exc}"


def _hook_names() -> list[str]:
    return [n for n in dir(hookspecs) if n.startswith("register_")]


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """Build the component registry once from every loaded plugin's hooks.

    Each plugin's registrations are validated as a unit: if one of a third-party plugin's
    entries is invalid, none of them is added and the plugin is reported as broken. A
    name registered by two plugins is an error naming both.
    """
    host = get_host()
    registry = Registry()
    for name, info in host.plugins.items():
        plugin = host.pm.get_plugin(name)
        if plugin is None or info.error:
            continue
        try:
            staged = _collect(host.pm, plugin, name, info.version)
        except Exception as exc:
            if info.builtin:
                raise
            info.error = f"registration failed: {exc}"
            host.pm.unregister(plugin)
            continue
        for entry in staged.entries():
            registry.add(entry)
            info.components.setdefault(entry.kind, []).append(entry.name)
    for kind, names in read_catalogue().get("known", {}).items():
        for name, package in names.items():
            registry.known_packages[(kind, name)] = package
    return registry


def _collect(pm: pluggy.PluginManager, plugin: Any, name: str, version: str) -> Registry:
    """Call one plugin's register hooks (through pluggy, so tracing works) into a scratch registry."""
    staged = Registry()
    others = [p for p in pm.get_plugins() if p is not plugin]
    for kind, (hook_name, _) in KINDS.items():
        if not hasattr(plugin, hook_name):
            continue
        caller = pm.subset_hook_caller(hook_name, remove_plugins=others)
        caller(register=make_register(staged, kind, name, version))
    return staged


def plugin_infos() -> list[PluginInfo]:
    """Every plugin with its package, version, components and error (after loading)."""
    get_registry()
    return list(get_host().plugins.values())


def plugin_errors() -> list[PluginInfo]:
    return [p for p in plugin_infos() if p.error]


def plugin_versions() -> dict[str, str]:
    """Plugin name -> "package version", for the resolved config."""
    return {p.name: f"{p.package} {p.version}" for p in plugin_infos() if not p.error}


def register_commands(cli: Any) -> None:
    """Let plugins add Click commands to the ``artgan`` group."""
    get_plugin_manager().hook.register_commands(cli=cli)


def reset() -> None:
    """Forget the plugin manager and registry (tests, and after changing switches)."""
    get_host.cache_clear()
    get_registry.cache_clear()
