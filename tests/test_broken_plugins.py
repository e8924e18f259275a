"""Broken third-party plugins are reported by name and artgan keeps working."""

import json

import click
import pytest
from click.testing import CliRunner

from artgan import hookimpl, plugin_host
from artgan.cli import build_cli, cli, disabled_in_argv, main
from artgan.cli.list_cmd import list_command
from artgan.core.registry import Entry, Registry, RegistrationError

from .helpers import FakeEntryPoint, module


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


def clashing_loss(name, package):
    @hookimpl
    def register_losses(register):
        register("gan", "somewhere:Gan")
    return FakeEntryPoint(name, lambda: module(register_losses=register_losses), package)


def test_name_clash_with_a_builtin_names_the_package_and_how_to_disable(entry_points):
    entry_points.append(clashing_loss("clash", "artgan_clash"))  # entry point != package
    with pytest.raises(RegistrationError) as err:
        plugin_host.get_registry()
    message = str(err.value)
    assert "by plugin 'artgan.plugins.losses' and by package artgan_clash 9.9" in message
    assert "--disable-plugin clash" in message and "ARTGAN_DISABLE_PLUGINS=clash" in message


def test_name_clash_between_two_packages_names_both(entry_points):
    entry_points.extend([clashing_loss("one", "artgan-one"), clashing_loss("two", "artgan-two")])
    plugin_host.disable_plugin("artgan.plugins.losses")
    with pytest.raises(RegistrationError) as err:
        plugin_host.get_registry()
    message = str(err.value)
    assert "package artgan-one 9.9 (plugin 'one')" in message
    assert "package artgan-two 9.9 (plugin 'two')" in message
    assert "--disable-plugin one" in message and "--disable-plugin two" in message


def test_disable_plugin_accepts_the_package_name(entry_points):
    entry_points.append(clashing_loss("clash", "artgan_clash"))
    plugin_host.disable_plugin("artgan_clash")
    assert "gan" in plugin_host.get_registry().names("loss")
    assert plugin_host.plugin_errors() == []


# --- plugin commands ---------------------------------------------------------------------

def command_plugin(*names, greeting="hello"):
    """A plugin module whose register_commands adds commands ``names``."""
    @hookimpl
    def register_commands(cli):
        for name in names:
            cli.command(name)(lambda: click.echo(greeting))
    return module(register_commands=register_commands)


def broken_commands():
    @hookimpl
    def register_commands(cli):
        raise RuntimeError("cmd hook broke")
    return module(register_commands=register_commands)


