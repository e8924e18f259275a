"""Shared test helpers: tiny run settings and a CLI runner."""

from __future__ import annotations

import json
import types
from pathlib import Path

from click.testing import CliRunner

from artgan.cli import cli

#: The smallest settings that still train: 16 px, narrow networks, small batches. It
#: names ``--gen dcgan`` (a later ``--gen`` wins): with none, the quickstart recipe
#: would pick its cgan (tests/test_quickstart.py covers that path).
TINY = ["--gen", "dcgan", "--resolution", "16", "--batch-size", "16", "-o", "gen.ngf=8",
        "-o", "gen.z_dim=16", "-o", "disc.ndf=8", "-o", "data.size=128", "--log-every", "2",
        "--device", "cpu"]


def artgan(*args: str, expect: int = 0):
    """Invoke the CLI in-process; assert the exit code; return the result."""
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


def read_stats(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


def resolved(*, options: dict | None = None, **settings):
    """The resolved config of ``settings`` (as ``artgan run`` resolves them: recipe auto)."""
    from artgan.core.request import RunRequest
    from artgan.core.resolve import resolve
    from artgan.plugin_host import get_registry

    return resolve(RunRequest(settings, options=options), get_registry()).config


def flat_config(config: dict) -> dict:
    """A grouped config (config.json, a checkpoint's "config") as one flat dict: each
    group's fields at the top level, next to notes, data_summary and the like."""
    groups = ("components", "image", "schedule", "optimisation", "regularisation",
              "evaluation", "runtime")
    out = {}
    for key, value in config.items():
        if key in groups:
            out.update(value)
        else:
            out[key] = value
    return out


class FakeEntryPoint:
    def __init__(self, name, load, package="artgan-broken"):
        self.name, self.value, self._load = name, f"{package}:module", load
        self.dist = types.SimpleNamespace(name=package, version="9.9")

    def load(self):
        return self._load()


def module(**hooks):
    fake = types.ModuleType("fake_plugin")
    fake.__dict__.update(hooks)
    return fake
