"""Faults and bad input, round 2 (issue 19): NaN checkpoints, shared run folders, full
disks, checkpoints as untrusted input, escapes in printed text, logs that are not a
terminal. Each test fails if its fix breaks."""

import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import artgan
from artgan.core import atomic
from artgan.core.checkpoint import load_checkpoint
from artgan.core.errors import ConfigError
from artgan.core.images import save_grid
from artgan.core.trainer import TrainerCallbacks, TrainingDiverged

from .helpers import TINY, artgan as cli, read_stats

TINY_OPTIONS = {"gen": {"ngf": 8, "z_dim": 16}, "disc": {"ndf": 8}, "data": {"size": 64}}


def tiny_trainer(out, **settings):
    return artgan.make_trainer(resolution=16, batch_size=8, device="cpu", out=out,
                               options=TINY_OPTIONS, **settings)


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """A finished tiny run (4 steps) whose checkpoint the tests copy and damage."""
    run = tmp_path_factory.mktemp("good") / "run"
    cli("run", *TINY, "--max-steps", "4", "--log-every", "1", "--out", run)
    return run


def damaged_copy(good_run, tmp_path, change, name="ckpt.pt"):
    ckpt = torch.load(good_run / "checkpoints" / "last.pt", weights_only=True)
    change(ckpt)
    path = tmp_path / name
    torch.save(ckpt, path)
    return path


def as_run_folder(path, tmp_path, name="resumable"):
    """A run folder holding ``path`` as its last.pt."""
    folder = tmp_path / name
    (folder / "checkpoints").mkdir(parents=True)
    shutil.copy(path, folder / "checkpoints" / "last.pt")
    return folder


# -- 1. NaN is never saved as the good checkpoint -----------------------------------------
class Poison(TrainerCallbacks):
    """After the checkpoint of step ``at``, put a NaN into ``tensor(trainer)``."""

    def __init__(self, at, tensor):
        self.at, self.tensor, self.trainer = at, tensor, None

    def on_start(self, trainer):
        self.trainer = trainer

    def on_checkpoint(self, path):
        if self.trainer.step == self.at:
            tensor = self.tensor(self.trainer)
            with torch.no_grad():
                tensor[(0,) * tensor.dim()] = float("nan")


def first_weight(trainer):
    return next(trainer.G.parameters())


def bn_running_var(trainer):  # a buffer: the losses stay finite in training mode
    return next(b for n, b in trainer.D.named_buffers() if n.endswith("running_var"))


@pytest.mark.parametrize("tensor, what", [(first_weight, "g/loss"),
                                          (bn_running_var, "weights of the discriminator")])
def test_a_run_forced_to_nan_keeps_the_last_finite_checkpoint(tmp_path, tensor, what):
    trainer = tiny_trainer(tmp_path / "run", max_steps=12, checkpoint_every=1, log_every=100,
                           callbacks=Poison(3, tensor))
    with pytest.raises(TrainingDiverged, match=what) as caught:
        trainer.fit()
    assert "step 3) is kept" in str(caught.value)
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt["step"] == 3
    for net in ("generator", "discriminator"):
        assert all(torch.isfinite(v).all() for v in ckpt[net].values() if v.is_floating_point())
    assert not (tmp_path / "run" / ".lock").exists()  # released on the error


def test_the_stats_line_check_names_the_kept_checkpoint(tmp_path):
    trainer = tiny_trainer(tmp_path / "run", max_steps=12, checkpoint_every=2, log_every=3,
                           callbacks=Poison(2, first_weight))
    with pytest.raises(TrainingDiverged, match=r"by step 3 .*step 2\) is kept"):
        trainer.fit()
    assert load_checkpoint(tmp_path / "run")["step"] == 2


def test_sampling_refuses_a_checkpoint_with_nan_weights(good_run, tmp_path):
    def poison(ckpt):
        weight = next(iter(ckpt["generator"].values()))
        weight[(0,) * weight.dim()] = float("nan")
    path = damaged_copy(good_run, tmp_path, poison)
    result = cli("sample", "--ckpt", path, "-n", "2", "--out", tmp_path / "s", expect=2)
    assert "NaN or infinite" in result.output and not (tmp_path / "s").exists()


