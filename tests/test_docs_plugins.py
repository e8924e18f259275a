"""Every ```python block of docs/plugins.md runs, and every hook has an example that works.

Each block starts with a ``# path.py`` comment naming the file it belongs to; blocks of
the same file run, in order, in one module (``artgan_tiny/nets.py`` becomes the module
``artgan_tiny.nets``). The packages are then loaded as plugins through a stand-in
``artgan`` entry point, and each component is built, checked and trained with.
"""

import inspect
import json
import re
import sys
import types
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from artgan import hookspecs, plugin_host
from tests.helpers import artgan, read_stats

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
HOOKS = [name for name, fn in vars(hookspecs).items()
         if callable(fn) and name.startswith("register_")]
HEADER = re.compile(r"# ([\w/]+)\.py\b")


def doc_blocks() -> list[tuple[str, str]]:
    """(module name, code) of each python block, in page order."""
    blocks = []
    for code in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S):
        header = HEADER.match(code)
        assert header, f"docs/plugins.md: a python block does not start with '# file.py':\n{code}"
        module = header.group(1).removesuffix("/__init__").replace("/", ".")
        blocks.append((module, code))
    return blocks


def exec_blocks(monkeypatch) -> dict[str, types.ModuleType]:
    """Run every block in its module, registered in ``sys.modules`` for lazy factories."""
    modules: dict[str, types.ModuleType] = {}
    for i, (name, code) in enumerate(doc_blocks()):
        if name not in modules:
            modules[name] = types.ModuleType(name)
            monkeypatch.setitem(sys.modules, name, modules[name])
            parent, _, child = name.rpartition(".")
            if parent in modules:
                setattr(modules[parent], child, modules[name])
        exec(compile(code, f"{DOC.name} block {i + 1} ({name})", "exec"),
             modules[name].__dict__)
    return modules


def hook_modules(modules) -> dict[str, types.ModuleType]:
    """The executed modules that implement artgan hooks: the documented plugins."""
    return {name: module for name, module in modules.items()
            if any(hasattr(getattr(module, hook, None), "artgan_impl") for hook in HOOKS)}


@pytest.fixture
def doc_plugins(monkeypatch):
    """The page's plugin packages, installed as entry points named after them."""
    plugins = hook_modules(exec_blocks(monkeypatch))
    eps = [types.SimpleNamespace(name=name, value=name, load=lambda m=module: m,
                                 dist=types.SimpleNamespace(name=name, version="0.1"))
           for name, module in plugins.items()]
    # only the plugin host's view of installed packages changes (torch's stays intact)
    monkeypatch.setattr(plugin_host, "metadata", types.SimpleNamespace(
        entry_points=lambda group: eps if group == "artgan" else []))
    plugin_host.reset()
    yield plugins
    plugin_host.reset()


def test_every_hook_has_an_executed_example(doc_plugins):
    implemented = {hook for module in doc_plugins.values() for hook in HOOKS
                   if hasattr(getattr(module, hook, None), "artgan_impl")}
    assert set(HOOKS) - implemented == set(), "docs/plugins.md has no example for these hooks"
    text = DOC.read_text()
    for hook in HOOKS:  # and each is documented with its exact signature
        signature = f"{hook}({', '.join(inspect.signature(getattr(hookspecs, hook)).parameters)})"
        assert f"`{signature}`" in text, f"docs/plugins.md does not document {signature}"


def test_the_documented_components_register_under_their_plugins(doc_plugins):
    infos = {p.name: p for p in plugin_host.plugin_infos()}
    assert not [p for p in infos.values() if p.error]
    assert infos["artgan_tiny"].components == {
        "generator": ["tiny-mlp"], "discriminator": ["tiny-critic"], "loss": ["rasgan"],
        "data": ["tiny-stripes"], "metric": ["colour-gap"]}
    assert infos["artgan_hue"].components == {"augmentation": ["invert"]}
    assert infos["artgan_unblur"].components == {"generator": ["tiny-unblur"],
                                                 "data": ["tiny-blur"]}
    listed = json.loads(artgan("plugins", "--json").output)
    assert sorted(p["name"] for p in listed) == ["artgan_hue", "artgan_tiny", "artgan_unblur"]


def test_the_documented_contract_checks_pass(doc_plugins, monkeypatch):
    from artgan import testing

    blocks = exec_blocks(monkeypatch)
    blocks["test_artgan_tiny"].test_artgan_tiny()
    testing.check_augmentation("invert", {"p": 0.5})
    plugin_host.reset()  # the checkout example registers the hook module itself
    blocks["test_artgan_tiny_checkout"].test_from_a_checkout()


def test_the_documented_components_train_and_evaluate(doc_plugins, tmp_path):
    run = tmp_path / "run"
    artgan("run", "--gen", "tiny-mlp", "--disc", "tiny-critic", "--loss", "rasgan",
           "--data", "tiny-stripes:4", "--augment", "invert", "--metric", "colour-gap",
           "--max-steps", "4", "--eval-every", "2", "--eval-images", "16", "--batch-size", "8",
           "--device", "cpu", "--recipe", "none", "--out", run, "-o", "data.size=32",
           "-o", "gen.hidden=16", "-o", "disc.hidden=16", "-o", "invert.p=0.5")
    config = json.loads((run / "config.json").read_text())["components"]
    assert (config["gen"]["name"], config["disc"]["name"], config["loss"]["name"]) == \
        ("tiny-mlp", "tiny-critic", "rasgan")
    assert max(r["step"] for r in read_stats(run)) >= 2
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert records and all(r["colour-gap"] >= 0 for r in records)
    assert (run / "checkpoints" / "best.pt").exists()


def test_the_documented_image_to_image_pair_trains(doc_plugins, tmp_path):
    run = tmp_path / "unblur"
    out = artgan("run", "--gen", "tiny-unblur", "--max-steps", "3", "--batch-size", "8",
                 "--device", "cpu", "--resolution", "16", "--out", run, "-o", "data.size=16",
                 "-o", "disc.ndf=8", "-o", "gen.hidden=8").output
    config = json.loads((run / "config.json").read_text())["components"]
    assert (config["disc"]["name"], config["loss"]["name"], config["data"]["name"]) == \
        ("patchgan", "pix2pix", "tiny-blur")  # the generator's defaults
    assert "Done" in out and (run / "samples" / "final.png").exists()


def test_a_documented_setting_refusal_reads_as_one_line(doc_plugins, tmp_path):
    result = artgan("run", "--gen", "tiny-mlp", "-o", "gen.hidden=15", "--dry-run",
                    "--resolution", "16", expect=2)
    assert "Error: generator 'tiny-mlp' (package artgan_tiny 0.1): gen.hidden must be even" \
        in result.output


def test_the_documented_command_runs(doc_plugins):
    group = click.Group("artgan")
    plugin_host.register_commands(group)
    result = CliRunner().invoke(group, ["tiny-info", "--resolution", "16"])
    assert result.exit_code == 0, result.output
    hidden, pixels = 64, 3 * 16 * 16
    count = 32 * hidden + hidden + hidden * pixels + pixels
    assert result.output == f"tiny-mlp at 16 px: {count} parameters\n"
