"""The folder data source: every image kind decodes correctly, dirty files are skipped."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile, features

from artgan.core.data import DataSourceError
from artgan.plugins.data import FolderOptions
from artgan.plugins.folder import FolderDataSource

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
HAS_WEBP = features.check("webp")


def load(path, resolution=16, channels=3, **options):
    return FolderDataSource.from_spec(str(path), FolderOptions(**options),
                                      resolution=resolution, channels=channels, seed=0)


def pixels(data) -> np.ndarray:
    """All images as (N, R, R, C) float in [0, 255], through the trainer's load_batch."""
    images, _ = data.load_batch(torch.arange(len(data)))
    return ((images + 1) * 127.5).permute(0, 2, 3, 1).numpy()


def solid(color, size=(32, 32), mode="RGB"):
    return Image.new(mode, size, color)


def halves(size, left, right, mode="RGB"):
    """An image whose left half is ``left`` and right half ``right``."""
    img = Image.new(mode, size, left)
    img.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return img


def noise(size=(64, 64)):
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (*size, 3), np.uint8))


def close(value, expected, tol=12):
    return np.all(np.abs(np.asarray(value, float) - np.asarray(expected, float)) <= tol)


# --- one image per format: colours come out right --------------------------------------

def one(tmp_path, name, img, **save):
    img.save(tmp_path / name, **save)
    data = load(tmp_path)
    assert len(data) == 1 and data.skipped.count == 0
    return pixels(data)[0]


def test_rgb_jpeg_bmp_tiff(tmp_path):
    for name in ("a.jpg", "b.bmp", "c.tif", "d.TIFF", "e.JPEG"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        solid((200, 40, 90)).save(tmp_path / name)
    data = load(tmp_path)
    assert len(data) == 5 and data.files == ["a.jpg", "b.bmp", "c.tif", "d.TIFF", "e.JPEG"]
    assert close(pixels(data)[:, 8, 8], [(200, 40, 90)] * 5, tol=6)


@pytest.mark.skipif(not HAS_WEBP, reason="Pillow built without WEBP")
def test_webp(tmp_path):
    assert close(one(tmp_path, "x.webp", solid((10, 120, 240)), lossless=True)[8, 8],
                 (10, 120, 240), tol=2)


def test_rgba_png_is_composited_on_white(tmp_path):
    img = halves((32, 32), (255, 0, 0, 255), (0, 0, 0, 0), mode="RGBA")
    out = one(tmp_path, "x.png", img)
    assert close(out[8, 2], RED) and close(out[8, 13], WHITE)


def test_palette_png_with_transparency(tmp_path):
    img = Image.new("P", (32, 32), 0)
    img.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)  # index 0: black, 1: green
    img.paste(1, (0, 0, 16, 32))
    out = one(tmp_path, "x.png", img, transparency=0)  # black is transparent
    assert close(out[8, 2], GREEN) and close(out[8, 13], WHITE)


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 64).round().astype(np.uint16)
    img = Image.fromarray(np.tile(ramp, (64, 1)))
    assert img.mode == "I;16"
    img.save(tmp_path / "x.png")
    out = pixels(load(tmp_path, resolution=32, channels=1))[0, ..., 0]
    assert out.max() >= 245 and out.min() <= 10
    assert abs(out.mean() - 127.5) < 10  # clipping to 255 would give a mean near 250


@pytest.mark.parametrize("mode, low, high", [("I", 0, 1_000_000), ("F", -2.0, 6.0),
                                              ("I", 0, 4095)])  # 32-bit, HDR float, 12-bit
def test_32_bit_and_float_tiffs_are_stretched_not_blank(tmp_path, mode, low, high):
    ramp = np.linspace(low, high, 64)
    img = Image.fromarray(np.tile(ramp, (64, 1)).astype(np.int32 if mode == "I" else
                                                          np.float32), mode=mode)
    img.save(tmp_path / "x.tif")
    out = pixels(load(tmp_path, resolution=32, channels=1))[0, ..., 0]
    assert out.max() >= 245 and out.min() <= 10 and abs(out.mean() - 127.5) < 10


def test_cmyk_jpeg(tmp_path):
    out = one(tmp_path, "x.jpg", solid((255, 0, 0, 0), mode="CMYK"), quality=95)  # cyan
    assert close(out[8, 8], (0, 255, 255), tol=20)


def test_greyscale_image_gives_three_equal_channels(tmp_path):
    assert close(one(tmp_path, "x.png", solid(100, mode="L"))[8, 8], (100, 100, 100), tol=1)


def test_gif_uses_first_frame(tmp_path):
    out = one(tmp_path, "x.gif", solid(RED), save_all=True, append_images=[solid(BLUE)],
              duration=100)
    with Image.open(tmp_path / "x.gif") as gif:
        assert gif.n_frames == 2
    assert close(out[8, 8], RED)


