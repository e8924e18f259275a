"""The training loop: phases, optimisers, mixed precision, samples, checkpoints, stats.

A step is one batch of real images: one discriminator update, a generator update every
``n_critic`` steps, and the loss's regulariser every ``regularize_every`` steps. The
trainer never prints; it reports through :class:`TrainerCallbacks` and ``stats.jsonl``.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any

import torch

from .augment import AugmentedDiscriminator, random_mirror
from .checkpoint import FORMAT_VERSION, save_atomic
from .collapse import collapse_warning, diversity_ratio
from .config import RunConfig
from .data import DataSource
from .device import Precision
from .ema import GeneratorEMA
from .images import save_grid
from .loss import Loss
from .networks import Discriminator, Generator
from .regularizers import R1

N_FIXED_SAMPLES = 64


class TrainingInterrupted(Exception):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint."""

    def __init__(self, signum: int, step: int, checkpoint: Path):
        super().__init__(f"interrupted by {signal.Signals(signum).name} at step {step}; "
                         f"checkpoint saved to {checkpoint}")
        self.signum, self.step, self.checkpoint = signum, step, checkpoint


class TrainingDiverged(Exception):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class TrainerCallbacks:
    """Hooks for whoever shows progress (the CLI). Every method is optional."""

    def on_start(self, trainer: "Trainer") -> None: ...
    def on_log(self, record: dict[str, Any]) -> None: ...
    def on_epoch_end(self, epoch: int, grid: Path) -> None: ...
    def on_checkpoint(self, path: Path) -> None: ...
    def on_warning(self, message: str) -> None: ...


