"""registry.toml must say exactly what the built-in plugin modules register."""

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


def test_every_builtin_module_registers_what_the_catalogue_lists():
    for plugin, spec in read_catalogue()["builtin"].items():
        module = importlib.import_module(spec["module"])
        listed = {k: sorted(v) for k, v in spec.items() if k != "module"}
        assert registered_by(module) == listed, f"registry.toml [builtin.{plugin}] is stale"


def test_every_plugin_module_with_hooks_is_in_the_catalogue():
    listed = {spec["module"] for spec in read_catalogue()["builtin"].values()}
    with_hooks = set()
    for info in pkgutil.iter_modules(artgan.plugins.__path__):
        module = importlib.import_module(f"artgan.plugins.{info.name}")
        if any(hasattr(module, hook) for hook, _ in KINDS.values()):
            with_hooks.add(module.__name__)
    assert with_hooks == listed


def test_catalogue_matches_the_live_registry():
    catalogue = read_catalogue()["builtin"]
    for kind, (hook, _) in KINDS.items():
        key = HOOK_TO_KEY[hook]
        expected = sorted(n for spec in catalogue.values() for n in spec.get(key, []))
        assert get_registry().names(kind) == expected


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
