"""``artgan translate``: every image at its own size (odd sizes, tiles), both directions,
side by side, the EMA generator, skipped files, and clear errors; never overwrites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artgan.core.config import RunConfig
from artgan.core.networks import Generator
from artgan.plugin_host import get_registry
from artgan.translation import (TranslationError, Translator, read_image,
                                refuse_translation_model, translate_image, translator)

from .helpers import artgan

G_OPTIONS = {"ngf": 4, "blocks": 1}


def config_for(gen: str, options: dict, loss: str = "cyclegan") -> RunConfig:
    disc = "cyclegan" if gen == "cyclegan" else "dcgan"
    def choice(name, opts=None, argument=None):
        return {"name": name, "options": opts or {}, "argument": argument}

    return RunConfig.from_dict({  # the round-1 flat layout, which configs still read
        "gen": choice(gen, options), "disc": choice(disc), "loss": choice(loss),
        "data": choice("unpaired", {}, "folder:a,folder:b"), "resolution": 16,
        "channels": 3, "batch_size": 1, "epochs": 1, "max_steps": None, "n_critic": 1,
        "optimizer": {"name": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "betas": [0.5, 0.999]}})


def build(gen="cyclegan", options=G_OPTIONS, seed=0):
    torch.manual_seed(seed)
    return get_registry().build("generator", gen, options, resolution=16, channels=3,
                                num_classes=0)


def save_checkpoint(path: Path, G, config: RunConfig, ema=None) -> Path:
    """A checkpoint as the trainer writes it (the parts ``load_generator`` reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": 1, "generator": G.state_dict(), "config": config.to_dict()}
    if ema is not None:
        state["generator_ema"] = ema.state_dict()
    torch.save(state, path)
    return path


@pytest.fixture
def ckpt(tmp_path):
    return save_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt", build(),
                           config_for("cyclegan", G_OPTIONS))


def write(path: Path, size, mode="RGB", seed=0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"RGB": 3, "L": 1}[mode]
    array = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], channels),
                                                 dtype=np.uint8)
    Image.fromarray(array[..., 0] if mode == "L" else array, mode=mode).save(path)
    return path


def expected(G, path: Path, direction="a2b") -> np.ndarray:
    """The translation computed directly: the whole image through the network."""
    with torch.no_grad():
        x = read_image(path, 3)
        out = G.eval().in_direction(direction)(x)
    return out[0].add(1).mul(127.5).round().clamp(0, 255).permute(1, 2, 0).numpy()


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


def test_a_folder_is_translated_image_by_image_at_its_own_size(tmp_path, ckpt):
    photos = tmp_path / "photos"
    sizes = {"wide.png": (40, 24), "odd.png": (17, 23), "tiny.png": (5, 3)}
    for i, (name, size) in enumerate(sizes.items()):
        write(photos / name, size, seed=i)
    write(photos / "trip" / "grey.jpg", (21, 13), mode="L", seed=7)
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but nothing else")
    before = {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()}
    result = artgan("translate", "--ckpt", ckpt.parent.parent, "--in", photos,
                    "--out", tmp_path / "styled", "--device", "cpu")
    assert "Translated 4 images (a2b, cyclegan)" in result.output
    assert "Skipped 1 unreadable file(s):" in result.output and "broken.png" in result.output
    styled = tmp_path / "styled"
    for name, size in sizes.items():
        assert Image.open(styled / name).size == size
    grey = Image.open(styled / "trip" / "grey.png")
    assert grey.size == (21, 13) and grey.mode == "RGB"  # converted like the training data
    G = build()
    G.load_state_dict(torch.load(ckpt, weights_only=True)["generator"])
    assert np.abs(pixels(styled / "wide.png") - expected(G, photos / "wide.png")).max() <= 1
    assert {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()} == before


def test_odd_sizes_are_padded_to_the_networks_multiple_and_cropped_back(ckpt):
    G = build()
    step = translator(G.eval())
    assert (step.direction, step.size_multiple, step.min_size) == ("a2b", 4, 8)
    for h, w in ((17, 23), (3, 5), (1, 1), (64, 9)):
        x = torch.rand(1, 3, h, w) * 2 - 1
        out = translate_image(step, x)
        assert out.shape == (1, 3, h, w) and torch.isfinite(out).all()
    x = torch.rand(1, 3, 20, 12) * 2 - 1  # already a multiple of 4: exactly the network
    with torch.no_grad():
        assert torch.allclose(translate_image(step, x), G.a2b(x), atol=1e-6)


def test_large_images_are_tiled_with_overlap_and_keep_their_size(tmp_path, ckpt):
    identity = Translator(lambda x: x, "a2b", 3, size_multiple=4, min_size=8)
    x = torch.rand(1, 3, 70, 90) * 2 - 1
    assert torch.allclose(translate_image(identity, x, tile=32, overlap=8), x, atol=1e-6)
    calls = []
    counting = Translator(lambda t: calls.append(tuple(t.shape[-2:])) or t, "a2b", 3, 4, 8)
    translate_image(counting, x, tile=32, overlap=8)
    assert len(calls) > 4 and all(h <= 32 and w <= 32 for h, w in calls)
    big = write(tmp_path / "big.png", (90, 70))
    artgan("translate", "--ckpt", ckpt, "--in", big, "--out", tmp_path / "out.png",
           "--tile", "32", "--device", "cpu")
    assert Image.open(tmp_path / "out.png").size == (90, 70)