def build_optimizer(params, name: str, lr: float, betas: tuple[float, float],
                    weight_decay: float) -> torch.optim.Optimizer:
    """Adam or RMSprop, using the multi-tensor (foreach) implementation."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay,
                                foreach=True)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, foreach=True)
    raise ValueError(f"unknown optimiser {name!r}; expected adam or rmsprop")


class Trainer:
    """Trains ``G`` and ``D`` with ``loss`` on ``data``, writing into ``run_dir``.

    ``augment`` (a module, see :mod:`artgan.core.augment`) is applied to every image D
    sees; ``config.ema`` keeps an EMA generator (``self.ema``) used for samples, and
    ``config.r1`` adds a lazy R1 penalty.
    """

    def __init__(self, G: Generator, D: Discriminator, loss: Loss, data: DataSource,
                 config: RunConfig, *, run_dir: str | Path, device: torch.device,
                 precision: Precision, callbacks: TrainerCallbacks | None = None,
                 augment: torch.nn.Module | None = None):
        self.G, self.D, self.loss, self.data, self.config = G.to(device), D.to(device), loss, \
            data, config
        self.run_dir, self.device, self.precision = Path(run_dir), device, precision
        self.callbacks = callbacks or TrainerCallbacks()
        opt = config.optimizer
        self.opt_g = build_optimizer(G.parameters(), opt.name, opt.lr_g, opt.betas, opt.weight_decay)
        self.opt_d = build_optimizer(D.parameters(), opt.name, opt.lr_d, opt.betas, opt.weight_decay)
        self.scaler_g, self.scaler_d = precision.grad_scaler(), precision.grad_scaler()
        # what the loss calls D: D(augment(x), y) when augmenting, else D itself
        self.D_view = self.D if augment is None else \
            AugmentedDiscriminator(self.D, augment.to(device))
        self.ema = GeneratorEMA(self.G, config.ema_decay) if config.ema else None
        self.r1 = R1(config.r1, config.r1_every) if config.r1 > 0 else None
        self._real_reference: torch.Tensor | None = None
        self._last_rate = 0.0
        self.step = 0
        self.steps_per_epoch = data.batches_per_epoch(config.batch_size)
        self.total_steps = config.epochs * self.steps_per_epoch
        if config.max_steps is not None:
            self.total_steps = min(self.total_steps, config.max_steps)
        self.fixed_z, self.fixed_y = self._fixed_noise()
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}
        self._stop_signal: int | None = None
        self._last_log = (time.perf_counter(), 0)

    # -- set-up -------------------------------------------------------------------------
    def _fixed_noise(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        gen = torch.Generator().manual_seed(self.config.seed + 12345)
        z = torch.randn(N_FIXED_SAMPLES, self.G.z_dim, generator=gen)
        y = None
        if self.G.conditional:
            y = torch.arange(N_FIXED_SAMPLES) % self.G.num_classes
        return z.to(self.device), None if y is None else y.to(self.device)

    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    # -- the loop -----------------------------------------------------------------------
    def fit(self) -> None:
        """Train until ``epochs`` or ``max_steps``; resumable; saves on SIGINT/SIGTERM."""
        self.callbacks.on_start(self)
        restore = self._install_signal_handlers()
        try:
            while self.step < self.total_steps and self._stop_signal is None:
                self._run_epoch()
        finally:
            restore()
        if self._sums:
            self._log()  # the steps since the last log line
        if self._stop_signal is not None:
            path = self.save_checkpoint()
            raise TrainingInterrupted(self._stop_signal, self.step, path)
        self._write_grid(self.run_dir / "samples" / "final.png")
        self.save_checkpoint()

    def _run_epoch(self) -> None:
        epoch, start = divmod(self.step, self.steps_per_epoch)
        for indices in self.data.epoch_batches(self.config.batch_size, epoch, self.config.seed,
                                               start=start):
            self.train_step(indices)
            self.step += 1
            if self.step % self.steps_per_epoch == 0:
                self._watch()  # before the log line, so it lands in this step's record
            if self.step % self.config.log_every == 0:
                self._log()
            if self.step % self.config.checkpoint_every == 0:
                self.save_checkpoint()
            if self.step >= self.total_steps or self._stop_signal is not None:
                break
        if self.step % self.steps_per_epoch == 0:
            self._end_epoch(epoch)

    def train_step(self, indices: torch.Tensor) -> None:
        """One batch: D update, G update every n_critic steps, regulariser if due.

        When a G update follows, the fakes are generated once with gradients and shared
        by both phases (as in the PyTorch DCGAN example), saving a generator forward.
        """
        real, y = self.data.load_batch(indices)
        real = real.to(self.device, non_blocking=True)
        if self.config.mirror:
            real = random_mirror(real)
        y = y.to(self.device, non_blocking=True) if (y is not None and self.G.conditional) else None
        g_due = (self.step + 1) % self.config.n_critic == 0
        z = self.G.sample_z(real.shape[0], device=self.device)
        with torch.set_grad_enabled(g_due), self.precision.autocast():
            fake = self.G(z, y)
        self._d_step(real, fake.detach(), y)
        if g_due:
            self._g_step(real, fake, y)
        every = getattr(self.loss, "regularize_every", 0)
        if every and self.step % every == 0:
            self._reg_step(real, y)
        if self.r1 is not None and self.r1.due(self.step):
            self._r1_step(real, y)

    def _d_step(self, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None) -> None:
        with self.precision.autocast():
            out = self.loss.discriminator_loss(self.G, self.D_view, real, fake, y)
        self._update(self.opt_d, self.scaler_d, out["loss"])
        self.loss.after_discriminator_step(self.D)
        self._record("d", out)

    def _g_step(self, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None) -> None:
        self.D.requires_grad_(False)  # no weight gradients for D in the G step
        try:
            with self.precision.autocast():
                out = self.loss.generator_loss(self.G, self.D_view, real, fake, y)
            self._update(self.opt_g, self.scaler_g, out["loss"])
        finally:
            self.D.requires_grad_(True)
        if self.ema is not None:
            self.ema.update(self.G, self.step)
        self._record("g", out)

    def _reg_step(self, real: torch.Tensor, y: torch.Tensor | None) -> None:
        with self.precision.autocast():
            out = self.loss.regularizer_loss(self.G, self.D_view, real, y)
        if out:
            self._update(self.opt_d, self.scaler_d, out["loss"])
            self._record("reg", out)

    def _r1_step(self, real: torch.Tensor, y: torch.Tensor | None) -> None:
        with self.precision.autocast():
            out = self.r1(self.D_view, real, y)
        self._update(self.opt_d, self.scaler_d, out["loss"])
        self._record("r1", out)

    @staticmethod
    def _update(opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                loss: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    # -- stats --------------------------------------------------------------------------
    def _record(self, phase: str, out: dict[str, torch.Tensor]) -> None:
        """Accumulate on the device; no host sync until the next log line."""
        for key, value in out.items():
            name = f"{phase}/{key}"
            value = value.detach().float()
            self._sums[name] = self._sums[name] + value if name in self._sums else value
            self._counts[name] = self._counts.get(name, 0) + 1

    def _log(self) -> dict[str, Any]:
        names = list(self._sums)
        values = torch.stack([self._sums[n] for n in names]).cpu().tolist() if names else []
        now, last_step = time.perf_counter(), self._last_log[1]
        images = (self.step - last_step) * self.config.batch_size
        if images:
            self._last_rate = round(images / max(now - self._last_log[0], 1e-9), 2)
        record: dict[str, Any] = {"step": self.step, "epoch": self.epoch,
                                  "images_per_s": self._last_rate}
        record.update({n: v / self._counts[n] for n, v in zip(names, values)})
        self._sums.clear()
        self._counts.clear()
        self._last_log = (now, self.step)
        bad = [n for n in names if not math.isfinite(record[n])]
        if bad:
            raise TrainingDiverged(
                f"{', '.join(bad)} became {record[bad[0]]} at step {self.step}; the last "
                f"checkpoint is kept. Try a lower --lr or --precision fp32.")
        with open(self.run_dir / "stats.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        self.callbacks.on_log(record)
        return record

    # -- samples and checkpoints ----------------------------------------------------------
    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Generate images in eval mode (BatchNorm running statistics), with the EMA
        generator when there is one."""
        G = self.ema.module if self.ema is not None else self.G
        was_training = G.training
        G.eval()
        try:
            with self.precision.autocast():
                return G(z, y).float()
        finally:
            G.train(was_training)

    def _write_grid(self, path: Path, images: torch.Tensor | None = None) -> Path:
        if images is None:
            images = self.generate(self.fixed_z, self.fixed_y)
        return save_grid(images, path, nrow=8)

    def diversity(self, images: torch.Tensor) -> float:
        """Collapse watch: see :mod:`artgan.core.collapse` (a fixed real batch as reference)."""
        if self._real_reference is None:
            order = self.data.epoch_indices(0, self.config.seed)[:N_FIXED_SAMPLES]
            self._real_reference = self.data.load_batch(order)[0]
        return diversity_ratio(images.cpu(), self._real_reference)

    def _watch(self) -> None:
        """Collapse watch at an epoch's end: record ``watch/diversity``, warn if low."""
        images = self.generate(self.fixed_z, self.fixed_y)
        ratio = self.diversity(images)
        self._record("watch", {"diversity": torch.tensor(ratio, device=self.device)})
        self._watch_images = images
        warning = collapse_warning(ratio, self.epoch, self.step)
        if warning:
            self.callbacks.on_warning(warning)

    def _end_epoch(self, epoch: int) -> None:
        if self._sums:
            self._log()
        images = getattr(self, "_watch_images", None)
        grid = self._write_grid(self.run_dir / "samples" / f"epoch-{epoch + 1:04d}.png", images)
        self._watch_images = None
        self.callbacks.on_epoch_end(epoch + 1, grid)
        self.save_checkpoint()

    def state_dict(self) -> dict[str, Any]:
        from artgan import __version__

        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {"format": FORMAT_VERSION, "artgan_version": __version__,
                "config": self.config.to_dict(), "step": self.step, "epoch": self.epoch,
                "generator": self.G.state_dict(), "discriminator": self.D.state_dict(),
                **({"generator_ema": self.ema.state_dict()} if self.ema is not None else {}),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "scaler_g": self.scaler_g.state_dict(), "scaler_d": self.scaler_d.state_dict(),
                "num_classes": self.G.num_classes, "class_names": list(self.data.class_names),
                "rng": rng}

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        """Restore everything :meth:`state_dict` saved; training continues exactly."""
        self.G.load_state_dict(ckpt["generator"])
        self.D.load_state_dict(ckpt["discriminator"])
        if self.ema is not None:  # a checkpoint from before EMA: start the average at G
            self.ema.load_state_dict(ckpt.get("generator_ema", ckpt["generator"]))
        self.opt_g.load_state_dict(ckpt["opt_g"])
        self.opt_d.load_state_dict(ckpt["opt_d"])
        if ckpt.get("scaler_g"):
            self.scaler_g.load_state_dict(ckpt["scaler_g"])
            self.scaler_d.load_state_dict(ckpt["scaler_d"])
        self.step = int(ckpt["step"])
        self._last_log = (time.perf_counter(), self.step)
        torch.set_rng_state(ckpt["rng"]["torch"])
        if self.device.type == "cuda" and "cuda" in ckpt["rng"]:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"], self.device)

    def save_checkpoint(self) -> Path:
        path = save_atomic(self.state_dict(), self.run_dir / "checkpoints" / "last.pt")
        self.callbacks.on_checkpoint(path)
        return path

    # -- signals ------------------------------------------------------------------------
    def _install_signal_handlers(self):
        """First SIGINT/SIGTERM: finish the step, save, stop. A second one: stop now."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum, frame):
            if self._stop_signal is not None:
                signal.signal(signum, previous[signum])
                raise KeyboardInterrupt
            self._stop_signal = signum

        for s in previous:
            signal.signal(s, handler)

        def restore():
            for s, h in previous.items():
                signal.signal(s, h)
        return restore
