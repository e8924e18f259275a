"""Several processes (gloo on the CPU) against one, and resuming across the two modes.

Two processes on a global batch of 8 (4 images each) must follow the trajectory of one
process on the same 8 images. The DCGAN networks have BatchNorm, so the runs use
``--sync-bn`` (statistics over the global batch); without it each process normalises
with its own 4 images and the runs legitimately differ. Shard-then-all-reduce sums in
a different order than one batch, so weights are compared with a tolerance of 1e-5
(measured: about 2e-7 after 4 steps); the random-number state must be identical.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from artgan.core.checkpoint import load_checkpoint
from artgan.core.device import DeviceError
from artgan.core.distributed import Distributed, GlooSyncBatchNorm, check_launch, sync_batchnorm

from .helpers import TINY, artgan, read_stats

DDP_TINY = [*TINY, "--batch-size", "8"]
TOLERANCE = 1e-5

needs_gloo = pytest.mark.skipif(not torch.distributed.is_available() or
                                not torch.distributed.is_gloo_available(),
                                reason="this PyTorch build has no gloo backend")


def torchrun(*args, nproc: int = 2, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={nproc}", "-m", "artgan", "run", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def assert_same_training(a, b) -> None:
    assert a["step"] == b["step"]
    for net in ("generator", "discriminator"):
        assert a[net].keys() == b[net].keys()
        for key, value in a[net].items():
            if value.is_floating_point():
                diff = (value - b[net][key]).abs().max().item()
                assert diff <= TOLERANCE, f"{net}.{key} differs by {diff}"
            else:
                assert torch.equal(value, b[net][key]), f"{net}.{key} differs"
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    """One process, 4 steps on a global batch of 8: the reference trajectory."""
    run = tmp_path_factory.mktemp("single") / "run"
    artgan("run", *DDP_TINY, "--max-steps", "4", "--out", run)
    return load_checkpoint(run)


@needs_gloo
def test_two_processes_then_one_equal_one_process(tmp_path, single_run):
    run = tmp_path / "run"
    proc = torchrun(*DDP_TINY, "--sync-bn", "--max-steps", "2", "--out", run)
    assert proc.stdout.count("artgan run ->") == 1  # only rank 0 prints
    assert "2 processes (gloo), 4 images per process" in proc.stdout
    assert (run / "config.json").exists() and (run / "samples" / "final.png").exists()
    ckpt = load_checkpoint(run)
    assert ckpt["step"] == 2 and not any(k.startswith(("module.", "_orig_mod."))
                                         for k in ckpt["generator"])
    artgan("run", "--resume", run, "--max-steps", "4")  # continue in one process
    assert_same_training(load_checkpoint(run), single_run)
    assert [r["step"] for r in read_stats(run)] == [2, 4]


@needs_gloo
def test_only_rank_zero_evaluates_and_keeps_best(tmp_path):
    run = tmp_path / "run"
    torchrun(*DDP_TINY, "--max-steps", "2", "--metric", "ms-ssim", "--eval-every", "1",
             "--eval-images", "8", "--out", run)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]  # once per evaluation, not once per rank
    assert all(0 <= r["ms-ssim"] <= 1 for r in records)
    assert load_checkpoint(run / "checkpoints" / "best.pt")["best_metric"]


@needs_gloo
def test_one_process_then_two_equal_one_process(tmp_path, single_run):
    run = tmp_path / "run"
    artgan("run", *DDP_TINY, "--max-steps", "2", "--out", run)
    proc = torchrun("--resume", run, "--max-steps", "4", "--sync-bn")
    assert proc.stdout.count("Resuming") == 1
    assert_same_training(load_checkpoint(run), single_run)


@needs_gloo
def test_sigterm_to_nproc_launcher_saves_and_exits_without_deadlock(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "artgan", "run", "--nproc", "2", *DDP_TINY,
                             "--epochs", "1000", "--out", str(run)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 120
    while not (run / "stats.jsonl").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=90)
    assert proc.returncode == 128 + signal.SIGTERM, output
    assert output.count("Stopped at step") == 1 and "artgan run --resume" in output
    assert load_checkpoint(run)["step"] > 0


def test_nproc_needs_the_command_line(tmp_path):
    result = artgan("run", *DDP_TINY, "--nproc", "2", "--out", tmp_path / "x", expect=2)
    assert "--nproc works from the command line only" in result.output


def test_nproc_refuses_before_launching_what_the_workers_would_refuse(tmp_path, monkeypatch):
    result = artgan("run", *TINY, "--batch-size", "15", "--nproc", "2", "--out", tmp_path / "x",
                    expect=2)
    assert "15 is the global batch and must be divisible by --nproc 2" in result.output
    result = artgan("run", *DDP_TINY, "--precision", "fp16", "--nproc", "2",
                    "--out", tmp_path / "x", expect=2)
    assert "fp16 needs a CUDA device" in result.output
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(DeviceError, match="--nproc 2 needs one CUDA device per process but "
                                          "this machine has 1: use --nproc 1"):
        check_launch("cuda", 2)
    check_launch("cpu", 4)  # the CPU takes any number of gloo processes


def test_launcher_exits_with_the_status_of_the_worker_that_failed():
    from types import SimpleNamespace

    from artgan.cli.run_train import _worker_status

    stopped, failed = SimpleNamespace(exitcode=-15), SimpleNamespace(exitcode=2)
    assert _worker_status({0: stopped, 1: failed}) == 2  # rank 0 was only SIGTERMed
    assert _worker_status({0: stopped}) == 1


def test_one_process_shards_nothing():
    dist = Distributed()
    batch = torch.arange(8)
    assert dist.shard(batch) is batch and not dist.enabled and dist.is_main
    assert Distributed(rank=1, world_size=2).shard(batch).tolist() == [4, 5, 6, 7]
    with pytest.raises(ValueError, match="--batch-size 9 is the global batch"):
        Distributed(world_size=2).check_batch_size(9)


def test_sync_batchnorm_keeps_state_dict_keys_and_equals_batchnorm_alone():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(6, 3, 8, 8)
    expected = net(x)
    net.load_state_dict(before)
    synced = sync_batchnorm(net, torch.device("cpu"))
    assert isinstance(synced[1], GlooSyncBatchNorm)
    assert synced.state_dict().keys() == before.keys()
    torch.testing.assert_close(synced(x), expected)  # no process group: plain BatchNorm


@needs_gloo
def test_adaptive_augmentation_under_two_processes(tmp_path):
    """ADA averages r_t over the ranks (a collective in the D step): the run must finish,
    and p must move by whole steps of global-batch images (4 D steps x 8) / ramp."""
    run = tmp_path / "run"
    torchrun(*DDP_TINY, "--augment", "translation", "--ada-target", "0.6", "--ada-ramp", "64",
             "--max-steps", "8", "--out", run)
    ada = load_checkpoint(run)["ada"]
    assert ada["steps"] == 8 and ada["images"] == 0 and ada["scores"] == 0  # adjusted at 4, 8
    assert ada["p"] in (0.0, 0.5, 1.0)  # 0 +- 32/64, twice, clamped to [0, 1]
    assert [r["step"] for r in read_stats(run) if "ada/p" in r]
