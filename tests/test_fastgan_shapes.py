"""FastGAN's shapes: RGBA in and out, and non-square training with --aspect."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from artgan.core.checkpoint import load_checkpoint
from artgan.core.config import ConfigError
from artgan.core.data import InMemoryDataSource
from artgan.core.image_files import resize_crop
from artgan.plugins.fastgan import FastGANDiscriminatorOptions, FastGANGeneratorOptions
from artgan.plugins.fastgan_nets import FastGANDiscriminator, FastGANGenerator

from .helpers import artgan, resolved
from .test_fastgan_features import FAST, noisy_generator

# -- RGBA -----------------------------------------------------------------------------

def rgba_folder(folder, count=6, size=(48, 40)):
    """Discs of colour on transparent ground, each with its own soft alpha, and one
    opaque RGB picture."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size[1], :size[0]]
    for i in range(count):
        pixels = np.zeros((size[1], size[0], 4), np.uint8)
        pixels[..., :3] = rng.integers(0, 256, 3)
        radius = 6 + 2 * i
        pixels[..., 3] = np.clip(255 * (radius - np.hypot(yy - size[1] / 2, xx - size[0] / 2))
                                 / 4, 0, 255).astype(np.uint8)
        Image.fromarray(pixels, "RGBA").save(folder / f"disc-{i}.png")
    Image.fromarray(np.full((size[1], size[0], 3), 90, np.uint8)).save(folder / "opaque.png")
    return folder


def test_rgba_round_trip_alpha_in_alpha_out(tmp_path):
    from artgan.plugins.folder import FolderDataSource

    folder = rgba_folder(tmp_path / "art")
    data = FolderDataSource(str(folder), resolution=64, channels=4)
    alpha = data.images[:, 3]
    assert data.images.shape == (7, 4, 64, 64)
    opaque = data.files.index("opaque.png")
    assert alpha[opaque].min() == 255 and alpha[0].min() == 0 and alpha[0].max() == 255
    run = tmp_path / "run"
    artgan("run", *FAST, "--data", f"folder:{folder}", "--channels", "4", "--max-steps", "2",
           "--out", run)
    assert Image.open(run / "samples" / "final.png").mode == "RGBA"
    artgan("sample", "--ckpt", run, "-n", "3", "--out", tmp_path / "s")
    sample = Image.open(tmp_path / "s" / "sample-0000.png")
    assert sample.mode == "RGBA" and sample.size == (64, 64)
    assert np.asarray(sample)[..., 3].std() > 0  # a real alpha channel, not a constant
    assert Image.open(tmp_path / "s-grid.png").mode == "RGBA"
    artgan("walk", "--ckpt", run, "-n", "1", "--keyframes", "2", "--frames", "1",
           "--out", tmp_path / "w.gif")  # GIF frames flattened on white
    result = artgan("eval", "--fake", tmp_path / "s", "--real", f"folder:{folder}",
                    "-m", "ms-ssim", "--json")
    assert '"ms_ssim"' in result.output


def test_rgba_for_inception_and_gifs_is_composited_on_white():
    from artgan.core.images import flatten_on_white

    x = torch.tensor([-1.0, 1.0, 0.0, -1.0]).view(1, 4, 1, 1)  # fully transparent
    assert torch.equal(flatten_on_white(x), torch.ones(1, 3, 1, 1))
    x[0, 3] = 1.0  # opaque: the colour itself
    assert torch.equal(flatten_on_white(x), x[:, :3])
    from artgan.metrics.inception import FIDInception

    net = FIDInception.__new__(FIDInception)
    net.input_mode = "pytorch-fid"
    assert net.preprocess(torch.zeros(2, 4, 8, 8)).shape == (2, 3, 299, 299)


def test_demo_data_at_four_channels_is_opaque():
    from artgan.plugins.demo import DemoDataSource

    data = DemoDataSource(size=4, resolution=16, channels=4)
    assert data.images.shape == (4, 4, 16, 16) and data.images[:, 3].min() == 255


# -- --aspect -------------------------------------------------------------------------

