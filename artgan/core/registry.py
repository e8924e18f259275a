"""Name -> component registry, filled by plugins through the ``register`` callbacks.

This module knows nothing about which plugins exist; :mod:`artgan.plugin_host` fills it.
It does not import torch.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .errors import ArtganError, plugin_failure
from .options import NoOptions, build_options

#: Component kinds, their hook names and how they are spoken of in messages.
KINDS = {
    "generator": ("register_generators", "generators"),
    "discriminator": ("register_discriminators", "discriminators"),
    "loss": ("register_losses", "losses"),
    "data": ("register_data_sources", "data sources"),
    "metric": ("register_metrics", "metrics"),
    "augmentation": ("register_augmentations", "augmentations"),
}

#: Other spellings of the kinds that ``artgan list KIND`` and ``artgan.create`` accept.
KIND_ALIASES = {"generators": "generator", "gen": "generator",
                "discriminators": "discriminator", "disc": "discriminator",
                "losses": "loss", "metrics": "metric",
                "augmentations": "augmentation", "aug": "augmentation"}

_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def normalize_name(name: str) -> str:
    """Lookups are case-insensitive and treat ``_`` like ``-``."""
    return name.strip().lower().replace("_", "-")


class RegistrationError(ArtganError, ValueError):
    """A plugin registered something invalid (bad name, bad factory, duplicate)."""


class UnknownComponentError(ArtganError, KeyError):
    """No component of that kind has that name. The message lists close matches.

    ``param`` names the flag it came from (``--gen``), when known."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Entry:
    """One registered component.

    ``factory`` is a callable or a lazy ``"module:attribute"`` string, so that listing
    components never imports torch. See :mod:`artgan.hookspecs` for the factory signatures.
    """

    kind: str
    name: str
    factory: Callable[..., Any] | str
    description: str = ""
    options: type = NoOptions
    aliases: tuple[str, ...] = ()
    plugin: str = ""
    version: str = ""
    #: The pip distribution that provides the plugin ('' for artgan's built-in modules).
    package: str = ""
    #: Generators only: the components to pair with it when the user names none, as
    #: ``(("disc", "patchgan"), ("loss", "pix2pix"))``.
    defaults: tuple[tuple[str, str], ...] = ()

    @property
    def provider(self) -> str:
        """Who registered this entry, for messages: the package where known, else the module."""
        if not self.package:
            return f"plugin {self.plugin!r}"
        return f"package {f'{self.package} {self.version}'.strip()} (plugin {self.plugin!r})"

    @property
    def source_label(self) -> str:
        """``built into artgan`` or ``package NAME VERSION``, for one-line errors."""
        if not self.package:
            return "built into artgan"
        return f"package {f'{self.package} {self.version}'.strip()}"

    @property
    def who(self) -> str:
        """``generator 'dcgan' (built into artgan)``, for one-line errors."""
        return f"{self.kind} {self.name!r} ({self.source_label})"

    @property
    def source(self) -> str:
        """Short provider for tables: "package version", or the built-in module name."""
        return f"{self.package or self.plugin} {self.version}".strip()

    def component_class(self) -> type | None:
        """The class the factory builds, where that is known without building: the factory
        itself when it is a class, or the class of a classmethod factory (``from_spec``).
        Its class attributes (``default_resolution``, ``resolutions``, ``count_images``)
        are what artgan reads before building anything; None for a plain function."""
        factory = self.load_factory()
        if isinstance(factory, type):
            return factory
        owner = getattr(factory, "__self__", None)
        return owner if isinstance(owner, type) else None

    def load_factory(self) -> Callable[..., Any]:
        if callable(self.factory):
            return self.factory
        module, _, attr = self.factory.partition(":")
        try:
            obj = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise RegistrationError(
                f"{self.kind} {self.name!r} from {self.provider}: cannot load factory "
                f"{self.factory!r}: {exc}") from exc
        return obj


