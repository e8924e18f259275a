"""Bad input (issue 19): checkpoints as untrusted input, FIFOs, non-finite floats,
escapes in printed text, resolutions refused early, plugins a checkpoint names, loose
checkpoint files, --out inside --data, notes and one-line warnings. Each test fails if
its fix breaks."""

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
import torch

from artgan.core.checkpoint import load_checkpoint
from artgan.core.errors import ConfigError
from artgan.core.images import save_grid

from .fault_helpers import (as_run_folder, damaged_copy, good_run,  # noqa: F401 (fixture)
                            image_folder, tiny_trainer)
from .helpers import TINY, artgan as cli


# -- 4. FIFOs and other non-regular files are skipped ------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_eval_fake_folder_skips_a_fifo_instead_of_hanging(tmp_path):
    from artgan.cli.eval_cmd import load_fake_folder
    from artgan.core.image_files import scan_images

    folder = tmp_path / "fake"
    folder.mkdir()
    for i in range(2):
        save_grid(torch.zeros(1, 3, 16, 16), folder / f"{i}.png", nrow=1)
    os.mkfifo(folder / "pipe.png")

    def hang(signum, frame):
        raise TimeoutError("reading the FIFO blocked")
    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(30)
    try:
        assert scan_images(str(folder)) == ["0.png", "1.png"]
        assert len(load_fake_folder(str(folder)).images) == 2
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# -- 5. every float rejects NaN and infinities -------------------------------------------------
@pytest.mark.parametrize("args", [["--lr", "nan"], ["--lr-g", "nan"], ["--betas", "nan", "0.9"],
                                  ["--lr", "inf"], ["--r1", "nan"], ["--ema-decay", "nan"]])
def test_cli_floats_refuse_non_finite_values(args):
    result = cli("run", *args, "--dry-run", expect=2)
    assert "is not a finite number" in result.output


@pytest.mark.parametrize("settings", [{"lr": float("nan")}, {"lr_d": float("inf")},
                                      {"betas": (float("nan"), 0.9)}, {"r1": float("nan")}])
def test_python_floats_refuse_non_finite_values(tmp_path, settings):
    name = next(iter(settings))
    with pytest.raises(ConfigError, match=f"must be a finite number; got {name}="):
        tiny_trainer(tmp_path / "run", **settings)
    assert not (tmp_path / "run").exists()


def test_component_float_options_refuse_non_finite_values(tmp_path):
    result = cli("run", *TINY, "-o", "loss.label_smoothing=nan", "--dry-run", expect=2)
    assert "label_smoothing must be a finite number" in result.output
    result = cli("walk", "--ckpt", tmp_path, "--fps", "nan", "--out", tmp_path / "w.gif",
                 expect=2)
    assert "is not a finite number" in result.output


# -- 6. checkpoints are untrusted input ----------------------------------------------------------
def drop_optimizer(ckpt):
    del ckpt["config"]["optimisation"]["optimizer"]


def wrong_shape(ckpt):
    key = next(iter(ckpt["generator"]))
    ckpt["generator"][key] = torch.zeros(3, 5)


def resolution(value):
    def change(ckpt):
        ckpt["config"]["image"]["resolution"] = value
    return change


def huge_width(ckpt):
    ckpt["config"]["components"]["gen"]["options"]["ngf"] = 100_000_000


@pytest.mark.parametrize("change, detail", [
    (wrong_shape, "its generator weights do not fit"),
    (resolution(17), "got 17"),
    (resolution(-5), "image.resolution is -5"),
    (resolution("big"), "image.resolution is not an integer"),
    (huge_width, "parameters"),
    (lambda c: c.update(config="x"), "its config cannot be read"),
])
def test_sampling_a_damaged_checkpoint_is_a_one_line_error(good_run, tmp_path, change, detail):
    path = damaged_copy(good_run, tmp_path, change)
    result = cli("sample", "--ckpt", path, "-n", "2", "--out", tmp_path / "s", expect=2)
    assert "damaged or from an incompatible version" in result.output
    assert detail in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("change, detail", [
    (drop_optimizer, "optimisation.optimizer is missing"),
    (lambda c: c.pop("opt_g"), "it has no opt_g"),
    (wrong_shape, "does not fit the networks"),
])
def test_resuming_a_damaged_checkpoint_is_a_one_line_error(good_run, tmp_path, change, detail):
    folder = as_run_folder(damaged_copy(good_run, tmp_path, change), tmp_path)
    result = cli("run", "--resume", folder, "--max-steps", "6", expect=2)
    assert "damaged or from an incompatible version" in result.output
    assert detail in result.output and "Traceback" not in result.output
    assert not (folder / ".lock").exists()


def test_absurd_widths_are_refused_before_allocating(tmp_path):
    result = cli("run", *TINY, "-o", "gen.ngf=100000000", "--max-steps", "1",
                 "--out", tmp_path / "run", expect=2)
    assert "would have" in result.output and "-o gen.ngf=100000000" in result.output
    assert not (tmp_path / "run").exists()  # nothing written, the folder not even made


# -- 7. text from files is escaped -------------------------------------------------------------
def test_control_characters_and_markup_from_a_checkpoint_are_escaped(good_run, tmp_path):
    def sneak(ckpt):
        ckpt["config"]["notes"] = ["reset\x1bc here [red]styled[/red]"]
    folder = as_run_folder(damaged_copy(good_run, tmp_path, sneak), tmp_path)
    result = cli("run", "--resume", folder, "--max-steps", "5")
    assert "\x1b" not in result.output
    assert "reset\\x1bc here [red]styled[/red]" in result.output


