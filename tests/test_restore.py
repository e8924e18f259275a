"""Masked restoration: crops, feathered blending, --mask auto, bad input, restorer dispatch."""

import hashlib
import types

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from artgan import plugin_host
from artgan.core.checkpoint import load_checkpoint, save_atomic
from artgan.core.networks import Generator
from artgan.restoration import RestoreError
from artgan.restoration.images import Picture, check_model_channels
from artgan.restoration.inpaint import plan_crops
from artgan.restoration.masks import auto_mask, blend, feather_weights
from artgan.restoration.projection import psnr

from .helpers import artgan
from .restoration_helpers import generator, read, sample, save, structured_run, to_uint8

FAST = ["--steps", "20", "--restarts", "1", "--device", "cpu"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("restore")
    return {"rgb": structured_run(base), "grey": structured_run(base, channels=1)}


@pytest.fixture(scope="module")
def picture(runs, tmp_path_factory):
    """A 48x40 picture (a sample, enlarged), a copy with two white holes and their mask."""
    folder = tmp_path_factory.mktemp("pictures")
    G, _, _ = generator(runs["rgb"])
    clean = np.asarray(Image.fromarray(to_uint8(sample(G, 7))).resize(
        (48, 40), Image.Resampling.BICUBIC)).copy()
    mask = np.zeros((40, 48), dtype=bool)
    mask[10:18, 20:30] = True  # inside
    mask[30:36, 0:5] = True  # on the left edge
    damaged = clean.copy()
    damaged[mask] = 255
    save(clean, folder / "clean.png")
    save(damaged, folder / "damaged.png")
    save((mask * 255).astype(np.uint8), folder / "mask.png")
    return folder, clean, damaged, mask


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("feather", [6, 0])
def test_restore_keeps_every_pixel_outside_the_feathered_band(runs, picture, tmp_path,
                                                              feather):
    folder, _clean, damaged, mask = picture
    before = digest(folder / "damaged.png")
    out = tmp_path / "fixed.png"
    result = artgan("restore", "--ckpt", runs["rgb"], "--image", folder / "damaged.png",
                    "--mask", folder / "mask.png", "--out", out, "--feather", feather, *FAST)
    assert f"Restored {mask.sum()} damaged px" in result.output
    assert "in 2 crop(s)" in result.output and "damaged.png is unchanged" in result.output
    fixed = read(out)
    assert fixed.shape == damaged.shape
    distance = ndimage.distance_transform_edt(~mask)
    outside = distance > feather
    assert (fixed[outside] == damaged[outside]).all()  # bit-identical
    assert (fixed[mask] != 255).any(axis=-1).mean() > 0.9  # the white is gone
    if feather:
        band = (distance > 0) & (distance <= feather)
        assert (fixed[band] != damaged[band]).any()  # the seam is blended
    assert digest(folder / "damaged.png") == before


def test_a_hole_at_the_models_size_comes_back(runs, tmp_path):
    G, _, _ = generator(runs["rgb"])
    truth = to_uint8(sample(G, 9))
    damaged = truth.copy()
    damaged[5:11, 4:10] = 0  # black damage
    mask = np.zeros((16, 16), dtype=np.uint8)
    mask[5:11, 4:10] = 255
    save(damaged, tmp_path / "d.png")
    save(mask, tmp_path / "m.png")
    artgan("restore", "--ckpt", runs["rgb"], "--image", tmp_path / "d.png", "--mask",
           tmp_path / "m.png", "--out", tmp_path / "f.png", "--feather", "2", "--steps", "150",
           "--device", "cpu")
    fixed = torch.from_numpy(read(tmp_path / "f.png")).permute(2, 0, 1)[None] / 127.5 - 1
    hole = torch.from_numpy(mask > 0)[None, None].float()
    target = torch.from_numpy(truth).permute(2, 0, 1)[None] / 127.5 - 1
    assert psnr(fixed, target, hole) > 25  # the crop is the whole picture: G can redraw it


def test_plan_crops_cover_each_hole_and_its_band():
    mask = np.zeros((200, 300), dtype=bool)
    mask[20:30, 40:52] = True
    mask[33:36, 50:60] = True  # 3 px below the first: same crop
    mask[150:190, 250:298] = True  # large, near the corner
    labels, crops = plan_crops(mask, 64, feather=6, context=0.5)
    assert len(crops) == 2
    first, big = sorted(crops, key=lambda c: c.top)
    assert first.labels == (1, 2) and first.size == 64  # at least the model's resolution
    assert big.size == 48 * 2 and big.top + big.size == 200  # 0.5 x 48 each side; shifted in
    for crop in crops:
        hole = np.isin(labels, crop.labels)
        band = ndimage.distance_transform_edt(~hole) <= 6
        rows, cols = np.nonzero(band)
        assert crop.top <= rows.min() and rows.max() < crop.top + crop.size
        assert crop.left <= cols.min() and cols.max() < crop.left + crop.size
    # a picture smaller than the model: the crop is the picture's longer side
    small = np.zeros((20, 30), dtype=bool)
    small[5:8, 5:8] = True
    (_, [crop]) = plan_crops(small, 64, feather=2)
    assert crop.size == 30 and crop.top == -5 and crop.left == 0


def test_feather_weights_and_blend():
    mask = np.zeros((20, 20), dtype=bool)
    mask[8:12, 8:12] = True
    w = feather_weights(mask, 4)
    assert (w[mask] == 1).all() and w[0, 0] == 0 and w[8, 13] == pytest.approx(0.6)
    assert (w[ndimage.distance_transform_edt(~mask) > 4] == 0).all()
    original = np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    out = blend(original, np.full((20, 20, 3), 300.0), w)
    assert (out[w == 0] == original[w == 0]).all() and (out[mask] == 255).all()


def test_mask_auto_finds_a_white_blob_and_transparency(runs, tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(40, 200, (40, 48, 3), dtype=np.uint8)
    pixels[10:18, 20:30] = 255  # a white blob of 80 px
    pixels[30:32, 40:42] = 255  # a speck of 4 px: below the minimum area (16)
    found_mask, found = auto_mask(Picture(pixels, None, tmp_path / "x.png"))
    assert [(r.kind, r.area, r.left, r.top, r.width, r.height) for r in found] == \
        [("white", 80, 20, 10, 10, 8)]
    assert found_mask[10:18, 20:30].all() and found_mask[8, 18] and not found_mask[31, 41]
    alpha = np.full((40, 48), 255, dtype=np.uint8)
    alpha[25:35, 5:15] = 0
    _, found = auto_mask(Picture(pixels, alpha, tmp_path / "x.png"))
    assert sorted(r.kind for r in found) == ["transparent", "white"]

    # through the command, on an RGBA picture: the holes become opaque, the rest stays
    Image.fromarray(np.dstack([pixels, alpha])).save(tmp_path / "torn.png")
    result = artgan("restore", "--ckpt", runs["rgb"], "--image", tmp_path / "torn.png",
                    "--mask", "auto", "--out", tmp_path / "fixed.png", *FAST)
    first = result.output.splitlines()[0]
    assert first.startswith("--mask auto found 2 region(s): ")
    assert "white region of 80 px at x=20, y=10 (10x8)" in first
    assert "transparent region of 100 px at x=5, y=25 (10x10)" in first
    fixed = read(tmp_path / "fixed.png")
    assert fixed.shape == (40, 48, 4) and (fixed[25:35, 5:15, 3] == 255).all()
    far = ndimage.distance_transform_edt(~auto_mask(
        Picture(pixels, alpha, tmp_path / "x.png"))[0]) > 6
    assert (fixed[far] == np.dstack([pixels, alpha])[far]).all()


def test_grey_pictures_and_models(runs, picture, tmp_path):
    folder, _clean, damaged, mask = picture
    grey = np.asarray(Image.fromarray(damaged).convert("L"))
    save(grey, tmp_path / "grey.png")
    result = artgan("restore", "--ckpt", runs["rgb"], "--image", tmp_path / "grey.png",
                    "--mask", folder / "mask.png", "--out", tmp_path / "g.png", *FAST)
    assert "converted to grey" in result.output
    fixed = read(tmp_path / "g.png")
    assert fixed.shape == (40, 48)
    outside = ndimage.distance_transform_edt(~mask) > 6
    assert (fixed[outside] == grey[outside]).all()
    # a greyscale model restores a grey picture stored as RGB, but not a colour one
    save(np.repeat(grey[..., None], 3, axis=2), tmp_path / "grey-rgb.png")
    artgan("restore", "--ckpt", runs["grey"], "--image", tmp_path / "grey-rgb.png",
           "--mask", folder / "mask.png", "--out", tmp_path / "g2.png", *FAST)
    assert read(tmp_path / "g2.png").shape == (40, 48, 3)
    result = artgan("restore", "--ckpt", runs["grey"], "--image", folder / "damaged.png",
                    "--mask", folder / "mask.png", "--out", tmp_path / "g3.png", *FAST,
                    expect=2)
    assert "is greyscale (a --channels 1 run) but the image is in colour" in result.output
    with pytest.raises(RestoreError, match="makes 4-channel images"):
        check_model_channels(4, "generator 'x'")


def test_pictures_are_read_upright_and_in_8_bit(tmp_path):
    from artgan.restoration.images import read_image

    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    Image.new("RGB", (30, 20), (200, 10, 10)).save(tmp_path / "phone.jpg", exif=exif)
    picture = read_image(tmp_path / "phone.jpg")
    assert (picture.width, picture.height, picture.channels) == (20, 30, 3)
    deep = np.full((12, 14), 65535, dtype=np.uint16)
    deep[:, :7] = 257 * 10
    Image.fromarray(deep).save(tmp_path / "deep.png")
    picture = read_image(tmp_path / "deep.png")
    assert picture.pixels.dtype == np.uint8 and picture.pixels[0, 0, 0] == 10
    assert picture.pixels[0, -1, 0] == 255 and "16-bit" in picture.notes[0]


def test_bad_input_gives_one_clear_line(runs, picture, tmp_path):
    folder, _clean, damaged, mask = picture
    save(np.zeros((20, 24), np.uint8), tmp_path / "small-mask.png")
    save(np.zeros((40, 48), np.uint8), tmp_path / "empty-mask.png")
    full = np.full((40, 48), 255, np.uint8)
    full[0, :10] = 0  # 10 known pixels of 1920
    save(full, tmp_path / "full-mask.png")
    (tmp_path / "notes.png").write_text("not a picture")
    save(np.full((40, 48, 3), 120, np.uint8), tmp_path / "plain.png")
    image, good_mask = folder / "damaged.png", folder / "mask.png"
    cases = [
        (["--image", image, "--mask", tmp_path / "small-mask.png"],
         "--mask small-mask.png is 24x20 px but --image damaged.png is 48x40"),
        (["--image", image, "--mask", tmp_path / "empty-mask.png"], "marks no pixel as damaged"),
        (["--image", image, "--mask", tmp_path / "full-mask.png"],
         "too little of the picture is left"),
        (["--image", tmp_path / "notes.png", "--mask", good_mask], "--image"),
        (["--image", image, "--mask", tmp_path / "notes.png"], "--mask"),
        (["--image", image, "--mask", tmp_path / "missing.png"], "file not found"),
        (["--image", image], "give --mask PATH (white = damaged) or --mask auto"),
        (["--image", tmp_path / "plain.png", "--mask", "auto"], "--mask auto found no damage"),
        (["--image", image, "--mask", good_mask, "--class", "waves"],
         "--class needs a conditional model"),
    ]
    out = tmp_path / "out.png"
    for args, message in cases:
        result = artgan("restore", "--ckpt", runs["rgb"], *args, "--out", out, *FAST, expect=2)
        assert message in result.output, result.output
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    for args in (["--image", tmp_path / "notes.png"], ["--mask", tmp_path / "notes.png"]):
        result = artgan("restore", "--ckpt", runs["rgb"], "--image", image, "--mask",
                        good_mask, *args, "--out", out, *FAST, expect=2)
        assert "not an image" in result.output
    assert not out.exists()


def test_nothing_overwrites_the_input(runs, picture, tmp_path):
    folder, _clean, damaged, mask = picture
    image = tmp_path / "damaged.png"
    image.write_bytes((folder / "damaged.png").read_bytes())
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.png").symlink_to(image)
    before = digest(image)
    for out, flag in [(image, "--image"), (tmp_path / "sub" / ".." / "damaged.png", "--image"),
                      (tmp_path / "link.png", "--image"), (folder / "mask.png", "--mask")]:
        result = artgan("restore", "--ckpt", runs["rgb"], "--image", image, "--mask",
                        folder / "mask.png", "--out", out, *FAST, expect=2)
        assert f"is the {flag} file: artgan never writes over its input" in result.output
    result = artgan("restore", "--ckpt", runs["rgb"], "--image", image, "--mask",
                    folder / "mask.png", "--out", tmp_path / "fixed.jpg", *FAST, expect=2)
    assert "write the restored image losslessly" in result.output
    assert digest(image) == before


# -- dispatch to an image-to-image restorer -------------------------------------------------

class FakeRestorer(Generator):
    """Image-to-image: input image and mask channel; paints the holes mid-grey."""

    def __init__(self, options=None, *, resolution, channels, num_classes=0, extra=1):
        super().__init__(z_dim=0, resolution=resolution, channels=channels,
                         condition_channels=channels + extra)
        self.gain = torch.nn.Parameter(torch.ones(1))

    def forward(self, z, y=None, condition=None):
        image, damaged = condition[:, :-1], condition[:, -1:] > 0
        return torch.where(damaged, torch.zeros_like(image), image) * self.gain


class WrongRestorer(FakeRestorer):
    def __init__(self, options=None, *, resolution, channels, num_classes=0):
        super().__init__(options, resolution=resolution, channels=channels, extra=2)


@pytest.fixture
def restorer_run(runs, tmp_path, monkeypatch):
    """Checkpoints of the fake restorers, registered through an entry point, and a fake
    ``restore_with_network`` that records its calls."""
    from artgan import hookimpl

    @hookimpl
    def register_generators(register):
        register("fake-restorer", FakeRestorer)
        register("wrong-restorer", WrongRestorer)

    plugin = types.ModuleType("fake_restorer_plugin")
    plugin.register_generators = register_generators
    ep = types.SimpleNamespace(name="fake-restorer", value="fake_restorer_plugin",
                               load=lambda: plugin,
                               dist=types.SimpleNamespace(name="artgan-fake", version="1.0"))
    monkeypatch.setattr(plugin_host.metadata, "entry_points",
                        lambda group: [ep] if group == "artgan" else [])
    plugin_host.reset()
    paths = {}
    for name, cls in (("fake-restorer", FakeRestorer), ("wrong-restorer", WrongRestorer)):
        ckpt = load_checkpoint(runs["rgb"])
        ckpt["config"]["components"]["gen"] = {"name": name, "options": {}, "argument": None}
        ckpt["generator"] = cls(resolution=16, channels=3).state_dict()
        ckpt.pop("generator_ema", None)
        paths[name] = save_atomic(ckpt, tmp_path / f"{name}.pt")

    calls = []

    def restore_with_network(G, image, mask=None, *, tile=512, overlap=32):
        calls.append({"G": G, "image": image, "mask": mask, "tile": tile, "overlap": overlap})
        if mask is None:
            mask = torch.zeros_like(image[:, :1])
        return G(torch.zeros(1, 0), None, torch.cat([image, mask * 2 - 1], 1))

    from artgan.restoration import inpaint

    monkeypatch.setattr(inpaint, "restore_with_network", restore_with_network)
    return paths, calls


def test_a_restorer_checkpoint_runs_the_network(restorer_run, picture, tmp_path):
    paths, calls = restorer_run
    folder, _clean, damaged, mask = picture
    result = artgan("restore", "--ckpt", paths["fake-restorer"], "--image",
                    folder / "damaged.png", "--mask", folder / "mask.png", "--out",
                    tmp_path / "n.png", "--tile", "64", "--overlap", "8", "--device", "cpu")
    assert "with restorer fake-restorer" in result.output
    [call] = calls
    assert call["G"].image_conditioned and (call["tile"], call["overlap"]) == (64, 8)
    assert call["image"].shape == (1, 3, 40, 48) and call["image"].min() >= -1
    assert call["mask"].shape == (1, 1, 40, 48)
    assert torch.equal(call["mask"][0, 0], torch.from_numpy(mask).float())  # 1 = damaged
    fixed = read(tmp_path / "n.png")
    outside = ndimage.distance_transform_edt(~mask) > 6
    assert (fixed[outside] == damaged[outside]).all()
    assert (np.abs(fixed[mask].astype(int) - 128) <= 1).all()  # the network's grey

    # without a mask the network decides, and its output is the result
    result = artgan("restore", "--ckpt", paths["fake-restorer"], "--image",
                    folder / "damaged.png", "--out", tmp_path / "n2.png", "--device", "cpu")
    assert calls[-1]["mask"] is None and "the network decided" in result.output
    assert (read(tmp_path / "n2.png") == damaged).all()

    result = artgan("restore", "--ckpt", paths["wrong-restorer"], "--image",
                    folder / "damaged.png", "--out", tmp_path / "n3.png", "--device", "cpu",
                    expect=2)
    assert "taking 5 input channels, not a restorer" in result.output
    result = artgan("project", "--ckpt", paths["fake-restorer"], "--image",
                    folder / "damaged.png", "--out", tmp_path / "p", "--device", "cpu",
                    expect=2)
    assert "without a latent space to project into" in result.output


