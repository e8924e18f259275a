"""The example plugin package really pip-installs and works through the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "plugins" / "artgan-example"


def artgan_cli(*args, env=None, check=True):
    return subprocess.run([sys.executable, "-m", "artgan", *map(str, args)], capture_output=True,
                          text=True, check=check, env=env)


@pytest.fixture(scope="module")
def installed_example():
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
           "--no-index", str(EXAMPLE)]
    subprocess.run(pip, check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", "artgan-example"],
                       check=True, capture_output=True)


def test_example_plugin_is_listed_with_version_and_components(installed_example):
    plugins = json.loads(artgan_cli("plugins", "--json").stdout)
    assert [p["name"] for p in plugins] == ["example"]
    example = plugins[0]
    assert (example["package"], example["version"]) == ("artgan-example", "0.1.0")
    assert example["components"] == {"generator": ["example-mlp"], "loss": ["example-rsgan"],
                                     "data": ["example-checkers"]}
    everything = json.loads(artgan_cli("plugins", "--all", "--json").stdout)
    assert {"artgan.plugins.dcgan", "example"} <= {p["name"] for p in everything}


def test_example_components_and_command_work_through_the_cli(installed_example, tmp_path):
    assert "artgan-example provides generator: example-mlp" in artgan_cli("example-hello").stdout
    artgan_cli("run", "--gen", "example-mlp", "--disc", "dcgan", "--loss", "example-rsgan",
               "--data", "example-checkers:4", "-o", "disc.ndf=8", "--batch-size", "16",
               "--max-steps", "3", "--device", "cpu", "--out", tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["runtime"]["plugin_versions"]["example"] == "artgan-example 0.1.0"
    assert (tmp_path / "run" / "samples" / "final.png").exists()


def test_load_and_disable_switches(installed_example):
    import os

    def listed(*args, env=None):  # the example's entry: (components, why it is left out)
        [example] = json.loads(artgan_cli(*args, "plugins", "--json", env=env).stdout)
        return example["components"], example["disabled"]

    none = {**os.environ, "ARTGAN_LOAD_PLUGINS": ""}
    assert listed(env=none) == ({}, "not loaded: ARTGAN_LOAD_PLUGINS does not name it")
    only = {**os.environ, "ARTGAN_LOAD_PLUGINS": "example"}
    assert listed(env=only)[1] == "" and listed(env=only)[0]
    assert listed("--disable-plugin", "example") == \
        ({}, "disabled (--disable-plugin or ARTGAN_DISABLE_PLUGINS)")
    text = artgan_cli("--disable-plugin", "example", "plugins").stdout
    assert "example (artgan-example 0.1.0): disabled" in text and "No third-party" not in text
    result = artgan_cli("--disable-plugin", "example", "run", "--gen", "example-mlp",
                        "--dry-run", check=False)
    assert result.returncode == 2 and "unknown generator 'example-mlp'" in result.stderr


def test_trace_switch_prints_hook_calls(installed_example):
    import os

    env = {**os.environ, "ARTGAN_TRACE_PLUGINS": "1"}
    err = artgan_cli("list", "loss", env=env).stderr
    assert "register_losses" in err and "[artgan plugins]" in err
