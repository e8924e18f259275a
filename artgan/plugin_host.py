"""The pluggy plugin host: loads built-in and third-party plugins and builds the registry.

Built-in plugin modules are listed in ``registry.toml`` and registered with pluggy through
the same door as third-party plugins, which come from the ``artgan`` entry-point group.
A broken third-party plugin (fails to import, misspells a hook, registers a bad object)
is reported with its package name and left out; artgan keeps working with the others.

Switches:
- ``ARTGAN_LOAD_PLUGINS=a,b`` loads only those entry points ('' loads none).
- ``ARTGAN_DISABLE_PLUGINS=a,b`` (or ``artgan --disable-plugin NAME``) skips plugins by name
  (entry-point name, built-in module name, or the package's distribution name).
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
from .core.version import __version__
from .hookspecs import hookimpl  # noqa: F401 (re-exported: artgan.plugin_host.hookimpl)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENTRY_POINT_GROUP = "artgan"
BUILTIN_PREFIX = "artgan.plugins."
_disabled: set[str] = set()
#: Plugins added in this process (``artgan.testing.plugin``): name -> module.
_local: dict[str, Any] = {}


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin: what ``artgan plugins`` shows."""

    name: str
    package: str = "artgan"
    version: str = ""
    builtin: bool = False
    components: dict[str, list[str]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    error: str = ""
    #: Problems that leave the plugin loaded (a broken command hook, a command name clash).
    warnings: list[str] = field(default_factory=list)
    #: Why an installed plugin was not loaded by choice (a switch), else ''.
    disabled: str = ""

    @property
    def label(self) -> str:
        """``plugin 'NAME' (package DIST VERSION)``, for messages."""
        where = "built into artgan" if self.builtin else f"package {self.package} {self.version}"
        return f"plugin {self.name!r} ({where.strip()})"

    def disable_hint(self) -> str:
        """How the user switches this plugin off."""
        return (f"artgan --disable-plugin {self.name} ... "
                f"(or ARTGAN_DISABLE_PLUGINS={self.name})")

    def warn(self, message: str) -> None:
        """Record a problem once (``artgan plugins`` shows it)."""
        if message not in self.warnings:
            self.warnings.append(message)


@dataclass
class PluginHost:
    pm: pluggy.PluginManager
    plugins: dict[str, PluginInfo]
    #: plugin name -> {command name: click command}, filled on first use.
    commands: dict[str, dict[str, Any]] | None = None
    #: Installed plugins the switches left out (``artgan plugins`` lists them).
    skipped: list[PluginInfo] = field(default_factory=list)


def catalogue_text() -> str:
    """The text of the packaged ``registry.toml``."""
    from importlib.resources import files

    return files("artgan").joinpath("registry.toml").read_text("utf-8")


def read_catalogue() -> dict[str, Any]:
    """Parse the packaged ``registry.toml``."""
    return tomllib.loads(catalogue_text())


def add_plugin(module: Any, name: str) -> None:
    """Load ``module`` as a plugin named ``name`` when plugins next load, as if a package
    exposed it (for testing a plugin from a checkout; see ``artgan.testing.plugin``)."""
    _local[name] = module
    reset()


def remove_plugin(name: str) -> None:
    """Forget a plugin added with :func:`add_plugin`."""
    if _local.pop(name, None) is not None:
        reset()


def disable_plugin(name: str) -> None:
    """Skip the plugin ``name`` (built-in, entry point or package) when plugins next load."""
    if name not in _disabled:
        _disabled.add(name)
        reset()


def _disabled_names() -> set[str]:
    env = os.environ.get("ARTGAN_DISABLE_PLUGINS", "")
    return _disabled | {n.strip() for n in env.split(",") if n.strip()}




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
    skipped: list[PluginInfo] = []
    for short, module in read_catalogue().get("builtin", {}).items():
        name = BUILTIN_PREFIX + short
        if name in disabled or short in disabled:
            skipped.append(PluginInfo(name, "artgan", __version__, builtin=True,
                                      disabled=_DISABLED_BY_SWITCH))
            continue
        pm.register(importlib.import_module(module), name=name)
        plugins[name] = PluginInfo(name, "artgan", __version__, builtin=True)
    skipped += _load_entry_points(pm, plugins, disabled)
    for name, module in _local.items():
        if pm.is_registered(module) or pm.has_plugin(name):
            continue  # installed as well: that one is used
        plugins[name] = PluginInfo(name, f"{getattr(module, '__name__', name)} (local)")
        pm.register(module, name=name)
    _check_hook_names(pm, plugins)
    return PluginHost(pm, plugins, skipped=skipped)


def get_plugin_manager() -> pluggy.PluginManager:
    return get_host().pm


_DISABLED_BY_SWITCH = "disabled (--disable-plugin or ARTGAN_DISABLE_PLUGINS)"
_NOT_SELECTED = "not loaded: ARTGAN_LOAD_PLUGINS does not name it"


def _why_skipped(ep, disabled: set[str]) -> str:
    """Why the switches leave entry point ``ep`` out ('' to load it)."""
    dist = getattr(ep, "dist", None)
    if ep.name in disabled or (dist is not None and dist.name in disabled):
        return _DISABLED_BY_SWITCH
    only = os.environ.get("ARTGAN_LOAD_PLUGINS")
    if only is not None and ep.name not in {n.strip() for n in only.split(",") if n.strip()}:
        return _NOT_SELECTED
    return ""


def _load_entry_points(pm: pluggy.PluginManager, plugins: dict[str, PluginInfo],
                       disabled: set[str]) -> list[PluginInfo]:
    """Import each entry point the switches allow; a failure is recorded, not raised.
    Returns the installed plugins that the switches left out."""
    skipped = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        info = PluginInfo(ep.name, dist.name if dist else "?", dist.version if dist else "")
        why = _why_skipped(ep, disabled)
        if why:
            info.disabled = why
            skipped.append(info)
            continue
        plugins[ep.name] = info
        if pm.has_plugin(ep.name):
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:
            info.error = f"failed to import {ep.value!r}: {type(exc).__name__}: {exc}"
    return skipped


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
        info.components = {}
        plugin = host.pm.get_plugin(name)
        if plugin is None or info.error:
            continue
        try:
            staged = _collect(host.pm, plugin, info)
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


def _collect(pm: pluggy.PluginManager, plugin: Any, info: PluginInfo) -> Registry:
    """Call one plugin's register hooks (through pluggy, so tracing works) into a scratch
    registry. Entries remember the package (distribution) of third-party plugins."""
    staged = Registry()
    package = "" if info.builtin else info.package
    for kind, (hook_name, _) in KINDS.items():
        if hasattr(plugin, hook_name):
            _call_one(pm, plugin, hook_name,
                      register=make_register(staged, kind, info.name, info.version, package))
    return staged


def _call_one(pm: pluggy.PluginManager, plugin: Any, hook_name: str, **kwargs: Any) -> Any:
    """Call ``hook_name`` of ``plugin`` only (the other plugins are left out)."""
    others = [p for p in pm.get_plugins() if p is not plugin]
    return pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)


