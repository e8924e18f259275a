"""Latent walks: spherical interpolation, the looping path, and ``artgan walk``."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from artgan.core.walk import slerp, walk_latents

from .helpers import TINY, artgan


def test_slerp_ends_at_its_endpoints_and_keeps_to_the_great_circle():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert torch.allclose(slerp(a, b, 0.0), a) and torch.allclose(slerp(a, b, 1.0), b)
    half = slerp(a, b, 0.5)  # 45 degrees on the unit circle, not the chord's midpoint
    assert torch.allclose(half, torch.tensor([[math.sqrt(0.5), math.sqrt(0.5)]]), atol=1e-6)
    third = slerp(a, b, 1 / 3)
    assert torch.allclose(third, torch.tensor([[math.cos(math.pi / 6), math.sin(math.pi / 6)]]),
                          atol=1e-6)
    for t in (0.1, 0.5, 0.9):  # equal norms stay equal (here 3)
        assert slerp(3 * a, 3 * b, t).norm().item() == pytest.approx(3.0, rel=1e-6)


def test_slerp_of_parallel_rows_is_finite_and_linear():
    a = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    out = slerp(a, 3 * a, 0.5)
    assert torch.isfinite(out).all() and torch.allclose(out, 2 * a)


def test_the_walk_passes_through_every_keyframe_and_loops():
    keys = torch.randn(3, 5, 8)
    frames = walk_latents(keys, frames_between=4)
    assert frames.shape == (12, 5, 8)
    for k in range(3):
        assert torch.allclose(frames[4 * k], keys[k], atol=1e-5)
    # the step from the last frame back to the first is as small as the others
    steps = [(frames[(i + 1) % 12] - frames[i]).norm() for i in range(12)]
    assert max(steps) < 3 * min(steps)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("walk")
    artgan("run", *TINY, "--max-steps", "2", "--out", base / "plain")
    artgan("run", *TINY, "--gen", "cgan", "--max-steps", "2", "--out", base / "cgan")
    return base


def test_walk_writes_a_looping_gif_of_the_grid(runs, tmp_path):
    out = tmp_path / "walk.gif"
    result = artgan("walk", "--ckpt", runs / "plain", "--out", out, "-n", "4",
                    "--keyframes", "2", "--frames", "3", "--fps", "10")
    assert "6 frames at 10 fps, 4 walks" in result.output
    with Image.open(out) as gif:
        assert gif.n_frames == 6 and gif.info["loop"] == 0 and gif.info["duration"] == 100
        assert gif.size == (2 + 2 * (16 + 2), 2 + 2 * (16 + 2))  # 2x2 tiles of 16 px
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(torch.from_numpy(np.asarray(gif.convert("RGB"), dtype=np.float32)))
    assert all((frames[i] - frames[i + 1]).abs().mean() > 0 for i in range(5))  # it moves
    again = tmp_path / "again.gif"
    artgan("walk", "--ckpt", runs / "plain", "--out", again, "-n", "4", "--keyframes", "2",
           "--frames", "3", "--fps", "10")
    assert again.read_bytes() == out.read_bytes()  # same seed, same walk
    other = tmp_path / "other.gif"
    artgan("walk", "--ckpt", runs / "plain", "--out", other, "-n", "4", "--keyframes", "2",
           "--frames", "3", "--fps", "10", "--seed", "1")
    assert other.read_bytes() != out.read_bytes()


def test_walk_within_a_class_and_one_row_per_class(runs, tmp_path):
    result = artgan("walk", "--ckpt", runs / "cgan", "--out", tmp_path / "one.gif", "-n", "2",
                    "--keyframes", "2", "--frames", "1", "--class", "stripes")
    assert "2 walks" in result.output
    artgan("walk", "--ckpt", runs / "cgan", "--out", tmp_path / "all.gif", "-n", "2",
           "--keyframes", "2", "--frames", "1", "--class", "all")
    with Image.open(tmp_path / "all.gif") as gif:  # 5 demo styles: 5 rows of 2
        assert gif.size == (2 + 2 * 18, 2 + 5 * 18)


def test_walk_refuses_what_it_cannot_do(runs, tmp_path):
    result = artgan("walk", "--ckpt", runs / "plain", "--out", tmp_path / "walk.png", expect=2)
    assert "ending in .gif" in result.output
    result = artgan("walk", "--ckpt", runs / "plain", "--out", tmp_path / "w.gif",
                    "--class", "stripes", expect=2)
    assert "--class needs a conditional model" in result.output
    assert not (tmp_path / "w.gif").exists()