# -- 2. one run per run folder ---------------------------------------------------------------
HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from artgan.core.run_folder import RunFolder
    RunFolder(sys.argv[1]).lock()
    print("locked", flush=True)
    time.sleep(120)
""")


def test_a_second_process_is_refused_and_a_dead_ones_lock_taken_over(tmp_path):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = cli("run", *TINY, "--max-steps", "2", "--out", run, expect=2)
        assert "in use by another artgan run" in result.output
        assert f"pid {holder.pid}" in result.output
        assert not (run / "config.json").exists()  # refused before writing anything
    finally:
        holder.send_signal(signal.SIGKILL)  # dies without releasing: a stale lock
        holder.wait()
    assert (run / ".lock").exists()
    result = cli("run", *TINY, "--max-steps", "2", "--out", run)
    assert "took over the lock" in result.output and "is gone" in result.output
    assert read_stats(run)[-1]["step"] == 2
    assert not (run / ".lock").exists()  # released at the end


# -- 3. a full disk ------------------------------------------------------------------------
class FullDisk:
    """A file whose writes fail with ENOSPC once ``limit`` bytes are written."""

    def __init__(self, fh, limit):
        self.fh, self.limit, self.written = fh, limit, 0

    def write(self, data):
        room = max(0, self.limit - self.written)
        self.written += len(data)
        if len(data) > room:
            self.fh.write(bytes(data)[:room])  # what fitted, as a real disk would
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.fh.write(data)

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()


def fill_disk(monkeypatch, suffixes, limit=1000):
    real = atomic._open

    def opener(fd, path):
        fh = real(fd, path)
        return FullDisk(fh, limit) if path.suffix in suffixes else fh
    monkeypatch.setattr(atomic, "_open", opener)


def test_disk_full_during_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    run = tmp_path / "run"
    cli("run", *TINY, "--max-steps", "2", "--out", run)
    before = (run / "checkpoints" / "last.pt").read_bytes()
    fill_disk(monkeypatch, {".pt"})  # torch's zip writer: "unexpected pos" RuntimeError
    result = cli("run", "--resume", run, "--max-steps", "4", expect=2)
    assert f"disk full at {run / 'checkpoints' / 'last.pt'}" in result.output
    assert "the previous checkpoint is intact" in result.output
    assert "Traceback" not in result.output and "enforce fail" not in result.output
    assert (run / "checkpoints" / "last.pt").read_bytes() == before
    assert not [p for p in run.rglob("*.tmp")]


def test_no_space_at_the_start_leaves_no_config(tmp_path, monkeypatch):
    fill_disk(monkeypatch, {".json"}, limit=0)
    result = cli("run", *TINY, "--max-steps", "2", "--out", tmp_path / "run", expect=2)
    assert "disk full at" in result.output and "config.json" in result.output
    assert not (tmp_path / "run" / "config.json").exists()
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_disk_full_on_a_stats_line_cuts_the_partial_line(tmp_path, monkeypatch):
    from artgan.core.atomic import DiskFullError
    from artgan.core.run_folder import RunFolder

    folder = RunFolder(tmp_path)
    folder.append_stats({"step": 1})
    real_open = open

    def full(path, mode="r", *args, **kwargs):
        fh = real_open(path, mode, *args, **kwargs)
        return FullDisk(fh, 3) if "a" in mode else fh
    monkeypatch.setattr("builtins.open", full)
    with pytest.raises(DiskFullError, match="disk full at"):
        folder.append_stats({"step": 2, "d/loss": 1.0})
    monkeypatch.undo()
    assert folder.stats_path.read_text() == '{"step": 1}\n'


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


# -- 8. resume after kill -9: stats truncated, stale temporary files removed ---------------------
def test_resume_truncates_stats_and_removes_stale_temporary_files(tmp_path):
    run = tmp_path / "run"
    cli("run", *TINY, "--max-steps", "4", "--log-every", "1", "--out", run)
    # what a kill -9 after step 6 leaves: stats beyond the checkpoint, a partial line and
    # the temporary files of interrupted writes
    with open(run / "stats.jsonl", "a") as fh:
        fh.write('{"step": 5, "epoch": 0}\n{"step": 6, "epoch": 0}\n{"step": 7, "ep')
    stale = [run / "checkpoints" / ".last.pt.k2j4h5g6.tmp", run / ".config.json.a1b2c3d4.tmp",
             run / "samples" / ".epoch-0002.png.zz99yy88.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    report_tmp = run / ".report.html.q1w2e3r4.tmp"  # `artgan report` may be writing it now
    report_tmp.write_bytes(b"<html>")
    cli("run", "--resume", run, "--max-steps", "6", "--log-every", "1")
    assert [r["step"] for r in read_stats(run)] == [1, 2, 3, 4, 5, 6]
    assert not any(path.exists() for path in stale)
    assert report_tmp.exists()


# -- 9. files honour the umask ----------------------------------------------------------------
@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_checkpoints_and_grids_get_the_mode_of_other_files(good_run):
    mode = 0o666 & ~atomic._current_umask()
    for path in ("checkpoints/last.pt", "samples/final.png", "config.json", "stats.jsonl"):
        assert stat.S_IMODE(os.stat(good_run / path).st_mode) == mode, path


# -- 10. exploding losses warn once ----------------------------------------------------------
class Warnings(TrainerCallbacks):
    def __init__(self):
        self.seen = []

    def on_warning(self, message):
        self.seen.append(message)


def test_exploding_losses_warn_once_with_the_step_and_advice(tmp_path):
    callbacks = Warnings()
    trainer = tiny_trainer(tmp_path / "run", max_steps=4, callbacks=callbacks)
    for step in (10, 20):
        trainer.step = step
        trainer.stats.record("d", {"loss": torch.tensor(4e14)})
        trainer._log()
    assert len(callbacks.seen) == 1
    assert "exploding at step 10" in callbacks.seen[0] and "d/loss=4e+14" in callbacks.seen[0]
    assert "--lr" in callbacks.seen[0]


def test_healthy_losses_do_not_warn(tmp_path):
    callbacks = Warnings()
    tiny_trainer(tmp_path / "run", max_steps=4, log_every=1, callbacks=callbacks).fit()
    assert not [w for w in callbacks.seen if "exploding" in w]


# -- 11. an unsupported resolution is refused before any decoding -----------------------------
def test_unsupported_resolution_is_refused_before_decoding_a_folder(tmp_path, monkeypatch):
    from artgan.plugins import folder as folder_module

    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        save_grid(torch.rand(1, 3, 32, 32), images / f"{i}.png", nrow=1)

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
    images = tmp_path / "images"
    images.mkdir()
    for i in range(16):
        save_grid(torch.rand(1, 3, 16, 16), images / f"{i}.png", nrow=1)
    result = cli("run", "--data", f"folder:{images}", "-o", "data.labels=subfolders",
                 *TINY[:4], "-o", "gen.ngf=8", "-o", "disc.ndf=8", "--device", "cpu",
                 "--max-steps", "1", "--out", tmp_path / "run")
    assert "unlabelled" in result.output and "no class subfolders" in result.output


def test_a_cache_dir_that_is_a_file_is_one_warning_line(tmp_path, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(16):
        save_grid(torch.rand(1, 3, 16, 16), images / f"{i}.png", nrow=1)
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


# -- 18. logs that are not a terminal are never wrapped or cut -----------------------------------
def test_output_that_is_not_a_terminal_keeps_paths_and_figures_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    run = tmp_path / ("a-long-folder-name-" * 4) / "run"
    result = cli("run", *TINY, "--max-steps", "8", "--log-every", "4", "--out", run)
    lines = result.output.splitlines()
    grid = [line for line in lines if line.endswith(f": samples in {run}/samples/epoch-0001.png")]
    assert len(grid) == 1 and grid[0].startswith("epoch 1/")
    assert f"More samples: artgan sample --ckpt {run} -n 64 --out {run / 'generated'}" in lines
    logged = [line for line in lines if " step " in line and "img/s" in line]
    assert [line.split()[3] for line in logged] == ["4/8", "8/8"]
    assert all("d/loss=" in line and "eta " in line and "..." not in line for line in logged)
