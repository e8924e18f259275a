"""Helpers shared by the fault tests (issue 19): tiny trainers, a finished tiny run and
damaged copies of its checkpoint."""

import shutil

import pytest
import torch

import artgan
from artgan.core.images import save_grid

from .helpers import TINY, artgan as cli

TINY_OPTIONS = {"gen": {"ngf": 8, "z_dim": 16}, "disc": {"ndf": 8}, "data": {"size": 64}}


def tiny_trainer(out, **settings):
    return artgan.make_trainer(resolution=16, batch_size=8, device="cpu", out=out,
                               options=TINY_OPTIONS, **settings)


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """A finished tiny run (4 steps) whose checkpoint the tests copy and damage."""
    run = tmp_path_factory.mktemp("good") / "run"
    cli("run", *TINY, "--max-steps", "4", "--log-every", "1", "--out", run)
    return run


def damaged_copy(good_run, tmp_path, change, name="ckpt.pt"):
    ckpt = torch.load(good_run / "checkpoints" / "last.pt", weights_only=True)
    change(ckpt)
    path = tmp_path / name
    torch.save(ckpt, path)
    return path


def as_run_folder(path, tmp_path, name="resumable"):
    """A run folder holding ``path`` as its last.pt."""
    folder = tmp_path / name
    (folder / "checkpoints").mkdir(parents=True)
    shutil.copy(path, folder / "checkpoints" / "last.pt")
    return folder


def image_folder(path, count, size=16):
    """``count`` random PNGs of ``size`` px in a new folder ``path``."""
    path.mkdir(parents=True)
    for i in range(count):
        save_grid(torch.rand(1, 3, size, size), path / f"{i}.png", nrow=1)
    return path