class Registry:
    """All registered components, by kind and normalised name."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self._aliases: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        #: (kind, name) -> pip package known to provide it (from registry.toml's [known]).
        self.known_packages: dict[tuple[str, str], str] = {}

    def add(self, entry: Entry) -> None:
        """Validate and add one entry; a duplicate name is an error naming both plugins."""
        _validate(entry)
        table, aliases = self._entries[entry.kind], self._aliases[entry.kind]
        for name in (entry.name, *entry.aliases):
            existing = table.get(name) or table.get(aliases.get(name, ""))
            if existing is not None:
                raise RegistrationError(_clash_message(entry.kind, name, existing, entry))
        table[entry.name] = entry
        for alias in entry.aliases:
            aliases[alias] = entry.name

    def get(self, kind: str, name: str) -> Entry:
        """Return the entry for ``name``; raise :class:`UnknownComponentError` with hints."""
        key = normalize_name(name)
        table = self._entries[kind]
        key = self._aliases[kind].get(key, key)
        if key in table:
            return table[key]
        raise UnknownComponentError(self._unknown_message(kind, name))

    def build(self, kind: str, name: str, options: dict[str, Any] | None = None, /,
              *args: Any, **injected: Any) -> Any:
        """Instantiate component ``name`` of ``kind`` with validated ``options``.

        ``args`` and ``injected`` are what the data determines; see :mod:`artgan.hookspecs`
        for each kind's factory signature. Injected keywords the factory does not accept
        and that are optional for it (:data:`OPTIONAL_INJECTIONS`) are left out, so older
        plugins keep working when artgan passes more. Whatever the factory raises becomes
        a one-line :class:`~artgan.core.errors.PluginError` naming the component and its
        package.
        """
        entry = self.get(kind, name)
        opts = build_options(entry.options, options or {}, owner=f"{entry.kind} {entry.name}")
        factory = entry.load_factory()
        injected = _accepted(factory, injected)
        try:
            component = factory(*args, opts, **injected)
        except Exception as exc:
            if isinstance(exc, ArtganError) and not entry.package:
                raise  # artgan's own components already say what is wrong
            raise plugin_failure(entry.who, "its factory or constructor", exc) from exc
        check_component_type(entry, component)
        for attr in ("component_name", "source_name"):
            if hasattr(component, attr):
                setattr(component, attr, entry.name)
        if hasattr(component, "component_source"):
            component.component_source = entry.source_label
        return component

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def entries(self, kind: str | None = None) -> list[Entry]:
        kinds = [kind] if kind else list(KINDS)
        return [self._entries[k][n] for k in kinds for n in sorted(self._entries[k])]

    def _unknown_message(self, kind: str, name: str) -> str:
        return f"unknown {kind} {name!r}. {self.hints(kind, name)}"

    def hints(self, kind: str, name: str) -> str:
        """What helps with a name that is not registered: the package known to provide it
        (registry.toml's [known]), close matches, the known names, the listing command."""
        plural = KINDS[kind][1]
        known = self.names(kind) + sorted(self._aliases[kind])
        close = difflib.get_close_matches(normalize_name(name), known, n=3, cutoff=0.5)
        parts = []
        package = self.known_packages.get((kind, normalize_name(name)))
        if package:
            parts.append(f"It is provided by the package {package}: pip install {package}.")
        if close:
            parts.append(f"Did you mean: {', '.join(close)}?")
        parts.append(f"Known {plural}: {', '.join(self.names(kind)) or '(none)'}.")
        parts.append(f"See `artgan list {kind}`.")
        return " ".join(parts)


def _clash_message(kind: str, name: str, existing: Entry, entry: Entry) -> str:
    """A name registered twice: name both providers and how to disable a third-party one."""
    third_party = [e.plugin for e in (existing, entry) if e.package] or [entry.plugin]
    how = " or ".join(f"artgan --disable-plugin {p} ..." for p in third_party)
    env = " or ".join(f"ARTGAN_DISABLE_PLUGINS={p}" for p in third_party)
    return (f"{kind} name {name!r} is registered twice: by {existing.provider} and by "
            f"{entry.provider}. Uninstall one, or disable it: {how} (or {env}).")


#: Per kind: the module and class every built component must be an instance of.
EXPECTED_TYPES = {
    "generator": ("artgan.core.networks", "Generator", "artgan.core.Generator"),
    "discriminator": ("artgan.core.networks", "Discriminator", "artgan.core.Discriminator"),
    "loss": ("artgan.core.loss", "Loss", "artgan.core.Loss"),
    "data": ("artgan.core.data", "DataSource", "artgan.core.DataSource"),
    "metric": ("artgan.core.metric", "Metric", "artgan.core.Metric"),
    "augmentation": ("torch.nn", "Module", "torch.nn.Module"),
}


def check_component_type(entry: Entry, component: Any) -> None:
    """Refuse a factory result of the wrong type now, not deep inside training."""
    module, attr, public = EXPECTED_TYPES[entry.kind]
    if isinstance(component, getattr(importlib.import_module(module), attr)):
        return
    got = type(component)
    fix = (f"Fix the factory, or disable the plugin: artgan --disable-plugin {entry.plugin} ..."
           if entry.package else "Fix the factory.")
    raise RegistrationError(
        f"{entry.kind} {entry.name!r} from {entry.provider}: its factory returned "
        f"{got.__module__}.{got.__qualname__}, expected an instance of a subclass of "
        f"{public}. {fix}")


def _validate(entry: Entry) -> None:
    who = entry.provider
    if entry.kind not in KINDS:
        raise RegistrationError(f"{who}: unknown component kind {entry.kind!r}")
    for name in (entry.name, *entry.aliases):
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise RegistrationError(
                f"{who} registered {entry.kind} name {name!r}: names are kebab-case "
                f"(lowercase letters, digits and single dashes, for example 'wgan-gp')")
    if not (callable(entry.factory) or (isinstance(entry.factory, str) and ":" in entry.factory)):
        raise RegistrationError(
            f"{who} registered {entry.kind} {entry.name!r} with factory {entry.factory!r}: "
            f"expected a callable or a 'module:attribute' string")
    if not (isinstance(entry.options, type) and dataclasses.is_dataclass(entry.options)):
        raise RegistrationError(
            f"{who} registered {entry.kind} {entry.name!r} with options {entry.options!r}: "
            f"expected a frozen dataclass (see artgan.core.options.option)")


#: Keyword arguments artgan may inject that older factories need not accept.
OPTIONAL_INJECTIONS = ("condition_channels", "seed")


def _accepted(factory: Callable[..., Any], injected: dict[str, Any]) -> dict[str, Any]:
    """``injected`` without the optional keywords ``factory`` cannot take."""
    optional = [k for k in OPTIONAL_INJECTIONS if k in injected]
    if not optional:
        return injected
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return injected
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return injected
    return {k: v for k, v in injected.items() if k not in optional or k in params}


def make_register(registry: Registry, kind: str, plugin: str, version: str,
                  package: str = "") -> Callable[..., None]:
    """Build the ``register`` callback handed to one plugin's ``register_<kind>s`` hook.

    ``package`` is the plugin's pip distribution ('' for artgan's built-in modules)."""

    def register(name: str, factory: Callable[..., Any] | str, *, description: str = "",
                 options: type = NoOptions, aliases: Iterable[str] = (),
                 defaults: dict[str, str] | None = None) -> None:
        registry.add(Entry(kind=kind, name=name, factory=factory, description=description,
                           options=options, aliases=tuple(aliases), plugin=plugin,
                           version=version, package=package,
                           defaults=tuple(sorted((defaults or {}).items()))))

    register.__doc__ = (
        f"register(name, factory, *, description='', options=NoOptions, aliases=(), "
        f"defaults=None) adds one {kind} component.")
    return register
