"""`artgan --help`, `artgan list` and the commands' --help must stay fast: they may not
import torch (`artgan report --help`: tests/test_report.py)."""

import subprocess
import sys

import pytest

PROBE = """
import sys
from artgan.cli import cli
try:
    cli.main({args!r}, prog_name="artgan", standalone_mode=False)
finally:
    print("TORCH_IMPORTED" if "torch" in sys.modules else "TORCH_NOT_IMPORTED")
"""


@pytest.mark.parametrize("args", [["--help"], ["list"], ["list", "loss", "--options"],
                                  ["run", "--help"], ["sample", "--help"],
                                  ["eval", "--help"], ["project", "--help"],
                                  ["restore", "--help"], ["studio", "--help"]])
def test_command_does_not_import_torch(args):
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().endswith("TORCH_NOT_IMPORTED"), out
    if len(args) == 2 and args[1] == "--help":  # and the help itself was printed
        assert f"artgan {args[0]} [OPTIONS]" in out, out
    if args[0] == "studio":
        assert "--host" in out and "--port" in out


def test_python_m_artgan_works():
    out = subprocess.run([sys.executable, "-m", "artgan", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert "artgan" in out


def test_list_shows_every_component_with_plugin_and_description():
    out = subprocess.run([sys.executable, "-m", "artgan", "list"], capture_output=True,
                         text=True, check=True, env={"COLUMNS": "200", "PATH": ""}).stdout
    for name in ("dcgan", "cgan", "gan", "wgan-gp", "hinge", "lsgan", "folder", "demo"):
        assert name in out
    assert "artgan.plugins.dcgan" in out and "Non-saturating GAN loss" in out
