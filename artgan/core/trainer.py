"""The training loop: phases, optimisers, mixed precision, samples, checkpoints, stats.

A step is one batch of real images: one discriminator update, a generator update every
``n_critic`` steps, and the loss's regulariser every ``regularize_every`` steps. The
trainer never prints; it reports through :class:`TrainerCallbacks` and ``stats.jsonl``.

Under ``torchrun`` every rank runs this same loop on its shard of each global batch
(see :mod:`artgan.core.distributed`); only rank 0 calls the callbacks and writes files.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

import torch

from .augment import AdaptiveStrength, AugmentedDiscriminator, random_mirror
from .checkpoint import FORMAT_VERSION, save_atomic
from .collapse import CollapseWatch, diversity_ratio
from .config import RunConfig
from .data import DataSource
from .device import Precision
from .distributed import Distributed
from .ema import GeneratorEMA
from .errors import ArtganError
from .evaluation import PeriodicEvaluation
from .images import save_grid
from .sampling import cycled_labels
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


class TrainingDiverged(ArtganError, RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class TrainerCallbacks:
    """Hooks for whoever shows progress (the CLI). Every method is optional."""

    def on_start(self, trainer: "Trainer") -> None: ...
    def on_log(self, record: dict[str, Any]) -> None: ...
    def on_epoch_end(self, epoch: int, grid: Path) -> None: ...  # epochs with a grid
    def on_checkpoint(self, path: Path) -> None: ...
    def on_eval(self, record: dict[str, Any]) -> None: ...
    def on_warning(self, message: str) -> None: ...

    def eval_progress(self, label: str, total: int | None) -> Callable[[int], None] | None:
        """An evaluation's pass over ``total`` images (feature extraction, MS-SSIM pairs)
        starts: return ``advance(n)``, called after each batch of n images, or None."""
        return None


def build_optimizer(params, name: str, lr: float, betas: tuple[float, float],
                    weight_decay: float) -> torch.optim.Optimizer:
    """Adam (the fused single-kernel implementation where the device has one) or RMSprop
    (multi-tensor). With channels-last networks fused Adam measured 9% faster per DCGAN
    step than foreach on a 2-core CPU, and never slower (bench/README.md)."""
    params = list(params)
    if name == "adam":
        try:
            return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay,
                                    fused=True)
        except RuntimeError:  # no fused kernel for this device
            return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay,
                                    foreach=True)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, foreach=True)
    raise ValueError(f"unknown optimiser {name!r}; expected adam or rmsprop")


class Trainer:
    """Trains ``G`` and ``D`` with ``loss`` on ``data``, writing into ``run_dir``.

    ``augment`` (a module, see :mod:`artgan.core.augment`) is applied to every image D
    sees; ``config.ema`` keeps an EMA generator (``self.ema``) used for samples and
    metrics, and ``config.r1`` adds a lazy R1 penalty. ``evaluation`` scores the
    generator every ``evaluation.every`` steps (see :mod:`artgan.core.evaluation`).
    """

    def __init__(self, G: Generator, D: Discriminator, loss: Loss, data: DataSource,
                 config: RunConfig, *, run_dir: str | Path, device: torch.device,
                 precision: Precision, callbacks: TrainerCallbacks | None = None,
                 evaluation: PeriodicEvaluation | None = None,
                 dist: Distributed | None = None, augment: torch.nn.Module | None = None):
        self.G, self.D, self.loss, self.data, self.config = G.to(device), D.to(device), loss, \
            data, config
        self.run_dir, self.device, self.precision = Path(run_dir), device, precision
        self.dist = dist or Distributed(device=device)
        self.dist.check_batch_size(config.batch_size)
        # only rank 0 reports and evaluates; the other ranks get the do-nothing callbacks
        self.callbacks = (callbacks if self.dist.is_main else None) or TrainerCallbacks()
        self.evaluation = evaluation if self.dist.is_main else None
        self._evaluated_step = -1
        opt = config.optimizer
        self.opt_g = build_optimizer(G.parameters(), opt.name, opt.lr_g, opt.betas, opt.weight_decay)
        self.opt_d = build_optimizer(D.parameters(), opt.name, opt.lr_d, opt.betas, opt.weight_decay)
        self.scaler_g, self.scaler_d = precision.grad_scaler(), precision.grad_scaler()
        # what the loss calls D: D(augment(x), y) when augmenting, else D itself
        self.D_view = self.D if augment is None else \
            AugmentedDiscriminator(self.D, augment.to(device))
        self.ada = self._adaptive_strength(augment)
        self.ema = GeneratorEMA(self.G, config.ema_decay) if config.ema else None
        self.r1 = R1(config.r1, config.r1_every) if config.r1 > 0 else None
        self._real_reference: torch.Tensor | None = None
        self._watch_images: torch.Tensor | None = None
        self.collapse_watch = CollapseWatch()
        self._last_rate = 0.0
        self.step = 0
        self.steps_per_epoch = data.batches_per_epoch(config.batch_size)
        self.total_steps = config.epochs * self.steps_per_epoch
        if config.max_steps is not None:
            self.total_steps = min(self.total_steps, config.max_steps)
        self.fixed_z, self.fixed_y = self._fixed_noise()
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}
        self._signal_received: int | None = None  # set by the handler, on this rank
        self._stop_signal: int | None = None  # agreed by all ranks after each step
        self._last_log = (time.perf_counter(), 0)

    # -- set-up -------------------------------------------------------------------------
    def _adaptive_strength(self, augment: torch.nn.Module | None) -> AdaptiveStrength | None:
        """ADA (``config.ada_target``): the augmentation probability follows D's overfitting."""
        if not self.config.ada_target:
            return None
        if augment is None:
            raise ValueError("ada_target adjusts the augmentation strength, but there is no "
                             "augmentation: add --augment (e.g. color,translation,cutout)")
        ada = AdaptiveStrength(augment, self.config.ada_target, self.config.ada_ramp_images)
        self.D_view.observer = ada.observe
        return ada

    def _fixed_noise(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        gen = torch.Generator().manual_seed(self.config.seed + 12345)
        z = torch.randn(N_FIXED_SAMPLES, self.G.z_dim, generator=gen)
        y = cycled_labels(self.G, N_FIXED_SAMPLES)
        return z.to(self.device), None if y is None else y.to(self.device)

    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    # -- the loop -----------------------------------------------------------------------
    def fit(self) -> None:
        """Train until ``epochs`` or ``max_steps``; resumable; saves on SIGINT/SIGTERM."""
        self.callbacks.on_start(self)
        self.dist.broadcast_modules(self.G, self.D)  # every rank starts from rank 0's weights
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
        if self.evaluation is not None and self._evaluated_step != self.step:
            self.evaluate()  # the final score
        self._write_grid(self.run_dir / "samples" / "final.png")
        self.save_checkpoint()

    def _run_epoch(self) -> None:
        epoch, start = divmod(self.step, self.steps_per_epoch)
        for indices in self.data.epoch_batches(self.config.batch_size, epoch, self.config.seed,
                                               start=start):
            self.train_step(indices)
            self.step += 1
            self._stop_signal = self.dist.agree_stop(self._signal_received)
            if self._epoch_report_due():
                self._watch()  # before the log line, so it lands in this step's record
            if self.step % self.config.log_every == 0:
                self._log()
            if self.evaluation is not None and self.step % self.evaluation.every == 0:
                self.evaluate()
            if self.step % self.config.checkpoint_every == 0:
                self.save_checkpoint()
            if self.step >= self.total_steps or self._stop_signal is not None:
                break
        if self._epoch_report_due():
            self._end_epoch(epoch)

    def train_step(self, indices: torch.Tensor) -> None:
        """One global batch: D update, G update every n_critic steps, regulariser if due.

        When a G update follows, the fakes are generated once with gradients and shared
        by both phases (as in the PyTorch DCGAN example), saving a generator forward.
        Under torchrun this rank trains on its shard of ``indices``.
        """
        real, y = self.data.load_batch(self.dist.shard(indices))
        real = real.to(self.device, non_blocking=True)
        y = y.to(self.device, non_blocking=True) if (y is not None and self.G.conditional) else None
        # z for the whole global batch from the shared stream, then this rank's rows
        z = self.dist.shard(self.G.sample_z(len(indices), device=self.device))
        with self.dist.step_rng(self.config.seed, self.step):
            self._phases(real, z, y)

    def _phases(self, real: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None) -> None:
        if self.config.mirror:
            real = random_mirror(real)
        g_due = (self.step + 1) % self.config.n_critic == 0
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
        # with ADA, D's scores on this real batch measure its overfitting
        watch = self.D_view.watching(real) if self.ada is not None else contextlib.nullcontext()
        with watch, self.precision.autocast():
            out = self.loss.discriminator_loss(self.G, self.D_view, real, fake, y)
        self._update(self.opt_d, self.scaler_d, out["loss"])
        self.loss.after_discriminator_step(self.D)
        self._record("d", out)
        if self.ada is not None:
            adjusted = self.ada.step(self.config.batch_size, self.dist.mean)
            if adjusted is not None:
                self._record("ada", adjusted)

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

    def _update(self, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                loss: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        # several processes: average the gradients over the ranks before stepping
        # (why not DistributedDataParallel: see artgan.core.distributed)
        self.dist.average_gradients(p for group in opt.param_groups for p in group["params"])
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
        values = self.dist.mean(torch.stack([self._sums[n] for n in names])).cpu().tolist() \
            if names else []
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
        if self.dist.is_main:
            with open(self.run_dir / "stats.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
        self.callbacks.on_log(record)
        return record

    # -- metrics ------------------------------------------------------------------------
    def evaluate(self) -> dict[str, Any]:
        """Score the generator now: a line in metrics.jsonl, best.pt if it improved.

        If a metric fails, ``last.pt`` is saved first, so no training is lost."""
        try:
            record = self.evaluation.run(step=self.step, epoch=self.epoch,
                                         generate=self.generate, z_dim=self.G.z_dim,
                                         num_classes=self.G.num_classes, device=self.device,
                                         batch=self.config.batch_size,
                                         progress=self.callbacks.eval_progress)
        except Exception:
            self._save_after_failed_evaluation()
            raise
        self._evaluated_step = self.step
        PeriodicEvaluation.write(record, self.run_dir)
        if record["is_best"]:
            save_atomic(self.state_dict(), self.run_dir / "checkpoints" / "best.pt")
        self.callbacks.on_eval(record)
        return record

    def _save_after_failed_evaluation(self) -> None:
        """Write ``last.pt`` and say so. Only rank 0 evaluates, so no barrier here (the
        other ranks are already waiting at the next step's gradient exchange)."""
        path = save_atomic(self.state_dict(), self.run_dir / "checkpoints" / "last.pt")
        self.callbacks.on_checkpoint(path)
        self.callbacks.on_warning(f"evaluation failed at step {self.step}; checkpoint saved "
                                  f"to {path} (continue with: artgan run --resume "
                                  f"{self.run_dir})")

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
        if self.dist.is_main:  # generate() syncs nothing, so the other ranks need not wait
            save_grid(self.generate(self.fixed_z, self.fixed_y) if images is None else images,
                      path, nrow=8)
        return path

    def diversity(self, images: torch.Tensor) -> float:
        """Collapse watch: see :mod:`artgan.core.collapse` (a fixed real batch as reference)."""
        if self._real_reference is None:
            order = self.data.epoch_indices(0, self.config.seed)[:N_FIXED_SAMPLES]
            self._real_reference = self.data.load_batch(order)[0]
        return diversity_ratio(images.cpu(), self._real_reference)

    def _watch(self) -> None:
        """Collapse watch at an epoch's end: record ``watch/diversity``, warn if low.

        Every rank computes it (the same weights give the same value), so that all ranks
        log the same statistics."""
        images = self.generate(self.fixed_z, self.fixed_y)
        ratio = self.diversity(images)
        self._record("watch", {"diversity": torch.tensor(ratio, device=self.device)})
        self._watch_images = images
        warning = self.collapse_watch.check(ratio, self.epoch, self.step)
        if warning:
            self.callbacks.on_warning(warning)

    def _epoch_report_due(self) -> bool:
        """Whether the step just taken ends an epoch that gets the end-of-epoch work
        (collapse watch, sample grid, checkpoint): the first and last epochs and every k-th
        one, k = ceil(sample_every / steps per epoch). A folder of 200 images at batch 64
        has 3-step epochs; without this it would write a grid and a checkpoint every 3
        steps."""
        if self.step % self.steps_per_epoch:
            return False
        every = -(-self.config.sample_every // self.steps_per_epoch)
        return (self.step == self.steps_per_epoch or self.step >= self.total_steps
                or (self.step // self.steps_per_epoch) % every == 0)

    def _end_epoch(self, epoch: int) -> None:
        if self._sums:
            self._log()
        grid = self._write_grid(self.run_dir / "samples" / f"epoch-{epoch + 1:04d}.png",
                                self._watch_images)
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
                **({"ada": self.ada.state_dict()} if self.ada is not None else {}),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "scaler_g": self.scaler_g.state_dict(), "scaler_d": self.scaler_d.state_dict(),
                "num_classes": self.G.num_classes, "class_names": list(self.data.class_names),
                "rng": rng, "watch_best": self.collapse_watch.best,
                "best_metric": self.evaluation.best if self.evaluation is not None else None}

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        """Restore everything :meth:`state_dict` saved; training continues exactly."""
        self.G.load_state_dict(ckpt["generator"])
        self.D.load_state_dict(ckpt["discriminator"])
        if self.ema is not None:  # a checkpoint from before EMA: start the average at G
            self.ema.load_state_dict(ckpt.get("generator_ema", ckpt["generator"]))
        if self.ada is not None and "ada" in ckpt:
            self.ada.load_state_dict(ckpt["ada"])
        self.opt_g.load_state_dict(ckpt["opt_g"])
        self.opt_d.load_state_dict(ckpt["opt_d"])
        if ckpt.get("scaler_g"):
            self.scaler_g.load_state_dict(ckpt["scaler_g"])
            self.scaler_d.load_state_dict(ckpt["scaler_d"])
        self.step = int(ckpt["step"])
        self.collapse_watch.best = float(ckpt.get("watch_best", 0.0))
        if self.evaluation is not None and ckpt.get("best_metric"):
            self.evaluation.best = dict(ckpt["best_metric"])
        self._last_log = (time.perf_counter(), self.step)
        torch.set_rng_state(ckpt["rng"]["torch"])
        if self.device.type == "cuda" and "cuda" in ckpt["rng"]:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"], self.device)

    def save_checkpoint(self) -> Path:
        """Rank 0 writes ``checkpoints/last.pt``; the other ranks wait until it is there."""
        path = self.run_dir / "checkpoints" / "last.pt"
        if self.dist.is_main:
            save_atomic(self.state_dict(), path)
            self.callbacks.on_checkpoint(path)
        self.dist.barrier()
        return path

    # -- signals ------------------------------------------------------------------------
    def _install_signal_handlers(self):
        """First SIGINT/SIGTERM: finish the step, save, stop. A second one: stop now."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        # Under torchrun a Ctrl-C reaches each worker twice (from the terminal and
        # forwarded by the agent): repeats within a moment are the same request.
        grace = 2.0 if self.dist.enabled else 0.0
        first = [0.0]

        def handler(signum, frame):
            if self._signal_received is not None:
                if time.monotonic() - first[0] < grace:
                    return
                signal.signal(signum, previous[signum])
                raise KeyboardInterrupt
            self._signal_received, first[0] = signum, time.monotonic()

        for s in previous:
            signal.signal(s, handler)

        def restore():
            for s, h in previous.items():
                signal.signal(s, h)
        return restore