def test_fastgan_networks_at_non_square_sizes():
    for width, patches in ((32, 10), (96, 90), (128, 130)):  # 1:2, 3:2, 2:1
        G = noisy_generator(width=width)
        D = FastGANDiscriminator(FastGANDiscriminatorOptions(ndf=4), resolution=64,
                                 channels=3, width=width)
        with torch.no_grad():
            x = G(torch.randn(2, 8))
            scores, extra = D.score_real(x)
            mixed = G.style_mix(torch.randn(2, 8), torch.randn(2, 8))
        assert x.shape == mixed.shape == (2, 3, 64, width)
        assert scores.shape == (2, patches) and torch.isfinite(extra["loss"])
    with pytest.raises(ValueError, match="2 to 16 quarters of the height"):
        FastGANGenerator(FastGANGeneratorOptions(ngf=4), resolution=64, channels=3, width=85)


def test_aspect_is_resolved_and_refused_where_it_cannot_work(tmp_path):
    folder = rgba_folder(tmp_path / "art")
    config = resolved(gen="fastgan", data=f"folder:{folder}", resolution=64, aspect="3/2")
    assert config.image.aspect == "3:2" and config.image.width == 96
    assert resolved(gen="fastgan", data=f"folder:{folder}").image.square
    with pytest.raises(ConfigError, match="--gen dcgan makes and judges square images only"):
        resolved(gen="dcgan", data=f"folder:{folder}", resolution=64, aspect="3:2")
    with pytest.raises(ConfigError, match="4:3 and 16:9 are not"):
        resolved(gen="fastgan", data=f"folder:{folder}", resolution=64, aspect="4:3")
    with pytest.raises(ConfigError, match="--data demo gives square images only"):
        resolved(gen="fastgan", data="demo", resolution=64, aspect="2:1")
    images = torch.zeros(4, 3, 64, 128, dtype=torch.uint8)  # a data object says its aspect
    assert resolved(gen="fastgan", data=InMemoryDataSource(images)).image.aspect == "2:1"


def test_folder_crops_or_pads_to_the_aspect():
    picture = Image.new("RGB", (200, 100), (255, 0, 0))
    picture.paste((0, 0, 255), (0, 0, 50, 100))  # blue left quarter
    cropped = np.asarray(resize_crop(picture, 64, 96))  # 3:2 from 2:1: sides cut off
    assert cropped.shape == (64, 96, 3) and cropped[32, 2, 2] > 200  # still blue at left
    padded = np.asarray(resize_crop(picture, 64, 64, fit="pad"))  # whole picture on white
    assert padded.shape == (64, 64, 3) and (padded[2, 32] == 255).all()  # white band
    assert padded[32, 2, 2] > 200 and padded[32, 60, 0] > 200
    rgba = resize_crop(Image.new("RGBA", (100, 100), (9, 9, 9, 255)), 32, 64, fit="pad")
    assert np.asarray(rgba)[16, 2, 3] == 0  # transparent padding


def test_non_square_fastgan_run_sample_and_walk(tmp_path):
    folder = rgba_folder(tmp_path / "art", size=(60, 40))
    run = tmp_path / "run"
    out = artgan("run", *FAST, "--data", f"folder:{folder}", "--aspect", "3:2",
                 "-o", "data.fit=pad", "--max-steps", "2", "--out", run).output
    assert "96x64px" in out
    assert load_checkpoint(run)["config"]["image"]["aspect"] == "3:2"
    artgan("sample", "--ckpt", run, "-n", "2", "--out", tmp_path / "s")
    assert Image.open(tmp_path / "s" / "sample-0001.png").size == (96, 64)
    artgan("sample", "--ckpt", run, "--mix", "-n", "2", "--out", tmp_path / "m")
    artgan("walk", "--ckpt", run, "-n", "1", "--keyframes", "2", "--frames", "1",
           "--out", tmp_path / "w.gif")
    assert Image.open(tmp_path / "w.gif").size == (96, 64)  # one tile: no gaps
    result = artgan("eval", "--ckpt", run, "-n", "4", "-m", "ms-ssim", "-o",
                    "ms-ssim.num_pairs=4")
    assert "96x64px" in result.output
