"""Helpers shared by the CycleGAN tests (tests/test_cyclegan*.py)."""

import io

import torch

from artgan.plugin_host import get_registry

SMALL_G, SMALL_D = {"ngf": 4}, {"ndf": 4}


def build(kind, name="cyclegan", options=None, **shape):
    shape = {"resolution": 16, "channels": 3, **shape}
    return get_registry().build(kind, name, options, **shape)


def build_loss(**options):
    return get_registry().build("loss", "cyclegan", options)


def images(n, c=3, h=16, w=16, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def roundtrip(state):
    """``state`` through torch.save / torch.load(weights_only=True), as a checkpoint."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)