def run_main(argv, capsys):
    """The console-script entry point in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def test_broken_command_hook_only_loses_its_own_commands(entry_points, capsys):
    entry_points.append(FakeEntryPoint("broken", broken_commands, "artgan-broken"))
    entry_points.append(FakeEntryPoint("good", lambda: command_plugin("good-hello"), "artgan-good"))
    code, out, err = run_main(["good-hello"], capsys)
    assert (code, out) == (0, "hello\n")
    assert "plugin 'broken' (package artgan-broken 9.9)" in err and "cmd hook broke" in err
    assert "--disable-plugin broken" in err


def test_plugin_command_cannot_replace_a_builtin(entry_points, capsys):
    entry_points.append(FakeEntryPoint("evil", lambda: command_plugin("list"), "artgan-evil"))
    group = build_cli(["list"])
    assert group.commands["list"] is list_command
    err = capsys.readouterr().err
    assert "plugin 'evil' (package artgan-evil 9.9)" in err and "built-in is kept" in err
    assert "--disable-plugin evil" in err and "ARTGAN_DISABLE_PLUGINS=evil" in err
    assert cli.commands["list"] is list_command  # the shared group is left untouched


def test_command_clash_between_packages_names_both_and_keeps_the_first(entry_points, capsys):
    entry_points.append(FakeEntryPoint("one", lambda: command_plugin("hi", greeting="1"),
                                       "artgan-one"))
    entry_points.append(FakeEntryPoint("two", lambda: command_plugin("hi", greeting="2"),
                                       "artgan-two"))
    code, out, err = run_main(["hi"], capsys)
    assert (code, out) == (0, "1\n")
    assert "package artgan-one 9.9" in err and "package artgan-two 9.9" in err
    assert "--disable-plugin one" in err and "--disable-plugin two" in err


def test_disable_plugin_flag_applies_before_commands_are_registered(entry_points, capsys):
    def hello_needs_its_plugin():
        @hookimpl
        def register_commands(cli):
            @cli.command("example-hello")
            def hello():
                next(p for p in plugin_host.plugin_infos() if p.name == "example")
        return module(register_commands=register_commands)

    entry_points.append(FakeEntryPoint("example", hello_needs_its_plugin, "artgan-example"))
    code, _, err = run_main(["--disable-plugin", "example", "example-hello"], capsys)
    assert code == 2 and "No such command 'example-hello'" in err
    code, _, err = run_main(["--disable-plugin=example", "example-hello"], capsys)
    assert code == 2 and "No such command 'example-hello'" in err


def test_disabled_in_argv_reads_only_the_group_options():
    assert disabled_in_argv(["--disable-plugin", "a", "--disable-plugin=b", "run",
                             "--disable-plugin", "c"]) == ["a", "b"]
    assert disabled_in_argv(["-h"]) == [] and disabled_in_argv(["--disable-plugin"]) == []


def test_plugins_command_lists_each_plugins_commands(entry_points):
    entry_points.append(FakeEntryPoint("cmds", lambda: command_plugin("b-cmd", "a-cmd"),
                                       "artgan-cmds"))
    entry_points.append(FakeEntryPoint("broken", broken_commands, "artgan-broken"))
    runner = CliRunner()
    table = runner.invoke(cli, ["plugins"], catch_exceptions=False).output
    assert "commands: a-cmd, b-cmd" in table and "cmd hook broke" in table
    infos = json.loads(runner.invoke(cli, ["plugins", "--json"], catch_exceptions=False).stdout)
    by_name = {p["name"]: p for p in infos}
    assert by_name["cmds"]["commands"] == ["a-cmd", "b-cmd"]
    broken = by_name["broken"]
    assert broken["commands"] == [] and "cmd hook broke" in broken["warnings"][0]


# --- factories returning the wrong type --------------------------------------------------

WRONG = {"generator": (42, "artgan.core.Generator"),
         "discriminator": ("D", "artgan.core.Discriminator"),
         "loss": (object(), "artgan.core.Loss"), "data": ([1, 2], "artgan.core.DataSource"),
         "metric": ({}, "artgan.core.Metric"), "augmentation": (abs, "torch.nn.Module")}


@pytest.mark.parametrize("kind", list(WRONG))
def test_factory_of_the_wrong_type_is_a_clear_error(kind):
    value, expected = WRONG[kind]
    registry = Registry()
    registry.add(Entry(kind, "evil", lambda *a, **k: value, plugin="ev", version="0.1",
                       package="artgan-evil"))
    with pytest.raises(RegistrationError) as err:
        registry.build(kind, "evil")
    message = str(err.value)
    assert f"{kind} 'evil' from package artgan-evil 0.1 (plugin 'ev')" in message
    assert f"expected an instance of a subclass of {expected}" in message
    assert "--disable-plugin ev" in message


def evil_plugin():
    @hookimpl
    def register_generators(register):
        register("evil-gen", lambda options, **shape: 42)

    @hookimpl
    def register_losses(register):
        register("evil-loss", lambda options: object())

    @hookimpl
    def register_data_sources(register):
        register("evil-data", lambda argument, options, **kw: [1, 2])
    return module(register_generators=register_generators, register_losses=register_losses,
                  register_data_sources=register_data_sources)


SMALL_DEMO = ["-o", "data.size=32"]


@pytest.mark.parametrize("args,expected", [
    (["--gen", "evil-gen", "--disc", "dcgan", *SMALL_DEMO], "generator 'evil-gen'"),
    (["--loss", "evil-loss", *SMALL_DEMO], "loss 'evil-loss'"),
    (["--data", "evil-data"], "data 'evil-data'"),
])
def test_run_with_a_wrong_type_factory_stops_before_training(entry_points, tmp_path, args,
                                                              expected):
    entry_points.append(FakeEntryPoint("evil", evil_plugin, "artgan-evil"))
    result = CliRunner().invoke(cli, ["run", *args, "--dry-run", "--resolution", "16",
                                      "--out", str(tmp_path / "x")])
    assert result.exit_code == 2, result.output
    assert f"Error: {expected} from package artgan-evil" in result.output
    assert "Traceback" not in result.output