@pytest.mark.parametrize("orientation, top, bottom", [(6, RED, BLUE), (8, BLUE, RED)])
def test_exif_rotation_is_applied(tmp_path, orientation, top, bottom):
    exif = Image.Exif()
    exif[0x0112] = orientation  # 6: rotate 90 CW to display, 8: 90 CCW
    out = one(tmp_path, "x.jpg", halves((80, 40), RED, BLUE), exif=exif, quality=95)
    assert close(out[2, :], [top] * 16, tol=25) and close(out[13, :], [bottom] * 16, tol=25)


def test_centre_crop_removes_outer_quarters(tmp_path):
    img = Image.new("RGB", (64, 32), RED)
    img.paste(GREEN, (0, 0, 16, 32))
    img.paste(BLUE, (48, 0, 64, 32))
    out = one(tmp_path, "x.png", img)
    assert close(out[:, 2:14], RED, tol=3)
    assert np.all(out[..., 0] > out[..., 1] + 100) and np.all(out[..., 0] > out[..., 2] + 100)


def test_big_jpeg_is_decoded_at_reduced_size(tmp_path, drafted):
    out = one(tmp_path, "x.jpg", halves((1024, 512), RED, BLUE), quality=95)
    assert drafted and min(drafted[0]) < 512 and min(drafted[0]) >= 16
    assert close(out[8, 1], RED, tol=25) and close(out[8, 14], BLUE, tol=25)


