"""registry.toml lists every built-in plugin module, and only what cannot be derived."""

import importlib
import pkgutil

from click.testing import CliRunner

import artgan.plugins
from artgan import plugin_host
from artgan.cli import cli
from artgan.core.registry import KINDS, Registry, make_register
from artgan.plugin_host import get_registry, read_catalogue

HOOK_TO_KEY = {hook: hook.removeprefix("register_") for hook, _ in KINDS.values()}


def registered_by(module):
    registry = Registry()
    found = {}
    for kind, (hook, _) in KINDS.items():
        impl = getattr(module, hook, None)
        if impl is not None:
            impl(register=make_register(registry, kind, module.__name__, ""))
            found[HOOK_TO_KEY[hook]] = registry.names(kind)
    return found


def test_every_plugin_module_with_hooks_is_in_the_catalogue():
    listed = set(read_catalogue()["builtin"].values())
    with_hooks = set()
    for info in pkgutil.iter_modules(artgan.plugins.__path__):
        module = importlib.import_module(f"artgan.plugins.{info.name}")
        if any(hasattr(module, hook) for hook, _ in KINDS.values()):
            with_hooks.add(module.__name__)
    assert with_hooks == listed


def test_every_builtin_component_comes_from_a_listed_module():
    """What the listed modules register is the registry's built-in content, no more."""
    expected = {kind: [] for kind in KINDS}
    for module_name in read_catalogue()["builtin"].values():
        for key, names in registered_by(importlib.import_module(module_name)).items():
            kind = next(k for k, (hook, _) in KINDS.items() if HOOK_TO_KEY[hook] == key)
            expected[kind] += names
    for kind in KINDS:
        assert get_registry().names(kind) == sorted(expected[kind])


def test_known_packages_do_not_shadow_builtins():
    for kind, names in read_catalogue().get("known", {}).items():
        for name in names:
            assert name not in get_registry().names(kind)


def test_known_package_in_the_catalogue_gives_a_pip_install_hint(monkeypatch, tmp_path):
    text = plugin_host.catalogue_text()
    assert "[known.generator]\n" in text
    known = text.replace("[known.generator]\n",
                         '[known.generator]\nstylegan-xl = "artgan-stylegan"\n')
    monkeypatch.setattr(plugin_host, "catalogue_text", lambda: known)
    plugin_host.reset()
    result = CliRunner().invoke(cli, ["run", "--gen", "stylegan_XL", "--disc", "dcgan",
                                      "--dry-run", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2, result.output
    assert ("unknown generator 'stylegan_XL'. It is provided by the package artgan-stylegan: "
            "pip install artgan-stylegan.") in result.output