def test_direction_side_by_side_and_single_files(tmp_path, ckpt):
    photo = write(tmp_path / "in" / "me.png", (24, 16))
    artgan("translate", "--ckpt", ckpt, "--in", photo, "--out", tmp_path / "back",
           "--direction", "b2a", "--side-by-side", "--device", "cpu")
    pair = pixels(tmp_path / "back" / "me.png")
    assert pair.shape == (16, 48, 3)
    assert np.array_equal(pair[:, :24], pixels(photo))  # input | output
    G = build()
    G.load_state_dict(torch.load(ckpt, weights_only=True)["generator"])
    assert np.abs(pair[:, 24:] - expected(G, photo, "b2a")).max() <= 1
    assert np.abs(pair[:, 24:] - expected(G, photo, "a2b")).max() > 10
    result = artgan("translate", "--ckpt", ckpt, "--in", photo, "--out", tmp_path / "me.jpg",
                    "--device", "cpu")
    assert "into " in result.output and Image.open(tmp_path / "me.jpg").format == "JPEG"


def test_the_ema_generator_is_used_when_the_checkpoint_has_one(tmp_path):
    raw, ema = build(seed=1), build(seed=2)
    ckpt = save_checkpoint(tmp_path / "ema.pt", raw, config_for("cyclegan", G_OPTIONS), ema=ema)
    photo = write(tmp_path / "p.png", (16, 16))
    artgan("translate", "--ckpt", ckpt, "--in", photo, "--out", tmp_path / "e.png",
           "--device", "cpu")
    artgan("translate", "--ckpt", ckpt, "--in", photo, "--out", tmp_path / "r.png",
           "--device", "cpu", "--no-ema")
    assert np.abs(pixels(tmp_path / "e.png") - expected(ema, photo)).max() <= 1
    assert np.abs(pixels(tmp_path / "r.png") - expected(raw, photo)).max() <= 1


def test_an_unconditional_checkpoint_is_refused_in_one_line(tmp_path):
    options = {"ngf": 8, "z_dim": 4}
    ckpt = save_checkpoint(tmp_path / "dcgan.pt", build("dcgan", options),
                           config_for("dcgan", options, loss="gan"))
    photo = write(tmp_path / "p.png", (16, 16))
    result = artgan("translate", "--ckpt", ckpt, "--in", photo, "--out", tmp_path / "o",
                    expect=2)
    assert "Error: this checkpoint's generator 'dcgan' makes images from noise" in result.output
    assert "artgan sample" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("case,message", [
    ("same", "--out is the same as --in"),
    ("inside", "is inside --in"),
    ("overwrite", "would overwrite the input"),
    ("direction", "--direction c2d: this model translates a2b or b2a"),
])
def test_bad_requests_are_clear_errors_and_write_nothing(tmp_path, ckpt, case, message):
    photos = tmp_path / "photos"
    photo = write(photos / "a.png", (16, 16))
    original = photo.read_bytes()
    out, extra = {"same": (photos, []), "inside": (photos / "styled", []),
                  "overwrite": (photos, []), "direction": (tmp_path / "o", ["--direction",
                                                                            "c2d"])}[case]
    source = photo if case == "overwrite" else photos
    result = artgan("translate", "--ckpt", ckpt, "--in", source, "--out", out, *extra,
                    expect=2)
    assert "Error: " in result.output and message in result.output
    assert "Traceback" not in result.output
    assert photo.read_bytes() == original and not (tmp_path / "o").exists()
    assert not (photos / "styled").exists()


class Pix2PixLike(Generator):
    """An image-to-image generator without the translation contract (one direction)."""

    def __init__(self, condition_channels=3):
        super().__init__(z_dim=0, resolution=16, channels=3,
                         condition_channels=condition_channels)
        self.w = torch.nn.Parameter(torch.tensor(0.5))

    def forward(self, z, y=None, condition=None):
        return self.w * condition[:, :3]


def test_translator_contract_for_other_image_to_image_models():
    step = translator(Pix2PixLike())
    x = torch.rand(1, 3, 9, 7) * 2 - 1
    assert step.direction == "a2b"
    assert torch.allclose(translate_image(step, x), 0.5 * x)
    with pytest.raises(TranslationError, match="one direction only, a2b"):
        translator(Pix2PixLike(), "b2a")
    with pytest.raises(TranslationError, match="inputs of 4 channels"):
        translator(Pix2PixLike(condition_channels=4))
    with pytest.raises(TranslationError, match="makes images from noise"):
        translator(build("dcgan", {"ngf": 8, "z_dim": 4}))


def test_sample_is_pointed_at_translate_for_translation_models():
    with pytest.raises(TranslationError, match="use it: run `artgan translate --ckpt RUN"):
        refuse_translation_model(build())
    refuse_translation_model(build("dcgan", {"ngf": 8, "z_dim": 4}))  # fine: draws from noise
