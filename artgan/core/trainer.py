"""The training loop: phases, optimisers, mixed precision, samples, checkpoints.

A step is one batch of real images. It runs every :class:`~artgan.core.loss.Phase` that
is due: the loss's (the discriminator every step, the generator every ``n_critic``
steps, its regulariser), then the regularisers' (R1, R2). The fakes are generated once
per step, with gradients when a generator phase follows, and shared by the phases. The
trainer never prints; it reports through :class:`TrainerCallbacks`, ``stats.jsonl``
(:mod:`artgan.core.stats`) and the run folder (:mod:`artgan.core.run_folder`).

Under ``torchrun`` every rank runs this same loop on its shard of each global batch
(see :mod:`artgan.core.distributed`); only rank 0 calls the callbacks and writes files.
"""

from __future__ import annotations

import contextlib
import functools
import time
from typing import Any

import torch

from .augment import AdaptiveStrength, random_mirror
from .callbacks import TrainerCallbacks, TrainingInterrupted  # noqa: F401 (public here)
from .collapse import CollapseWatch, diversity_ratio
from .config import RunConfig
from .data import DataSource
from .device import Precision
from .distributed import Distributed
from .ema import GeneratorEMA
from .errors import guarded
from .loss import DISCRIMINATOR, GENERATOR, Loss, Phase, PhaseInputs
from .networks import Discriminator, Generator
from .optim import build_optimizer, lr_factor, set_learning_rate
from .run_folder import RunFolder
from .sampling import row_labels
from .signals import StopSignals
from .trainer_samples import GRID_ROW, TrainerSamples
from .state import TrainerState
from .stats import ExplosionWatch, StatsRecorder, TrainingDiverged  # noqa: F401 (public)
from .view import DiscriminatorView

N_FIXED_SAMPLES = 64  # the sample grid and the collapse watch (8 x 8)
N_FIXED_CONDITIONS = 8  # image-to-image models: columns of the sample grid


