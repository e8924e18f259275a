"""Projection into a trained generator, latent files, and walking/sampling from them.

Recovery threshold: projecting one of the generator's own samples, from random starts
other than the sample's latent, must reproduce it at PSNR >= 40 dB (two different
samples of the test generator are 13-16 dB apart; measured: about 90 dB on float
images, about 59 dB through an 8-bit PNG, the quantisation limit).
"""

import re

import numpy as np
import pytest
import torch
from PIL import Image

import artgan as artgan_api
from artgan.core.sampling import latents
from artgan.restoration import RestoreError
from artgan.restoration.projection import (discriminator_features, latent_variations,
                                           load_latent, project, psnr)

from .helpers import artgan
from .restoration_helpers import generator, read, sample, save, structured_run, to_uint8

RECOVERY_DB = 40.0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("projection")
    return {"plain": structured_run(base), "cgan": structured_run(base, "cgan")}


def test_projection_recovers_a_sample_from_other_random_starts(runs):
    G, config, _ = generator(runs["plain"])
    features, note = discriminator_features(runs["plain"], config, artgan_api.load_plugins(), G)
    assert features is not None, note
    for seed in (11, 12):
        target = sample(G, seed)
        other = sample(G, seed + 100)
        assert psnr(other, target) < 20  # a different sample is far away
        found = project(G, target, features=features, steps=150, restarts=4, seed=3)
        starts = torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(3))
        assert (starts - latents(G, 1, seed=seed)).norm(dim=1).min() > 2  # truly elsewhere
        assert found.psnr >= RECOVERY_DB, found.psnr
        assert psnr(found.image, target) == pytest.approx(found.psnr)
        assert found.y is None and found.z.shape == (1, G.z_dim)


def test_projection_works_without_discriminator_features(runs):
    G, config, _ = generator(runs["plain"])
    other = config.replace(disc=type(config.components.disc)("python:mine.Critic", {}))
    features, note = discriminator_features(runs["plain"], other, artgan_api.load_plugins(), G)
    assert features is None and note.startswith("no discriminator features (")
    assert project(G, sample(G, 1), steps=3, restarts=1).psnr > 0


def test_conditional_projection_finds_the_class(runs):
    G, _, _ = generator(runs["cgan"])
    target = sample(G, seed=5, y=3)
    found = project(G, target, steps=120, restarts=2, seed=1)
    assert found.y == 3 and found.candidates == 2 * G.num_classes
    assert found.psnr >= RECOVERY_DB, found.psnr
    fixed = project(G, target, steps=8, restarts=2, seed=1, classes=[1])
    assert fixed.y == 1 and fixed.candidates == 2


def test_known_pixels_only(runs):
    G, _, _ = generator(runs["plain"])
    target = sample(G, 21)
    known = torch.ones(1, 1, 16, 16)
    known[..., 4:10, 5:12] = 0
    damaged = target.clone()
    damaged[..., 4:10, 5:12] = 1.0  # white damage the projection must not see
    found = project(G, damaged, known=known, steps=150, restarts=4, seed=2)
    assert found.psnr >= RECOVERY_DB  # PSNR over the known pixels
    hole = known == 0
    assert psnr(found.image, target, hole.float()) > 25  # and the hole comes back too


def test_project_command_writes_reconstruction_side_by_side_and_latent(runs, tmp_path):
    G, _, _ = generator(runs["plain"])
    image = save(to_uint8(sample(G, 31)), tmp_path / "painting.png")
    result = artgan("project", "--ckpt", runs["plain"], "--image", image, "--out",
                    tmp_path / "proj", "--steps", "150", "--device", "cpu")
    measured = float(re.search(r"PSNR (\d+\.\d) dB", result.output).group(1))
    assert measured >= RECOVERY_DB, result.output
    assert "16x16 image used at the model's 16x16 px" in result.output
    assert "features of discriminator 'dcgan'" in result.output
    recon = read(tmp_path / "proj" / "reconstruction.png")
    assert recon.shape == (16, 16, 3)
    assert np.abs(recon.astype(int) - read(image).astype(int)).max() <= 2
    with Image.open(tmp_path / "proj" / "side-by-side.png") as img:
        assert img.size == (16 * (2 * 16 + 2), 16 * 16)  # input | gap | reconstruction, x16
    data = torch.load(tmp_path / "proj" / "latent.pt", weights_only=True)
    assert data["z"].shape == (1, 16) and data["y"] is None and data["generator"] == "dcgan"
    assert data["z_dim"] == 16 and data["kind"] == "artgan-latent"
    assert data["checkpoint"] == str(runs["plain"].resolve())
    assert data["psnr"] == pytest.approx(measured, abs=0.06) and data["loss"] >= 0

    # a larger, non-square picture is centre-cropped and resized, and says so
    wide = Image.fromarray(read(image)).resize((40, 24), Image.Resampling.BICUBIC)
    wide.save(tmp_path / "wide.png")
    result = artgan("project", "--ckpt", runs["plain"], "--image", tmp_path / "wide.png",
                    "--out", tmp_path / "wide", "--steps", "5", "--restarts", "1",
                    "--device", "cpu", "--feature-weight", "0")
    assert "40x24 image centre-cropped to 24x24 and resized at the model's 16x16 px" in \
        result.output
    assert "no discriminator features (--feature-weight 0)" in result.output


