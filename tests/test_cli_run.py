"""End to end through the CLI on tiny settings: run folder, resume, sample, errors."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from artgan.core.checkpoint import load_checkpoint

from .helpers import TINY, artgan, flat_config, read_stats


def test_run_writes_a_complete_run_folder(tmp_path):
    run = tmp_path / "run"
    result = artgan("run", *TINY, "--epochs", "2", "--out", run)
    assert "Done" in result.output
    config = flat_config(json.loads((run / "config.json").read_text()))
    assert config["gen"] == {"name": "dcgan", "options": {"z_dim": 16, "ngf": 8},
                             "argument": None}
    assert config["loss"]["name"] == "gan" and config["data"]["name"] == "demo"
    assert config["plugin_versions"]["artgan.plugins.dcgan"]
    assert config["data_summary"]["images"] == 128
    assert sorted(p.name for p in (run / "samples").iterdir()) == \
        ["epoch-0001.png", "epoch-0002.png", "final.png"]
    report = (run / "report.html").read_text()
    assert "Report: " in result.output and "<svg" in report and "final" in report
    stats = read_stats(run)
    assert stats[-1]["step"] == 16  # 2 epochs x 128/16 batches
    assert {"d/loss", "g/loss", "d/real", "d/fake", "images_per_s"} <= set(stats[0])
    ckpt = load_checkpoint(run)
    assert ckpt["step"] == 16 and set(ckpt) >= {"generator", "discriminator", "opt_g", "opt_d",
                                                 "scaler_g", "scaler_d", "rng", "config"}


def test_short_epochs_report_every_kth_epoch_without_changing_training(tmp_path):
    # 128 images at batch 32: 4 steps an epoch; --sample-every 10 -> every 3rd epoch
    short = ["--batch-size", "32", "--epochs", "10"]
    sparse, dense = tmp_path / "sparse", tmp_path / "dense"
    artgan("run", *TINY, *short, "--sample-every", "10", "--out", sparse)
    artgan("run", *TINY, *short, "--sample-every", "1", "--out", dense)
    assert sorted(p.name for p in (sparse / "samples").iterdir()) == \
        ["epoch-0001.png", "epoch-0003.png", "epoch-0006.png", "epoch-0009.png",
         "epoch-0010.png", "final.png"]  # the first, every 3rd, the last
    assert len(list((dense / "samples").iterdir())) == 11
    watched = [r["step"] for r in read_stats(sparse) if "watch/diversity" in r]
    assert watched == [4, 12, 24, 36, 40]
    a, b = load_checkpoint(sparse), load_checkpoint(dense)
    for net in ("generator", "discriminator"):
        for key, value in a[net].items():
            assert torch.equal(value, b[net][key]), f"{net}.{key}: reporting changed training"


def test_resume_applies_new_reporting_intervals(tmp_path):
    run = tmp_path / "run"
    artgan("run", *TINY, "--max-steps", "2", "--out", run)
    artgan("run", "--resume", run, "--max-steps", "4", "--log-every", "1",
           "--checkpoint-every", "3", "--sample-every", "7")
    config = flat_config(load_checkpoint(run)["config"])
    assert (config["log_every"], config["checkpoint_every"], config["sample_every"]) == (1, 3, 7)
    assert [r["step"] for r in read_stats(run)] == [2, 3, 4]


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    artgan("run", *TINY, "--max-steps", "13", "--out", straight)
    artgan("run", *TINY, "--max-steps", "5", "--out", split)  # stops mid-epoch
    out = artgan("run", "--resume", split, "--max-steps", "13").output
    assert "Resuming" in out and "step 5" in out
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert a["step"] == b["step"] == 13
    for net in ("generator", "discriminator"):
        for key, value in a[net].items():
            assert torch.equal(value, b[net][key]), f"{net}.{key} differs after resume"
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    steps = [r["step"] for r in read_stats(split)]
    assert steps == sorted(steps) and steps[-1] == 13


def test_resume_refuses_to_change_the_components(tmp_path):
    run = tmp_path / "run"
    artgan("run", *TINY, "--max-steps", "2", "--out", run)
    result = artgan("run", "--resume", run, "--gen", "dcgan", "--batch-size", "8", expect=2)
    assert "--gen, --batch-size cannot be changed when resuming" in result.output


def test_resume_refusal_names_each_flag_as_typed(tmp_path):
    """The message uses the options' own flags (--metric, not the parameter's name
    --metrics); checked before the checkpoint is read, so any existing folder will do."""
    result = artgan("run", "--resume", tmp_path, "--metric", "fid", "--no-mirror",
                    "-o", "gen.ngf=8", "--inception-weights", "w.pth", expect=2)
    refused = result.output.split("Error: ")[1].split(" cannot be changed")[0].split(", ")
    assert sorted(refused) == sorted(["--metric", "--mirror", "-o", "--inception-weights"])


def test_existing_run_folder_is_not_overwritten(tmp_path):
    run = tmp_path / "run"
    artgan("run", *TINY, "--max-steps", "2", "--out", run)
    result = artgan("run", *TINY, "--max-steps", "2", "--out", run, expect=2)
    assert f"--resume {run}" in result.output


def test_sample_is_reproducible_and_writes_pngs_and_grid(tmp_path):
    run = tmp_path / "run"
    artgan("run", *TINY, "--max-steps", "3", "--out", run)
    artgan("sample", "--ckpt", run, "-n", "6", "--out", tmp_path / "a", "--seed", "3")
    artgan("sample", "--ckpt", run / "checkpoints" / "last.pt", "-n", "6",
           "--out", tmp_path / "b", "--seed", "3")
    artgan("sample", "--ckpt", run, "-n", "6", "--out", tmp_path / "c", "--seed", "4")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == [f"sample-{i:04d}.png" for i in range(6)]  # only the samples
    assert (tmp_path / "a-grid.png").is_file()  # the grid lies beside the folder
    same = (tmp_path / "a" / "sample-0002.png").read_bytes()
    assert same == (tmp_path / "b" / "sample-0002.png").read_bytes()
    assert same != (tmp_path / "c" / "sample-0002.png").read_bytes()


def test_dry_run_prints_config_and_trains_nothing(tmp_path):
    result = artgan("run", "--dry-run", "--out", tmp_path / "x", "--loss", "gan")
    config = flat_config(json.loads(result.output))
    assert config["resolution"] == 32 and config["optimizer"] == "adam"
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args,message", [
    (["--gen", "cgan", "--data", "demo:waves"], "needs labelled data"),
    (["--gen", "dcgan", "--disc", "cgan"], "use a conditional generator (--gen cgan)"),
    (["--gen", "cgan", "--disc", "dcgan"], "use a conditional discriminator (--disc cgan)"),
    (["--loss", "wgan-gp", "-o", "disc.norm=batch"], "-o disc.norm=layer"),
])
def test_dry_run_refuses_what_a_run_would_refuse(tmp_path, args, message):
    result = artgan("run", "--dry-run", *args, "--out", tmp_path / "x", expect=2)
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args,message", [
    (["--gen", "dcgann"], "Did you mean: dcgan"),
    (["--gen", "dcgan", "-o", "gen.depth=3"],
     "unknown option depth for --gen dcgan; valid options: ngf, z_dim"),
    (["-o", "gen.depth=3"],  # no --gen: the quick start's cgan
     "unknown option depth for --gen cgan; valid options: embed_dim, ngf, z_dim"),
    (["-o", "gen.ngf=wide"], "expects a int"),
    (["--data", "folder:/definitely/not/here"], "folder not found"),
    (["--precision", "fp16", "--device", "cpu"], "fp16 needs a CUDA device"),
    (["--device", "cuda:7"], "--device cuda:7"),
    (["--resolution", "48"], "power-of-two resolutions"),
    (["--data", "demo:mondrain"], "mondrian"),
])
def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path, args, message):
    result = artgan("run", *args, "--max-steps", "1", "--out", tmp_path / "x", expect=2)
    assert message in result.output
    assert "Traceback" not in result.output


def test_empty_folder_is_an_error_before_training(tmp_path):
    (tmp_path / "empty").mkdir()
    result = artgan("run", "--data", f"folder:{tmp_path / 'empty'}", "--out", tmp_path / "x",
                    expect=2)
    assert "no images found" in result.output
    assert not (tmp_path / "x" / "checkpoints").exists()


def test_folder_run_reports_skipped_files_once(tmp_path):
    from PIL import Image

    folder = tmp_path / "paintings"
    folder.mkdir()
    for i in range(20):
        Image.new("RGB", (24, 24), (10 * i, 100, 200)).save(folder / f"{i}.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    result = artgan("run", "--data", f"folder:{folder}", "--resolution", "16",
                    "--batch-size", "8", "-o", "gen.ngf=8", "-o", "disc.ndf=8",
                    "--max-steps", "2", "--out", tmp_path / "run", "--device", "cpu")
    assert result.output.count("Skipped 1 unusable file") == 1
    assert "broken.jpg" in result.output
    assert "Data: 20 images, unlabelled" in result.output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_a_checkpoint_and_the_run_resumes(tmp_path, signum):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "artgan", "run", *TINY, "--epochs", "1000",
                             "--out", str(run)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.time() + 120
    while not (run / "stats.jsonl").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, output
    assert "artgan run --resume" in output and "Traceback" not in output
    step = load_checkpoint(run)["step"]
    assert step > 0
    status = re.search(r'<p class="status">(.*?)</p>', (run / "report.html").read_text())
    assert "in progress or stopped" in status.group(1) and f"{step:,} of " in status.group(1)
    artgan("run", "--resume", run, "--max-steps", str(step + 2))
    assert load_checkpoint(run)["step"] == step + 2
    status = re.search(r'<p class="status">(.*?)</p>', (run / "report.html").read_text())
    assert "finished" in status.group(1) and f"{step + 2:,} of {step + 2:,} steps" in \
        status.group(1)


def test_bf16_autocast_trains_on_cpu(tmp_path):
    run = tmp_path / "run"
    artgan("run", *TINY, "--max-steps", "3", "--precision", "bf16", "--out", run)
    assert load_checkpoint(run)["config"]["runtime"]["precision"] == "bf16"
    assert all(torch.isfinite(v).all() for v in load_checkpoint(run)["generator"].values()
               if v.is_floating_point())


def test_unusable_out_folder_and_huge_seed_are_clear_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("not a folder")
    result = artgan("run", *TINY, "--max-steps", "1", "--out", tmp_path / "notes.txt" / "run",
                    expect=2)
    assert "Error: cannot use" in result.output and "Not a directory" in result.output
    result = artgan("run", *TINY, "--seed", str(2**70), "--dry-run", expect=2)
    assert "--seed" in result.output and "is not in the range" in result.output
