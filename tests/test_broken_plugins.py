"""Broken third-party plugins are reported by name and artgan keeps working."""

import types

import pytest

from artgan import hookimpl, plugin_host
from artgan.core.registry import RegistrationError


class FakeEntryPoint:
    def __init__(self, name, load, package="artgan-broken"):
        self.name, self.value, self._load = name, f"{package}:module", load
        self.dist = types.SimpleNamespace(name=package, version="9.9")

    def load(self):
        return self._load()


@pytest.fixture
def entry_points(monkeypatch):
    points = []
    monkeypatch.setattr(plugin_host.metadata, "entry_points",
                        lambda group: points if group == "artgan" else [])
    return points


def module(**hooks):
    fake = types.ModuleType("fake_plugin")
    fake.__dict__.update(hooks)
    return fake


def raises_on_import():
    raise ImportError("no module named 'tensorflow'")


def test_plugin_failing_to_import_is_reported_and_others_still_work(entry_points):
    entry_points.append(FakeEntryPoint("broken", raises_on_import))
    errors = plugin_host.plugin_errors()
    assert len(errors) == 1 and errors[0].package == "artgan-broken"
    assert "tensorflow" in errors[0].error
    assert "dcgan" in plugin_host.get_registry().names("generator")


def test_misspelled_hook_is_reported_with_a_suggestion(entry_points):
    @hookimpl
    def register_generator(register):  # missing the final "s"
        pass

    entry_points.append(FakeEntryPoint("typo", lambda: module(register_generator=register_generator)))
    errors = plugin_host.plugin_errors()
    assert [e.name for e in errors] == ["typo"]
    assert "did you mean register_generators" in errors[0].error


def test_plugin_registering_a_bad_object_is_left_out_whole(entry_points):
    @hookimpl
    def register_losses(register):
        register("fine-loss", "somewhere:Fine")
        register("Bad Name!", "somewhere:Bad")

    entry_points.append(FakeEntryPoint("badobj", lambda: module(register_losses=register_losses)))
    registry = plugin_host.get_registry()
    assert "fine-loss" not in registry.names("loss")  # nothing half-registered
    assert "kebab-case" in plugin_host.plugin_errors()[0].error


def test_name_clash_between_packages_names_both_and_how_to_disable(entry_points):
    def clash(package):
        @hookimpl
        def register_losses(register):
            register("gan", "somewhere:Gan")
        return FakeEntryPoint(package, lambda: module(register_losses=register_losses), package)

    entry_points.append(clash("artgan-clash"))
    with pytest.raises(RegistrationError) as err:
        plugin_host.get_registry()
    message = str(err.value)
    assert "artgan.plugins.losses" in message and "artgan-clash" in message
    assert "--disable-plugin artgan-clash" in message