def test_a_lock_from_another_host_is_kept_and_its_text_escaped(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text(json.dumps({"pid": 4242, "host": "farm\x1bc",
                                           "since": "today\x1b[2J"}))
    result = cli("run", *TINY, "--max-steps", "1", "--out", run, expect=2)
    assert "\x1b" not in result.output
    assert "pid 4242 on farm\\x1bc, since today\\x1b[2J" in result.output
    assert f"delete {run / '.lock'}" in result.output


def test_file_names_in_eval_messages_are_escaped(tmp_path):
    fake = tmp_path / "fake"
    fake.mkdir()
    for i in range(2):
        save_grid(torch.rand(1, 3, 32, 32), fake / f"{i}.png", nrow=1)
    (fake / "bad\x1b]0;owned\x07.png").write_bytes(b"not an image")
    result = cli("eval", "--fake", fake, "--real", f"folder:{fake}", "-m", "ms-ssim",
                 "--device", "cpu")
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "bad\\x1b]0;owned\\x07.png" in result.output


def test_safe_text_keeps_newlines_and_escapes_the_rest():
    from artgan.cli.safe_text import clean, markup

    assert clean("a\nb\tc\x1b[2J\r\x9b\u202e") == "a\nb\tc\\x1b[2J\\x0d\\x9b\\u202e"
    assert clean("a\nb", newlines=False) == "a\\x0ab"
    assert markup("[red]x[/red]") == "\\[red]x\\[/red]"


# -- 11. an unsupported resolution is refused before any decoding -----------------------------
def test_unsupported_resolution_is_refused_before_decoding_a_folder(tmp_path, monkeypatch):
    from artgan.plugins import folder as folder_module

    images = image_folder(tmp_path / "images", 3, size=32)

    def decode(*args, **kwargs):
        raise AssertionError("decoded before refusing the resolution")
    monkeypatch.setattr(folder_module, "_decode_all", decode)
    result = cli("run", "--data", f"folder:{images}", "--resolution", "17", "--device", "cpu",
                 "--out", tmp_path / "run", expect=2)
    assert "supports" in result.output and "got 17" in result.output
    assert not list(Path(os.environ["ARTGAN_CACHE_DIR"]).rglob("*"))  # no cache written


# -- 14. a plugin the checkpoint names but that is not installed -------------------------------
def test_unknown_generator_from_a_checkpoint_says_so_and_names_the_package(good_run, tmp_path):
    from artgan.plugin_host import get_registry

    get_registry().known_packages[("generator", "stylegan9")] = "artgan-stylegan9"

    def rename(ckpt):
        ckpt["config"]["components"]["gen"]["name"] = "stylegan9"
    path = damaged_copy(good_run, tmp_path, rename)
    result = cli("sample", "--ckpt", path, "-n", "1", "--out", tmp_path / "s", expect=2)
    assert f"checkpoint {path} was trained with generator 'stylegan9'" in result.output
    assert "pip install artgan-stylegan9" in result.output


# -- 15. resuming a loose checkpoint file ----------------------------------------------------------
def test_resuming_a_loose_checkpoint_file_needs_out(good_run, tmp_path):
    backup = tmp_path / "backup"
    backup.mkdir()
    shutil.copy(good_run / "checkpoints" / "last.pt", backup / "final.pt")
    result = cli("run", "--resume", backup / "final.pt", "--max-steps", "6", expect=2)
    assert "outside a run folder" in result.output and "--out" in result.output
    result = cli("run", "--resume", backup / "final.pt", "--max-steps", "6",
                 "--out", tmp_path / "continued")
    assert str(tmp_path / "continued") in result.output
    assert load_checkpoint(tmp_path / "continued")["step"] == 6
    assert sorted(p.name for p in backup.iterdir()) == ["final.pt"]  # untouched
    result = cli("run", "--resume", good_run, "--out", tmp_path / "elsewhere", expect=2)
    assert "--out cannot be changed when resuming a run folder" in result.output


# -- 16. --out inside the data folder -----------------------------------------------------------
@pytest.mark.parametrize("spec", ["folder:{}", "damage:folder:{}"])
@pytest.mark.parametrize("inside", ["", "runs/a"])
def test_out_inside_the_data_folder_is_refused(tmp_path, spec, inside):
    images = tmp_path / "images"
    images.mkdir()
    out = images / inside if inside else images
    result = cli("run", "--data", spec.format(images), "--out", out, "--dry-run", expect=2)
    assert "inside the data folder" in result.output


# -- 17. notes instead of silence, one line instead of a Python warning ---------------------------
def test_subfolder_labels_on_a_flat_folder_get_a_note(tmp_path):
    images = image_folder(tmp_path / "images", 16)
    result = cli("run", "--data", f"folder:{images}", "-o", "data.labels=subfolders",
                 *TINY[:4], "-o", "gen.ngf=8", "-o", "disc.ndf=8", "--device", "cpu",
                 "--max-steps", "1", "--out", tmp_path / "run")
    assert "unlabelled" in result.output and "no class subfolders" in result.output


def test_a_cache_dir_that_is_a_file_is_one_warning_line(tmp_path, monkeypatch):
    images = image_folder(tmp_path / "images", 16)
    blocker = tmp_path / "cache-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ARTGAN_CACHE_DIR", str(blocker))
    result = cli("run", "--data", f"folder:{images}", *TINY[:4], "-o", "gen.ngf=8",
                 "-o", "disc.ndf=8", "--device", "cpu", "--max-steps", "1",
                 "--out", tmp_path / "run")
    lines = [line for line in result.output.splitlines() if "not cached" in line]
    assert lines == [f"warning: decoded images not cached in {blocker / 'data'}: {blocker} "
                     f"is a file, not a folder (the next run decodes them again; "
                     f"$ARTGAN_CACHE_DIR sets the cache folder)"]
    assert "UserWarning" not in result.output and "warnings.warn" not in result.output