def test_walk_and_sample_start_from_a_projected_latent(runs, tmp_path):
    G, _, _ = generator(runs["plain"])
    image = save(to_uint8(sample(G, 41)), tmp_path / "mine.png")
    artgan("project", "--ckpt", runs["plain"], "--image", image, "--out", tmp_path / "p",
           "--steps", "100", "--device", "cpu")
    latent = tmp_path / "p" / "latent.pt"
    recon = read(tmp_path / "p" / "reconstruction.png").astype(int)

    result = artgan("walk", "--ckpt", runs["plain"], "--from", latent, "--out",
                    tmp_path / "w.gif", "-n", "1", "--keyframes", "3", "--frames", "2",
                    "--device", "cpu")
    assert "6 frames" in result.output and f"from {latent}" in result.output
    artgan("walk", "--ckpt", runs["plain"], "--out", tmp_path / "plain.gif", "-n", "1",
           "--keyframes", "3", "--frames", "2", "--device", "cpu")

    def frame(path, i):
        with Image.open(path) as gif:
            gif.seek(i)
            assert gif.size == (16, 16)  # one walk: the grid is that tile alone
            return np.asarray(gif.convert("RGB"), dtype=int)

    walk0, plain0 = frame(tmp_path / "w.gif", 0), frame(tmp_path / "plain.gif", 0)
    assert np.abs(walk0 - recon).mean() < 8 < np.abs(plain0 - recon).mean()  # GIF palette
    assert np.abs(frame(tmp_path / "w.gif", 2) - recon).mean() > 8  # then it moves on

    result = artgan("sample", "--ckpt", runs["plain"], "--latent", latent, "-n", "4",
                    "--out", tmp_path / "near", "--device", "cpu")
    assert "around latent.pt" in result.output
    images = [read(tmp_path / "near" / f"sample-{i:04d}.png").astype(int) for i in range(4)]
    assert np.abs(images[0] - recon).max() <= 1  # the latent's own picture first
    assert all(np.abs(im - images[0]).mean() > 1 for im in images[1:])  # then variations
    artgan("sample", "--ckpt", runs["plain"], "--latent", latent, "-n", "3", "--spread", "0",
           "--out", tmp_path / "same", "--device", "cpu")
    same = [read(tmp_path / "same" / f"sample-{i:04d}.png") for i in range(3)]
    assert all((im == same[0]).all() for im in same)
    result = artgan("sample", "--ckpt", runs["plain"], "--spread", "0.5", "--out",
                    tmp_path / "x", "--device", "cpu", expect=2)
    assert "give --latent LATENT.pt too" in result.output


def test_latent_variations_keep_the_latent_first_and_the_prior_scale():
    z = torch.randn(1, 64, generator=torch.Generator().manual_seed(0))
    out = latent_variations(z, 200, 0.5, seed=1)
    assert torch.equal(out[0], z[0])
    assert out[1:].norm(dim=1).mean().item() == pytest.approx(z.norm().item(), rel=0.1)
    assert torch.equal(latent_variations(z, 5, 0.0)[4], z[0])


def test_bad_latents_are_refused_in_one_line(runs, tmp_path):
    G, _, _ = generator(runs["plain"])
    image = save(to_uint8(sample(G, 51)), tmp_path / "a.png")
    artgan("project", "--ckpt", runs["plain"], "--image", image, "--out", tmp_path / "p",
           "--steps", "2", "--restarts", "1", "--device", "cpu")
    good = torch.load(tmp_path / "p" / "latent.pt", weights_only=True)

    def variant(name, **changes):
        torch.save({**good, **changes}, tmp_path / name)
        return tmp_path / name

    (tmp_path / "notes.txt").write_text("not a latent")
    cases = [
        (tmp_path / "notes.txt", "cannot read latent"),
        (runs["plain"] / "checkpoints" / "last.pt", "is a checkpoint: give the latent.pt"),
        (variant("other.pt", generator="fastgan"), "projected into a 'fastgan' generator"),
        (variant("short.pt", z=torch.zeros(1, 8), z_dim=8), "has z_dim 8"),
        (variant("cond.pt", y=2), "comes from a conditional model (class 2)"),
    ]
    for path, message in cases:
        for command in (["walk", "--out", tmp_path / "w.gif", "--from", path],
                        ["sample", "--out", tmp_path / "s", "--latent", path]):
            result = artgan(command[0], "--ckpt", runs["plain"], *command[1:], "--device",
                            "cpu", expect=2)
            assert message in result.output and "Traceback" not in result.output
            assert len(result.output.strip().splitlines()) == 1, result.output
    # an unconditional latent for a conditional model
    Gc, _, _ = generator(runs["cgan"])
    with pytest.raises(RestoreError, match="comes from an unconditional model"):
        load_latent(variant("plain.pt", generator="cgan"), Gc)


def test_project_refuses_bad_input(runs, tmp_path):
    G, _, _ = generator(runs["plain"])
    image = save(to_uint8(sample(G, 61)), tmp_path / "reconstruction.png")
    (tmp_path / "notes.jpg").write_text("hello")
    cases = [
        (["--image", tmp_path / "notes.jpg", "--out", tmp_path / "p"], "not an image"),
        (["--image", image, "--out", tmp_path], "is the --image file"),
        (["--image", image, "--out", tmp_path / "p", "--class", "waves"],
         "--class needs a conditional model"),
    ]
    for args, message in cases:
        result = artgan("project", "--ckpt", runs["plain"], *args, "--device", "cpu",
                        expect=2)
        assert message in result.output and "Traceback" not in result.output, result.output
    assert read(image).shape == (16, 16, 3)  # untouched
    assert not (tmp_path / "p").exists()