def painting(size=(480, 360), seed=0):
    """Smooth colour waves plus 8-pixel brush noise: realistic work for a JPEG decoder."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([128 + 90 * np.sin(x / (w / 5) + c) * np.cos(y / (h / 3) - c)
                     for c in (0, 1, 2)], -1)
    brush = np.random.default_rng(seed).normal(0, 20, (h // 8 + 1, w // 8 + 1, 3))
    base += np.kron(brush, np.ones((8, 8, 1)))[:h, :w]
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


@pytest.fixture
def drafted(monkeypatch):
    """The sizes JPEGs were drafted to (the real draft still runs)."""
    from PIL import JpegImagePlugin
    sizes = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    return sizes


@pytest.mark.parametrize("resolution", [16, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_draft_decoding_matches_full_decoding(tmp_path, drafted, resolution, channels):
    painting().save(tmp_path / "p.jpg", quality=90)
    fast = load(tmp_path, resolution, channels, draft=True, cache=False)
    assert drafted and min(drafted[0]) < 360 and min(drafted[0]) >= 3 * resolution
    drafted.clear()
    full = load(tmp_path, resolution, channels, draft=False, cache=False)
    assert not drafted
    assert fast.images.shape == full.images.shape == (1, channels, resolution, resolution)
    assert fast.images.dtype == full.images.dtype == torch.uint8
    # measured: mean 0.3, max 4 grey levels; drafting to just >= the resolution (no margin)
    # gives mean 2-4, max 8-23 on this picture
    diff = (fast.images.float() - full.images.float()).abs()
    assert diff.mean() <= 1.0 and diff.max() <= 6


# stored = upright turned by the inverse of what EXIF orientation N asks a viewer to do
_UNDO_ORIENTATION = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.TRANSPOSE,
                     6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
                     8: Image.Transpose.ROTATE_270}


@pytest.mark.parametrize("orientation", sorted(_UNDO_ORIENTATION))
def test_exif_rotated_big_jpeg_with_draft_is_upright(tmp_path, drafted, orientation):
    # upright: a portrait whose centre square has four coloured quadrants, grey above/below
    upright = Image.new("RGB", (240, 480), (128, 128, 128))
    for colour, (x, y) in zip((RED, GREEN, BLUE, WHITE), ((0, 120), (120, 120), (0, 240),
                                                        (120, 240))):
        upright.paste(colour, (x, y, x + 120, y + 120))
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = upright.transpose(_UNDO_ORIENTATION[orientation])
    stored.save(tmp_path / "x.jpg", exif=exif, quality=95)
    out = pixels(load(tmp_path, cache=False))[0]
    assert drafted and drafted[0][0] * 2 <= stored.size[0]  # really decoded at reduced size
    assert close(out[3, 3], RED, 30) and close(out[3, 12], GREEN, 30)
    assert close(out[12, 3], BLUE, 30) and close(out[12, 12], WHITE, 30)


def test_upscales_small_but_allowed_images(tmp_path):
    assert close(one(tmp_path, "x.png", solid(BLUE, (10, 12)))[8, 8], BLUE, tol=2)


# --- a dirty folder ----------------------------------------------------------------------

def make_dirty_folder(root):
    good = {"rgb.jpg": solid(RED), "rgba.png": solid((0, 255, 0, 128), mode="RGBA"),
            "grey.png": solid(90, mode="L"), "cmyk.jpg": solid((0, 0, 0, 0), mode="CMYK"),
            "pic.bmp": solid(BLUE), "pic.tif": solid(GREEN), "pic.gif": solid(RED),
            "sub/deep/UPPER.PNG": solid(BLUE)}
    if HAS_WEBP:
        good["pic.webp"] = solid(RED)
    for name, img in good.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        img.save(root / name)
    buffer = io.BytesIO()
    noise().save(buffer, format="JPEG")
    (root / "truncated.jpg").write_bytes(buffer.getvalue()[:len(buffer.getvalue()) // 2])
    (root / "empty.png").write_bytes(b"")
    (root / "notes.jpg").write_text("not a picture\n")
    solid(RED, (4, 4)).save(root / "tiny.png")
    (root / "readme.txt").write_text("ignored")
    solid(RED).save(root / ".hidden.png")
    (root / ".git").mkdir()
    solid(RED).save(root / ".git" / "x.png")
    return sorted(good)


def test_dirty_folder_keeps_exactly_the_good_images(tmp_path):
    good = make_dirty_folder(tmp_path)
    data = load(tmp_path, labels="none", workers=3)
    assert sorted(data.files) == good and len(data) == len(good)
    assert data.skipped.count == 4
    reasons = dict(data.skipped.examples)
    assert set(reasons) == {"truncated.jpg", "empty.png", "notes.jpg", "tiny.png"}
    assert reasons["truncated.jpg"].startswith("corrupt or truncated: ")
    assert reasons["empty.png"] == "empty file"
    assert reasons["notes.jpg"].startswith("not an image")
    assert reasons["tiny.png"] == "too small (4x4)"
    assert data.labels is None and ImageFile.LOAD_TRUNCATED_IMAGES is False
    # labels=auto: most images lie directly in PATH, so 'sub' is not a class of its own
    auto = load(tmp_path, workers=3)
    assert auto.labels is None and sorted(auto.files) == good
    # labels=subfolders: 'sub' is the only class; images directly in PATH are skipped
    classes = load(tmp_path, labels="subfolders", workers=3)
    assert classes.class_names == ["sub"] and classes.files == ["sub/deep/UPPER.PNG"]
    assert classes.skipped.count == len(good) - 1 + 4


def test_min_side_option(tmp_path):
    solid(RED, (20, 20)).save(tmp_path / "a.png")
    solid(RED, (40, 40)).save(tmp_path / "b.png")
    data = load(tmp_path, min_side=30)
    assert data.files == ["b.png"] and data.skipped.examples == [("a.png", "too small (20x20)")]


def test_max_megapixels_guard(tmp_path):
    solid(RED, (20, 20)).save(tmp_path / "ok.png")
    solid(RED, (100, 100)).save(tmp_path / "big.png")
    data = load(tmp_path, max_megapixels=0.001)
    assert data.files == ["ok.png"]
    assert data.skipped.examples == [("big.png", "too large (100 x 100, decompression-bomb guard)")]


def test_pillow_bomb_limit_neither_raises_nor_warns(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    solid(RED, (40, 40)).save(tmp_path / "warns.png")  # 1600 px: Pillow would warn
    solid(RED, (100, 100)).save(tmp_path / "raises.png")  # > 2000 px: Pillow would raise
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load(tmp_path)
    assert data.files == ["warns.png"] and data.skipped.count == 1
    assert data.skipped.examples[0][1].startswith("too large")
    assert Image.MAX_IMAGE_PIXELS == 1000


# --- shapes, ranges, order ---------------------------------------------------------------

@pytest.mark.parametrize("resolution", [16, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_batches_shape_and_range(tmp_path, resolution, channels):
    noise((50, 70)).save(tmp_path / "a.png")
    solid(WHITE, (30, 60)).save(tmp_path / "b.jpg")
    data = load(tmp_path, resolution=resolution, channels=channels)
    images, labels = data.load_batch(torch.arange(2))
    assert images.shape == (2, channels, resolution, resolution) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1 and labels is None
    assert data.images.dtype == torch.uint8 and data.resolution == resolution
    assert images[1].min() > 0.95  # white -> 1


def test_greyscale_output_of_colour_image(tmp_path):
    solid(RED).save(tmp_path / "x.png")
    out = pixels(load(tmp_path, channels=1))[0]
    assert out.shape == (16, 16, 1) and close(out, 76, tol=2)  # ITU-R 601 luma of red


def test_parallel_decoding_keeps_file_order(tmp_path):
    for i in range(12):
        solid(i * 20, mode="L").save(tmp_path / f"img{i:02d}.png")
    data = load(tmp_path, channels=1, workers=4)
    assert data.files == [f"img{i:02d}.png" for i in range(12)]
    assert close(pixels(data)[:, 8, 8, 0], [i * 20 for i in range(12)], tol=1)


# --- errors before training ----------------------------------------------------------------

def test_errors(tmp_path):
    with pytest.raises(DataSourceError, match=r"folder needs a path: --data folder:PATH"):
        load("")
    with pytest.raises(DataSourceError, match=r"folder not found: .*missing"):
        load(tmp_path / "missing")
    solid(RED).save(tmp_path / "file.png")
    with pytest.raises(DataSourceError, match=r"not a folder: .*file\.png"):
        load(tmp_path / "file.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(DataSourceError, match=r"no images found in .*empty \(looked for .jpg"):
        load(tmp_path / "empty")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"")
    (tmp_path / "broken" / "b.jpg").write_text("text")
    with pytest.raises(DataSourceError, match=r"none of the 2 image files in .*broken could be "
                                              r"used; first problems: a\.png \(empty file\)"):
        load(tmp_path / "broken")
