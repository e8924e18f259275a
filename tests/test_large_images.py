"""Huge images (issue 19, item 13): large images are box-reduced right after decoding,
before the copies of orientation and mode conversion, and decode under a shared pixel
budget, so that several decoding threads cannot each hold a huge PNG at once.

Memory itself is measured in bench/README.md (a subprocess's peak RSS); here the bound
is checked through the budget's bookkeeping, with its thresholds made small so that
small files stand in for huge ones.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from PIL import Image

from artgan.core import image_files
from artgan.core.image_files import PixelBudget, decode_image
from artgan.plugins.folder import _decode_files


def smooth_png(path, width, height, alpha=False):
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    pixels = np.stack([y + 0 * x, x + 0 * y, np.full((height, width), 128.0)], -1)
    if alpha:
        pixels = np.concatenate([pixels, (y + x)[..., None] / 2], -1)
    Image.fromarray(pixels.astype(np.uint8), "RGBA" if alpha else "RGB").save(
        path, compress_level=1)
    return str(path)


def test_large_images_decode_within_the_budget_and_small_ones_freely(tmp_path, monkeypatch):
    paths = [smooth_png(tmp_path / f"big-{i}.png", 300, 200, alpha=i % 2 == 1)
             for i in range(6)]
    reference = [decode_image(p, 16, 3, 8, 1e9) for p in paths]  # one at a time
    budget = PixelBudget(100_000)  # less than two of these 60,000-pixel images
    monkeypatch.setattr(image_files, "LARGE_PIXELS", 10_000)
    monkeypatch.setattr(image_files, "DECODE_BUDGET", budget)
    inside, most = [0], [0]
    lock = threading.Lock()
    real = image_files.reduce_large

    def counting(*args):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.02)  # let the other threads try to start
        try:
            return real(*args)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(image_files, "reduce_large", counting)
    results = _decode_files(paths, (16, 3, 8, 1e9, True), 4)
    assert most[0] == 1 and budget.peak == 60_000 and budget.used == 0
    # the early box reduction (factor 4 here) keeps the pixels within a grey level or two
    for (got, size), (want, _) in zip(results, reference):
        assert size == (300, 200)
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 2
    small = PixelBudget(1)  # small images never wait, whatever the budget
    with small.hold(5_000), small.hold(5_000):
        assert small.used == 0


def test_an_image_over_the_budget_decodes_alone():
    budget = PixelBudget(10)
    with budget.hold(20e6):
        assert budget.used == 20e6  # admitted: nothing else was in flight
    assert budget.used == 0


def test_a_large_png_is_reduced_before_conversion(tmp_path):
    """A 4200 x 4000 RGBA PNG (16.8 MP, over LARGE_PIXELS): reduced by 20 for 64 px before
    the flattening onto white, and the same picture as a decode without early reduction."""
    path = smooth_png(tmp_path / "large.png", 4200, 4000, alpha=True)
    with Image.open(path) as img:
        reduced = image_files.reduce_large(img, 64)
        assert reduced.size == (210, 200)
    early, _ = decode_image(path, 64, 3, 8, 1e9)
    with Image.open(path) as img:  # the old path: full-size conversion, then the resize
        full = image_files.resize_crop(image_files.to_mode(img.convert("RGBA"), 3), 64)
    assert np.abs(early.astype(int) - np.asarray(full).transpose(2, 0, 1).astype(int)).max() <= 2
