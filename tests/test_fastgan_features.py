"""FastGAN with the rest of artgan: DiffAugment, ADA, EMA, R1, metrics, resume (bit for
bit), bf16, two processes, sample (also --mix and RGBA), walk, and --aspect; plus the
reproducibility of the generator's own noise in everything that samples.

Tiny settings throughout: 64 px (FastGAN's smallest), ngf = ndf = 8, z_dim 16, batch 4,
16 demo images, a few steps.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from artgan.core.checkpoint import load_checkpoint
from artgan.core.sampling import MixError, latents, mixing_grid, sample_images
from artgan.core.walk import render_walk
from artgan.plugins.dcgan import GeneratorOptions
from artgan.plugins.dcgan_nets import DCGANGenerator
from artgan.plugins.fastgan import FastGANGeneratorOptions
from artgan.plugins.fastgan_layers import NoiseInjection
from artgan.plugins.fastgan_nets import FastGANGenerator

from .helpers import artgan, read_stats
from .test_distributed import needs_gloo, torchrun

FAST = ["--gen", "fastgan", "--resolution", "64", "--batch-size", "4", "-o", "gen.ngf=8",
        "-o", "gen.z_dim=16", "-o", "disc.ndf=8", "--log-every", "1", "--device", "cpu",
        "--recipe", "none"]
DEMO = [*FAST, "-o", "data.size=16"]
#: everything a small-data run uses, and a metric, at once
FEATURES = ["--augment", "color,translation,cutout", "--ada-target", "0.6", "--ada-ramp",
            "64", "--ema", "--ema-decay", "0.9", "--r1", "1", "--r1-every", "2",
            "--metric", "ms-ssim", "--eval-every", "2", "--eval-images", "8",
            "-o", "ms-ssim.num_pairs=8"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One thread (as tests/test_fastgan.py), set before the module's shared run: two
    threads on a loaded 2-core machine were 10x slower, and a run and its resumed copy
    must use the same number of threads to agree bit for bit."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def noisy_generator(**shape) -> FastGANGenerator:
    G = FastGANGenerator(FastGANGeneratorOptions(ngf=4, z_dim=8),
                         **{"resolution": 64, "channels": 3, **shape}).eval()
    with torch.no_grad():  # the noise strengths start at 0: make the noise matter
        for module in G.modules():
            if isinstance(module, NoiseInjection):
                module.weight.fill_(0.5)
    return G


# -- the generator's own noise: reproducible whatever the global random state ----------

def test_samples_of_a_seed_are_the_same_whatever_the_global_random_state():
    G = noisy_generator()
    torch.manual_seed(1)
    first = sample_images(G, 5, seed=3, batch_size=2)
    torch.manual_seed(2)
    torch.rand(1000)
    before = torch.get_rng_state()
    again = sample_images(G, 5, seed=3, batch_size=2)
    assert torch.equal(first, again)
    assert torch.equal(torch.get_rng_state(), before)  # the global stream is untouched
    assert not torch.equal(first, sample_images(G, 5, seed=4, batch_size=2))
    # the noise is in use: the same latents with another noise seed give other images
    z = latents(G, 2, seed=3)
    with torch.no_grad():
        assert not torch.allclose(G(z), first[:2], atol=1e-4)


def test_dcgan_samples_are_still_the_latents_images():
    """No noise inside DCGAN: the samples are exactly G(latents(seed)), as before."""
    G = DCGANGenerator(GeneratorOptions(ngf=8, z_dim=16), resolution=16, channels=3).eval()
    with torch.no_grad():
        expected = G(latents(G, 6, seed=5))
    assert torch.equal(sample_images(G, 6, seed=5, batch_size=4), expected)


def test_walk_frames_share_the_noise_so_still_latents_do_not_flicker():
    G = noisy_generator()
    z = latents(G, 2, seed=0)
    frames = list(render_walk(G, torch.stack([z, z, z]), nrow=2, seed=9))
    assert torch.equal(frames[0], frames[1]) and torch.equal(frames[1], frames[2])
    torch.manual_seed(123)
    assert torch.equal(next(render_walk(G, z[None], nrow=2, seed=9)), frames[0])


def test_trainer_grid_and_evaluation_images_do_not_depend_on_the_random_state(tmp_path):
    import artgan as api

    trainer = api.make_trainer(gen="fastgan", data="demo", resolution=64, batch_size=4,
                               max_steps=1, device="cpu", recipe="none", out=tmp_path / "r",
                               options={"gen": {"ngf": 4, "z_dim": 8}, "disc": {"ndf": 4},
                                        "data": {"size": 8}})
    for module in trainer.G.modules():
        if isinstance(module, NoiseInjection):
            module.weight.data.fill_(0.5)
    torch.manual_seed(0)
    grid = trainer._fixed_samples()
    torch.manual_seed(1)
    state = torch.get_rng_state()
    assert torch.equal(trainer._fixed_samples(), grid)
    assert torch.equal(torch.get_rng_state(), state)
    from artgan.evaluation.periodic import PeriodicEvaluation
    from artgan.metrics.msssim import MSSSIM

    evaluation = PeriodicEvaluation({"ms-ssim": MSSSIM()}, every=1, images=6,
                                    data=trainer.data, data_spec="demo")
    sets = [evaluation._generated(trainer.generate, 8, 0, 4, torch.device("cpu"))
            for _ in range(2)]
    torch.manual_seed(5)
    a = torch.cat(list(sets[0]))
    torch.manual_seed(6)
    assert torch.equal(a, torch.cat(list(sets[1])))


# -- style mixing ---------------------------------------------------------------------

def test_mixing_grid_rows_take_the_content_and_columns_the_style():
    G = noisy_generator()
    found = mixing_grid(G, 3, seed=2)
    grid, n = found["grid"], 3
    assert grid.shape == ((n + 1) ** 2, 3, 64, 64)
    assert torch.equal(grid[0], torch.ones(3, 64, 64))  # the blank corner
    rows = grid.view(n + 1, n + 1, 3, 64, 64)
    assert torch.equal(rows[0, 1:], found["style"]) and torch.equal(rows[1:, 0],
                                                                    found["content"])
    assert torch.equal(rows[1:, 1:], found["mixed"])
    # the first column: the plain content samples; mix(c, c) = G(c) under the same noise
    z = latents(G, 6, seed=2)
    from artgan.core.sampling import seeded_noise

    with torch.no_grad(), seeded_noise(2, 0):
        plain = G(torch.cat([z[:1], z[:3]]))  # position 0 then 1..3, as in a grid row
    assert torch.allclose(found["content"][0], plain[0], atol=1e-5)
    # the style decides something: content 0 with two different styles differs
    assert (found["mixed"][0, 0] - found["mixed"][0, 1]).abs().max() > 1e-4
    with pytest.raises(MixError, match="--mix needs a generator with style mixing"):
        mixing_grid(DCGANGenerator(GeneratorOptions(ngf=8, z_dim=16), resolution=16,
                                   channels=3), 2)


@pytest.fixture(scope="module")
def featured_run(tmp_path_factory):
    """4 steps of fastgan with DiffAugment, ADA, EMA, R1 and ms-ssim every 2 steps."""
    run = tmp_path_factory.mktemp("featured") / "run"
    artgan("run", *DEMO, *FEATURES, "--max-steps", "4", "--out", run)
    return run


def test_augmentation_ada_ema_r1_and_metrics_train_fastgan(featured_run):
    ckpt = load_checkpoint(featured_run)
    assert ckpt["step"] == 4 and "generator_ema" in ckpt and ckpt["ada"]["steps"] == 4
    stats = read_stats(featured_run)
    keys = set().union(*stats)
    assert {"d/aux_loss", "d/recon_ms_ssim", "r1/penalty", "ada/p"} <= keys, keys
    assert all(np.isfinite(v) for r in stats for v in r.values() if isinstance(v, float))
    metrics = [line for line in (featured_run / "metrics.jsonl").read_text().splitlines()]
    assert len(metrics) == 2  # steps 2 and 4
    assert (featured_run / "checkpoints" / "best.pt").exists()


def test_resumed_fastgan_equals_uninterrupted_fastgan(featured_run, tmp_path):
    split = tmp_path / "split"
    artgan("run", *DEMO, *FEATURES, "--max-steps", "2", "--out", split)
    artgan("run", "--resume", split, "--max-steps", "4")
    a, b = load_checkpoint(featured_run), load_checkpoint(split)
    assert a["step"] == b["step"] == 4
    for part in ("generator", "discriminator", "generator_ema"):
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), f"{part}.{key} differs after resume"
    assert a["ada"] == b["ada"]
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    for key in ("opt_g", "opt_d"):
        for sa, sb in zip(a[key]["state"].values(), b[key]["state"].values()):
            assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_sample_mix_and_walk_from_a_fastgan_run(featured_run, tmp_path):
    out = tmp_path / "s"
    artgan("sample", "--ckpt", featured_run, "-n", "5", "--out", out, "--batch-size", "2")
    first = (out / "sample-0003.png").read_bytes()
    artgan("sample", "--ckpt", featured_run, "-n", "5", "--out", tmp_path / "t",
           "--batch-size", "2")
    assert (tmp_path / "t" / "sample-0003.png").read_bytes() == first  # same seed, same noise
    result = artgan("sample", "--ckpt", featured_run, "--mix", "-n", "2", "--out",
                    tmp_path / "m")
    assert "2 content, 2 style and 4 mixed images" in result.output
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "content-00.png", "content-01.png", "mix-c00-s00.png", "mix-c00-s01.png",
        "mix-c01-s00.png", "mix-c01-s01.png", "style-00.png", "style-01.png"]
    assert Image.open(tmp_path / "m-grid.png").size == (3 * 66 + 2, 3 * 66 + 2)
    artgan("walk", "--ckpt", featured_run, "-n", "2", "--keyframes", "2", "--frames", "2",
           "--out", tmp_path / "w.gif")
    assert Image.open(tmp_path / "w.gif").n_frames == 4


def test_sample_mix_refuses_a_generator_without_mixing(tmp_path):
    run = tmp_path / "dcgan"
    artgan("run", "--resolution", "16", "--batch-size", "4", "-o", "gen.ngf=8", "-o",
           "disc.ndf=8", "-o", "data.size=8", "--max-steps", "1", "--device", "cpu",
           "--recipe", "none", "--out", run)
    result = artgan("sample", "--ckpt", run, "--mix", "--out", tmp_path / "m", expect=2)
    assert "--mix needs a generator with style mixing (such as --gen fastgan)" in result.output


def test_sample_streams_batches_and_caps_the_grid(featured_run, tmp_path, monkeypatch):
    from artgan.cli import sample_cmd

    monkeypatch.setattr(sample_cmd, "GRID_IMAGES", 4)
    result = artgan("sample", "--ckpt", featured_run, "-n", "7", "--batch-size", "3",
                    "--out", tmp_path / "s")
    assert "and the grid" in result.output and "(the first 4)" in result.output
    assert len(list((tmp_path / "s").iterdir())) == 7
    assert Image.open(tmp_path / "s-grid.png").size == (2 * 66 + 2, 2 * 66 + 2)
    assert sample_cmd.grid_capacity(100_000, 16, 16) == 4
    monkeypatch.setattr(sample_cmd, "GRID_IMAGES", 256)
    assert sample_cmd.grid_capacity(100_000, 1024, 1024) == 16  # 16 MP at most
    assert (sample_cmd.mix_capacity(64, 64), sample_cmd.mix_capacity(1024, 1024)) == (15, 7)
    result = artgan("sample", "--ckpt", featured_run, "--mix", "-n", "16", "--out",
                    tmp_path / "m", expect=2)
    assert "at most -n 15" in result.output


def test_fastgan_trains_in_bfloat16_on_the_cpu(tmp_path):
    run = tmp_path / "run"
    artgan("run", *DEMO, "--precision", "bf16", "--max-steps", "2", "--out", run)
    ckpt = load_checkpoint(run)
    assert ckpt["step"] == 2
    assert all(torch.isfinite(v).all() for part in ("generator", "discriminator")
               for v in ckpt[part].values() if v.is_floating_point())


@needs_gloo
def test_fastgan_trains_under_two_processes_and_resumes_in_one(tmp_path):
    """Two gloo processes (2 images each). Not compared with one process: each rank
    draws its own generator noise (and BatchNorm sees its own share)."""
    run = tmp_path / "run"
    proc = torchrun(*DEMO, "--max-steps", "2", "--out", run)
    assert "2 processes (gloo), 2 images per process" in proc.stdout
    assert load_checkpoint(run)["step"] == 2
    artgan("run", "--resume", run, "--max-steps", "3")
    assert load_checkpoint(run)["step"] == 3


# -- CUDA only (bench/gpu.sh runs these: pytest -k cuda) -------------------------------

@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fastgan_trains_and_samples_reproducibly_on_cuda(tmp_path):
    bf16 = torch.cuda.is_bf16_supported()
    run = tmp_path / "run"
    on_cuda = ["cuda" if arg == "cpu" else arg for arg in DEMO]  # --device cuda
    artgan("run", *on_cuda, "--precision", "bf16" if bf16 else "fp32", "--max-steps", "3",
           "--out", run)
    assert load_checkpoint(run)["step"] == 3
    from artgan.core.sampling import load_generator
    from artgan.plugin_host import get_registry

    G, _, _ = load_generator(run, get_registry(), device="cuda")
    for module in G.modules():
        if isinstance(module, NoiseInjection):
            module.weight.data.fill_(0.5)
    before = torch.cuda.get_rng_state()
    torch.cuda.manual_seed(1)
    a = sample_images(G, 5, seed=2, batch_size=2)
    torch.cuda.manual_seed(2)
    state = torch.cuda.get_rng_state()
    assert torch.equal(a, sample_images(G, 5, seed=2, batch_size=2))
    assert torch.equal(torch.cuda.get_rng_state(), state) and not torch.equal(before, state)
    found = mixing_grid(G, 2, seed=0)
    assert found["grid"].shape == (9, 3, 64, 64) and found["grid"].device.type == "cpu"
