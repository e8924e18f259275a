"""Faults while training (issue 19): NaN never saved as the good checkpoint, one run
per run folder, full disks, resumes after kill -9, file modes, exploding losses, logs
that are not a terminal. Each test fails if its fix breaks. Bad input (damaged
checkpoints, FIFOs, escapes, non-finite floats, ...): test_faults_input.py."""

import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest
import torch

from artgan.core import atomic
from artgan.core.checkpoint import load_checkpoint
from artgan.core.trainer import TrainerCallbacks, TrainingDiverged

from .fault_helpers import damaged_copy, good_run, tiny_trainer  # noqa: F401 (fixture)
from .helpers import TINY, artgan as cli, read_stats


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


def test_two_runs_taking_over_one_stale_lock_cannot_both_hold_it(tmp_path):
    """B reads the stale lock, then A takes it over first; B must see A's lock and be
    refused, not delete it (before the takeover file, both held the folder)."""
    import json
    import socket

    from artgan.core import run_lock

    run = tmp_path / "run"
    run.mkdir()
    dead = {"pid": 2**22 + 7, "host": socket.gethostname(), "process_start": "1"}
    (run / ".lock").write_text(json.dumps(dead))
    alive = {"pid": os.getppid(), "host": socket.gethostname(),
             "process_start": run_lock._process_start(os.getppid()), "since": "now"}
    lock = run_lock.RunLock(run)
    judged = lock._stale

    def a_takes_over_meanwhile(owner):
        why = judged(owner)
        if owner == dead:  # A: removes the stale lock and writes its own
            (run / ".lock").write_text(json.dumps(alive))
        return why

    lock._stale = a_takes_over_meanwhile
    with pytest.raises(run_lock.RunFolderBusy, match=f"pid {alive['pid']}"):
        lock.acquire()
    assert json.loads((run / ".lock").read_text()) == alive  # A's lock is intact
    assert not lock.held and not (run / ".lock.takeover").exists()


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