class Trainer(TrainerSamples, TrainerState):
    """Trains ``G`` and ``D`` with ``loss`` on ``data``, writing into ``folder``.

    ``augment`` (a module, see :mod:`artgan.core.augment`) is applied to every image D
    sees; ``regularizers`` (objects with a ``phase()``, such as R1) add phases;
    ``config.regularisation.ema`` keeps an EMA generator (``self.ema``) for samples and
    metrics; ``evaluation`` scores the generator every ``evaluation.every`` steps.
    """

    def __init__(self, G: Generator, D: Discriminator, loss: Loss, data: DataSource,
                 config: RunConfig, *, folder: RunFolder, device: torch.device,
                 precision: Precision, callbacks: TrainerCallbacks | None = None,
                 evaluation=None, dist: Distributed | None = None,
                 augment: torch.nn.Module | None = None, regularizers=()):
        self.G, self.D, self.loss, self.data, self.config = G.to(device), D.to(device), loss, \
            data, config
        self.device, self.precision = device, precision
        self.dist = dist or Distributed(device=device)
        self.dist.check_batch_size(config.schedule.batch_size)
        self.folder = folder if self.dist.is_main else RunFolder(folder.root, writer=False)
        # only rank 0 reports and evaluates; the other ranks get the do-nothing callbacks
        self.callbacks = (callbacks if self.dist.is_main else None) or TrainerCallbacks()
        self.evaluation = evaluation if self.dist.is_main else None
        self._evaluated_step = -1
        opt = config.optimisation
        self.optimizers = {
            GENERATOR: build_optimizer(G.parameters(), opt.optimizer, opt.lr_g, opt.betas,
                                       opt.weight_decay),
            DISCRIMINATOR: build_optimizer(D.parameters(), opt.optimizer, opt.lr_d, opt.betas,
                                           opt.weight_decay)}
        self.scalers = {GENERATOR: precision.grad_scaler(), DISCRIMINATOR: precision.grad_scaler()}
        self.view = DiscriminatorView(self.D, None if augment is None else augment.to(device))
        reg = config.regularisation
        self.ada = AdaptiveStrength(augment, reg.ada_target, reg.ada_ramp_images) \
            if reg.ada_target else None
        if self.ada is not None:
            self.view.observers.append(self.ada.observe)
        self.ema = GeneratorEMA(self.G, reg.ema_decay) if reg.ema else None
        self.phases = self._phases(regularizers)
        self.collapse_watch = CollapseWatch()
        self._real_reference: torch.Tensor | None = None
        self._watch_images: torch.Tensor | None = None
        self.step = 0
        schedule = config.schedule
        self.steps_per_epoch = data.batches_per_epoch(schedule.batch_size)
        self.total_steps = schedule.epochs * self.steps_per_epoch
        if schedule.max_steps is not None:
            self.total_steps = min(self.total_steps, schedule.max_steps)
        self.fixed_z, self.fixed_y, self.fixed_condition = self._fixed_inputs()
        self.stats = StatsRecorder(mean=self.dist.mean, write=self.folder.append_stats,
                                   notify=self.callbacks.on_log, kept=self.kept_checkpoint)
        self.saved_step: int | None = None  # of the last checkpoint written (all finite)
        self.explosion = ExplosionWatch(f"Try a lower --lr (now lr_g={opt.lr_g:g}, "
                                        f"lr_d={opt.lr_d:g}).")
        self.signals = StopSignals(grace=2.0 if self.dist.enabled else 0.0)
        self._stop_signal: int | None = None  # agreed by all ranks after each step
        self._deadline: float | None = None  # time.monotonic() when --max-minutes ends

    # -- set-up -------------------------------------------------------------------------
    def _phases(self, regularizers) -> list[Phase]:
        """The loss's phases, with the trainer's after-update work on the main ones, then
        the regularisers' phases."""
        phases = []
        who = getattr(self.loss, "who", f"loss {type(self.loss).__name__!r}")
        for phase in self.loss.phases():
            after = list(phase.after)
            if phase.main and phase.network == DISCRIMINATOR and self.ada is not None:
                after.append(self._adjust_ada)
            if phase.main and phase.network == GENERATOR and self.ema is not None:
                after.append(self._update_ema)
            objective = functools.partial(guarded, who, f"its {phase.name!r} phase",
                                          phase.objective)
            phases.append(Phase(phase.name, phase.network, objective, phase.every,
                                phase.at, tuple(after), phase.main))
        return phases + [r.phase() for r in regularizers]

    def _fixed_inputs(self):
        """The sample grid's latents, labels and (image-to-image models) input images."""
        condition = None
        count = N_FIXED_SAMPLES
        if self.G.image_conditioned:
            count = min(N_FIXED_CONDITIONS, len(self.data))
            self.data.set_epoch(0)
            condition = self.data.load(torch.arange(count)).condition.to(self.device)
        gen = torch.Generator().manual_seed(self.config.runtime.seed + 12345)
        z = torch.randn(count, self.G.z_dim, generator=gen)
        y = row_labels(self.G, count, GRID_ROW)  # one class per grid row
        return z.to(self.device), None if y is None else y.to(self.device), condition

    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    # -- the loop -----------------------------------------------------------------------
    def fit(self) -> None:
        """Train until ``epochs``, ``max_steps`` or ``max_minutes``; resumable; saves on
        SIGINT/SIGTERM. The run folder stays locked until the end (also on errors)."""
        self.folder.lock(note=self.callbacks.on_warning)
        try:
            self._fit()
        finally:
            self.folder.unlock()

    def _fit(self) -> None:
        minutes = self.config.schedule.max_minutes
        self._deadline = None if minutes is None else time.monotonic() + 60 * minutes
        self.callbacks.on_start(self)
        self.dist.broadcast_modules(self.G, self.D)  # every rank starts from rank 0's weights
        with self.signals:
            while self.step < self.total_steps and self._stop_signal is None:
                self._run_epoch()
        if self.stats.pending:
            self._log()  # the steps since the last log line
        if self._stop_signal is not None:
            path = self.save_checkpoint()
            raise TrainingInterrupted(self._stop_signal, self.step, path)
        if self.evaluation is not None and self._evaluated_step != self.step:
            self.evaluate()  # the final score
        self._write_grid(self.folder.final_grid)
        self.save_checkpoint()

    def _run_epoch(self) -> None:
        epoch, start = divmod(self.step, self.steps_per_epoch)
        self.data.set_epoch(epoch)
        batch = self.config.schedule.batch_size
        for indices in self.data.epoch_batches(batch, epoch, self.config.runtime.seed,
                                               start=start):
            self.train_step(indices)
            self.step += 1
            self._stop_signal = self.dist.agree_stop(self.signals.received)
            self._after_step()
            if self.step >= self.total_steps or self._stop_signal is not None:
                break
            if self._out_of_time():
                self.total_steps = self.step  # the budget ends the run here, as planned
                break
        if self._epoch_report_due():
            self._end_epoch(epoch)

    def _out_of_time(self) -> bool:
        """Whether ``--max-minutes`` has passed; every rank gets rank 0's answer."""
        if self._deadline is None:
            return False
        late = time.monotonic() >= self._deadline
        return bool(self.dist.agree_stop(1 if late else None)) if self.dist.enabled else late

    def _after_step(self) -> None:
        """The periodic work after a step: collapse watch, stats, evaluation, checkpoint."""
        schedule = self.config.schedule
        if self._epoch_report_due():
            self._watch()  # before the log line, so it lands in this step's record
        if self.step % schedule.log_every == 0:
            self._log()
        if self.evaluation is not None and self.step % self.evaluation.every == 0:
            self.evaluate()
        if self.step % schedule.checkpoint_every == 0:
            self.save_checkpoint()

    def train_step(self, indices: torch.Tensor) -> None:
        """One global batch: every phase that is due at this step.

        Under torchrun this rank trains on its shard of ``indices``; the latents are drawn
        for the whole global batch from the shared stream, then sharded.
        """
        batch = self.data.load(self.dist.shard(indices))
        real = batch.images.to(self.device, non_blocking=True)
        y = batch.labels.to(self.device, non_blocking=True) \
            if (batch.labels is not None and self.G.conditional) else None
        condition = None if batch.condition is None else \
            batch.condition.to(self.device, non_blocking=True)
        z = self.dist.shard(self.G.sample_z(len(indices), device=self.device))
        self._set_learning_rates()
        with self.dist.step_rng(self.config.runtime.seed, self.step):
            self._run_phases(real, z, y, condition)

    def _run_phases(self, real, z, y, condition) -> None:
        if self.config.regularisation.mirror:
            real = random_mirror(real)
        due = [phase for phase in self.phases if phase.due(self.step)]
        with_grad = any(phase.network == GENERATOR for phase in due)
        g_condition = condition if self.G.image_conditioned else None
        with torch.set_grad_enabled(with_grad), self.precision.autocast():
            fake = self.G(z, y, g_condition)
        self.view.condition = condition if self.D.image_conditioned else None
        inputs = PhaseInputs(G=self.G, D=self.view, D_module=self.D, real=real, fake=fake,
                             y=y, condition=condition, step=self.step)
        updated_g = False
        for phase in due:
            if phase.network == GENERATOR and updated_g:
                # another generator phase after an update (a loss's own G regulariser):
                # the fakes of the updated G, since the first backward freed their graph
                with self.precision.autocast():
                    inputs.fake = self.G(z, y, g_condition)
            self._run_phase(phase, inputs)
            updated_g = updated_g or phase.network == GENERATOR

    def _run_phase(self, phase: Phase, inputs: PhaseInputs) -> None:
        """Minimise the phase's objective for its network (the other one frozen)."""
        other = self.D if phase.network == GENERATOR else self.G
        other.requires_grad_(False)  # no weight gradients for the network not updated
        extra = None
        try:
            tap = self.view.tap(inputs.real) if phase.main and phase.network == DISCRIMINATOR \
                else contextlib.nullcontext()
            with tap, self.precision.autocast():
                out = phase.objective(inputs)
                extra = self.view.extra if phase.main and phase.network == DISCRIMINATOR \
                    else None
            if not out:  # nothing to do this time
                return
            loss = out["loss"]
            if extra and "loss" in extra:
                loss = loss + extra["loss"]
            self._update(phase.network, loss)
        finally:
            other.requires_grad_(True)
        for after in phase.after:
            stats = after(inputs)
            if stats:
                self.stats.record(phase.name, stats)
        self.stats.record(phase.name, out)
        if extra:
            self.stats.record(phase.name, {("aux_loss" if k == "loss" else k): v
                                           for k, v in extra.items()})

    def _update(self, network: str, loss: torch.Tensor) -> None:
        opt, scaler = self.optimizers[network], self.scalers[network]
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        # several processes: average the gradients over the ranks before stepping
        # (why not DistributedDataParallel: see artgan.core.distributed)
        self.dist.average_gradients(p for group in opt.param_groups for p in group["params"])
        scaler.step(opt)
        scaler.update()

    def _adjust_ada(self, inputs: PhaseInputs) -> None:
        """ADA after each main D update: p follows D's overfitting (artgan.core.augment)."""
        adjusted = self.ada.step(self.config.schedule.batch_size, self.dist.mean)
        if adjusted is not None:
            self.stats.record("ada", adjusted)

    def _update_ema(self, inputs: PhaseInputs) -> None:
        self.ema.update(self.G, self.step)

    def _set_learning_rates(self) -> None:
        """Constant, or constant then linearly decaying (``--lr-decay``)."""
        opt = self.config.optimisation
        if opt.lr_decay is None:
            return
        factor = lr_factor(self.step, self.total_steps, opt.lr_decay)
        set_learning_rate(self.optimizers[GENERATOR], opt.lr_g, factor)
        set_learning_rate(self.optimizers[DISCRIMINATOR], opt.lr_d, factor)

    # -- reporting ----------------------------------------------------------------------
    def _log(self) -> dict[str, Any]:
        record = self.stats.flush(self.step, self.epoch, self.config.schedule.batch_size)
        warning = self.explosion.check(record)
        if warning:
            self.callbacks.on_warning(warning)
        return record

    def evaluate(self) -> dict[str, Any]:
        """Score the generator now: a line in metrics.jsonl, best.pt if it improved.

        If a metric fails, ``last.pt`` is saved first, so no training is lost."""
        try:
            record = self.evaluation.run(step=self.step, epoch=self.epoch,
                                         generate=self.generate, z_dim=self.G.z_dim,
                                         num_classes=self.G.num_classes, device=self.device,
                                         batch=self.config.schedule.batch_size,
                                         progress=self.callbacks.eval_progress)
        except Exception:
            self._save_after_failed_evaluation()
            raise
        self._evaluated_step = self.step
        self.folder.append_metrics(record)
        if record["is_best"]:
            self.folder.save_checkpoint(self.checked_state(across_ranks=False), best=True)
        self.callbacks.on_eval(record)
        return record

    def diversity(self, images: torch.Tensor) -> float:
        """Collapse watch: see :mod:`artgan.core.collapse` (a fixed real batch as reference)."""
        if self._real_reference is None:
            order = self.data.epoch_indices(0, self.config.runtime.seed)[:N_FIXED_SAMPLES]
            self._real_reference = self.data.load(order).images
        return diversity_ratio(images.cpu(), self._real_reference)

    def _watch(self) -> None:
        """Collapse watch at an epoch's end: record ``watch/diversity``, warn if low.

        Every rank computes it (the same weights give the same value), so that all ranks
        log the same statistics. Image-to-image models are not watched (their output
        follows the input image)."""
        if self.fixed_condition is not None:
            return
        images = self._fixed_samples()
        ratio = self.diversity(images)
        self.stats.record("watch", {"diversity": torch.tensor(ratio, device=self.device)})
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
        every = -(-self.config.schedule.sample_every // self.steps_per_epoch)
        return (self.step == self.steps_per_epoch or self.step >= self.total_steps
                or (self.step // self.steps_per_epoch) % every == 0)

    def _end_epoch(self, epoch: int) -> None:
        if self.stats.pending:
            self._log()
        grid = self._write_grid(self.folder.epoch_grid(epoch + 1), self._watch_images)
        self._watch_images = None
        self.callbacks.on_epoch_end(epoch + 1, grid)
        self.save_checkpoint()