def plugin_infos(*, include_skipped: bool = False, strict: bool = True) -> list[PluginInfo]:
    """Every loaded plugin with its package, version, components, commands, error and
    warnings; with ``include_skipped`` also the installed ones the switches left out.
    ``strict=False``: list them even when two plugins register the same name (see
    :func:`registration_problem`)."""
    try:
        get_registry()
    except RegistrationError:
        if strict:
            raise
    host = get_host()
    _plugin_commands(host)
    return list(host.plugins.values()) + (host.skipped if include_skipped else [])


def registration_problem() -> str | None:
    """Why the registry cannot be built (two plugins registering one name), or None."""
    try:
        get_registry()
    except RegistrationError as exc:
        return str(exc)
    return None


def plugin_errors() -> list[PluginInfo]:
    """The plugins that failed to load (a name clash is :func:`registration_problem`)."""
    return [p for p in plugin_infos(strict=False) if p.error]


def plugin_versions() -> dict[str, str]:
    """Plugin name -> "package version", for the resolved config."""
    return {p.name: f"{p.package} {p.version}" for p in plugin_infos() if not p.error}


def register_commands(cli: Any) -> list[str]:
    """Add every plugin's Click commands to the ``artgan`` group ``cli``.

    Each plugin's ``register_commands`` hook is called on its own: one that raises loses
    its commands, the others keep theirs. A command name that is already taken (a built-in
    command, or another plugin's) keeps the first one. Returns the warnings to show, each
    naming the plugin's package and how to disable it.
    """
    host = get_host()
    commands = _plugin_commands(host)
    owners = {id(cmd): name for name, table in commands.items() for cmd in table.values()}
    problems = [w for name in commands for w in host.plugins[name].warnings]
    for name, table in commands.items():
        info = host.plugins[name]
        for cmd_name, command in table.items():
            existing = cli.commands.get(cmd_name)
            if existing is None:
                cli.add_command(command, cmd_name)
            elif existing is not command:
                owner = host.plugins.get(owners.get(id(existing), ""))
                message = _command_clash(cmd_name, info, owner)
                info.warn(message)
                problems.append(message)
    return problems


def _plugin_commands(host: PluginHost) -> dict[str, dict[str, Any]]:
    """Plugin name -> the commands its ``register_commands`` adds (collected once)."""
    if host.commands is None:
        host.commands = {}
        hooked = {impl.plugin_name for impl in host.pm.hook.register_commands.get_hookimpls()}
        for name, info in host.plugins.items():
            plugin = host.pm.get_plugin(name)
            if name in hooked and plugin is not None and not info.error:
                host.commands[name] = _collect_commands(host.pm, plugin, info)
    return host.commands


def _collect_commands(pm: pluggy.PluginManager, plugin: Any, info: PluginInfo) -> dict[str, Any]:
    """Call one plugin's ``register_commands`` on a scratch group; a failure is a warning."""
    import click

    scratch = click.Group("artgan")
    try:
        _call_one(pm, plugin, "register_commands", cli=scratch)
    except Exception as exc:
        info.warn(f"{info.label}: register_commands failed ({type(exc).__name__}: {exc}), "
                  f"so its commands are not available. Update or fix {info.package}, or "
                  f"disable it: {info.disable_hint()}.")
        return {}
    info.commands = sorted(scratch.commands)
    return dict(scratch.commands)


def _command_clash(cmd_name: str, info: PluginInfo, owner: PluginInfo | None) -> str:
    """The warning for a plugin command whose name is taken; the first one is kept."""
    if owner is None:
        return (f"{info.label} registers the command {cmd_name!r}, which is artgan's "
                f"built-in command; the built-in is kept. Rename it in {info.package}, or "
                f"disable the plugin: {info.disable_hint()}.")
    return (f"command {cmd_name!r} is registered twice: by {owner.label} and by {info.label}; "
            f"the one from {owner.package} is kept. Disable one: {owner.disable_hint()}, or "
            f"{info.disable_hint()}.")


def reset() -> None:
    """Forget the plugin manager and registry (tests, and after changing switches)."""
    get_host.cache_clear()
    get_registry.cache_clear()
