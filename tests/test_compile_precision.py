"""--compile and --precision: what this machine can run is run, the rest is skipped."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

import artgan
from artgan.core.checkpoint import load_checkpoint
from artgan.plugins.dcgan import GeneratorOptions
from artgan.plugins.dcgan_nets import DCGANGenerator

from .helpers import TINY, artgan as run_cli

SMALL = dict(resolution=16, batch_size=8, max_steps=2, device="cpu",
             options={"gen": {"ngf": 8, "z_dim": 16}, "disc": {"ndf": 8}, "data": {"size": 32}})


@pytest.fixture
def eager_compile(monkeypatch):
    """torch.compile with the 'eager' backend: Dynamo traces the modules (so the flag
    is really exercised) without Inductor's C++ build, which takes ~40 s on 2 cores."""
    real = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: real(fn, backend="eager"))
    yield
    torch._dynamo.reset()


def test_compile_is_in_place_and_checkpoints_load_without_compile(tmp_path, eager_compile):
    trainer = artgan.make_trainer(out=tmp_path / "run", compile=True, **SMALL)
    assert trainer.G._compiled_call_impl is not None
    assert trainer.D._compiled_call_impl is not None
    trainer.fit()
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt["config"]["runtime"]["compile"] is True
    assert not any("_orig_mod" in key for key in [*ckpt["generator"], *ckpt["discriminator"]])
    plain = DCGANGenerator(GeneratorOptions(ngf=8, z_dim=16), resolution=16, channels=3)
    plain.load_state_dict(ckpt["generator"])  # an uncompiled module loads it as is


def test_compile_leaves_d_alone_for_a_double_backward_loss(tmp_path, eager_compile):
    trainer = artgan.make_trainer(out=tmp_path / "run", loss="wgan-gp", compile=True, **SMALL)
    assert trainer.G._compiled_call_impl is not None
    assert trainer.D._compiled_call_impl is None
    assert any("discriminator stays uncompiled" in note for note in trainer.config.notes)
    trainer.fit()


@pytest.mark.skipif(not os.environ.get("ARTGAN_SLOW_TESTS") or shutil.which("cc") is None,
                    reason="Inductor compiles C++ for 20-40 s on a 2-core CPU; set "
                           "ARTGAN_SLOW_TESTS=1 (needs a C compiler)")
def test_compile_with_inductor_trains(tmp_path):
    run_cli("run", *TINY, "--max-steps", "2", "--compile", "--out", tmp_path / "run")
    assert load_checkpoint(tmp_path / "run")["step"] == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 needs CUDA (grad scaler)")
def test_fp16_trains_on_cuda(tmp_path):
    run = tmp_path / "run"
    run_cli("run", *TINY, "--device", "cuda", "--precision", "fp16", "--max-steps", "3",
            "--out", run)
    ckpt = load_checkpoint(run)
    assert ckpt["scaler_g"] and all(torch.isfinite(v).all() for v in ckpt["generator"].values()
                                    if v.is_floating_point())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_bf16_trains_on_cuda_when_supported(tmp_path):
    if not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    run_cli("run", *TINY, "--device", "cuda", "--precision", "bf16", "--max-steps", "3",
            "--out", tmp_path / "run")
