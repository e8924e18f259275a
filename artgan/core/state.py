"""What a trainer saves in a checkpoint and restores from one, so that a resumed run
continues exactly as if it had never stopped (a test checks this bit for bit on CPU).

Nothing NaN or infinite is ever written: before each checkpoint the losses of every step
since the last check and all weights are checked (:meth:`TrainerState.checked_state`),
and a run that diverged stops with the last finite checkpoint kept."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import torch

from .checkpoint import FORMAT_VERSION
from .loss import DISCRIMINATOR, GENERATOR
from .stats import ADVICE, TrainingDiverged, finite_tensors
from .version import __version__


class TrainerState:
    """The checkpoint of a :class:`~artgan.core.trainer.Trainer` (a mixin of it)."""

    def state_dict(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        loss_state = self.loss.state_dict() if hasattr(self.loss, "state_dict") else None
        return {"format": FORMAT_VERSION, "artgan_version": __version__,
                "config": self.config.to_dict(), "step": self.step, "epoch": self.epoch,
                "generator": self.G.state_dict(), "discriminator": self.D.state_dict(),
                **({"generator_ema": self.ema.state_dict()} if self.ema is not None else {}),
                **({"ada": self.ada.state_dict()} if self.ada is not None else {}),
                **({"loss_state": loss_state} if loss_state is not None else {}),
                "opt_g": self.optimizers[GENERATOR].state_dict(),
                "opt_d": self.optimizers[DISCRIMINATOR].state_dict(),
                "scaler_g": self.scalers[GENERATOR].state_dict(),
                "scaler_d": self.scalers[DISCRIMINATOR].state_dict(),
                "num_classes": self.G.num_classes, "class_names": list(self.data.class_names),
                "condition_channels": self.G.condition_channels,
                "rng": rng, "watch_best": self.collapse_watch.best,
                "best_metric": self.evaluation.best if self.evaluation is not None else None}

    def checked_state(self, *, across_ranks: bool = True) -> dict[str, Any]:
        """:meth:`state_dict`, once nothing went NaN or infinite since the last check: the
        losses of every step since the last stats line (their sums, one sync) and every
        weight (one fused reduction). Else :class:`TrainingDiverged`, so a non-finite
        state is never written over the last finite checkpoint. ``across_ranks``: every
        rank calls this (one all-reduce); False for rank 0's own saves."""
        bad = self.stats.nonfinite(across_ranks=across_ranks)
        if bad:
            first = self.stats.since() + 1
            when = f"at step {self.step}" if first >= self.step else \
                f"between steps {first} and {self.step}"
            raise TrainingDiverged(
                f"training diverged: {', '.join(bad)} became NaN or infinite {when}; "
                f"{self.kept_checkpoint()}. {ADVICE}")
        networks = self.nonfinite_weights()
        if networks:
            raise TrainingDiverged(
                f"training diverged: weights of the {' and '.join(networks)} became NaN or "
                f"infinite by step {self.step}; {self.kept_checkpoint()}. {ADVICE}")
        return self.state_dict()

    def nonfinite_weights(self) -> list[str]:
        """The networks (generator, discriminator, EMA generator) with a NaN or infinite
        parameter or buffer."""
        modules = {"generator": self.G, "discriminator": self.D}
        if self.ema is not None:
            modules["EMA generator"] = self.ema.module
        owners, tensors = [], []
        for name, module in modules.items():
            for t in itertools.chain(module.parameters(), module.buffers()):
                if t.is_floating_point():
                    owners.append(name)
                    tensors.append(t.detach())
        bad = {name for name, ok in zip(owners, finite_tensors(tensors)) if not ok}
        return [name for name in modules if name in bad]

    def kept_checkpoint(self) -> str:
        """Which checkpoint survives a divergence, in words."""
        if self.saved_step is None:
            return "no checkpoint had been written yet"
        return (f"the last finite checkpoint ({self.folder.last_checkpoint}, step "
                f"{self.saved_step}) is kept")

    def save_checkpoint(self) -> Path:
        """Rank 0 writes ``checkpoints/last.pt``, if nothing became NaN or infinite
        (:meth:`checked_state`); the other ranks wait until it is there."""
        path = self.folder.save_checkpoint(self.checked_state())
        self.saved_step = self.step
        if self.dist.is_main:
            self.callbacks.on_checkpoint(path)
        self.dist.barrier()
        return path

    def _save_after_failed_evaluation(self) -> None:
        """Write ``last.pt`` and say so. Only rank 0 evaluates, so no barrier here (the
        other ranks are already waiting at the next step's gradient exchange)."""
        path = self.folder.save_checkpoint(self.checked_state(across_ranks=False))
        self.saved_step = self.step
        self.callbacks.on_checkpoint(path)
        self.callbacks.on_warning(f"evaluation failed at step {self.step}; checkpoint saved "
                                  f"to {path} (continue with: artgan run --resume "
                                  f"{self.folder.root})")

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        """Restore everything :meth:`state_dict` saved; training continues exactly."""
        self.G.load_state_dict(ckpt["generator"])
        self.D.load_state_dict(ckpt["discriminator"])
        if self.ema is not None:  # a checkpoint from before EMA: start the average at G
            self.ema.load_state_dict(ckpt.get("generator_ema", ckpt["generator"]))
        if self.ada is not None and "ada" in ckpt:
            self.ada.load_state_dict(ckpt["ada"])
        if "loss_state" in ckpt and hasattr(self.loss, "load_state_dict"):
            self.loss.load_state_dict(ckpt["loss_state"])
        self.optimizers[GENERATOR].load_state_dict(ckpt["opt_g"])
        self.optimizers[DISCRIMINATOR].load_state_dict(ckpt["opt_d"])
        if ckpt.get("scaler_g"):
            self.scalers[GENERATOR].load_state_dict(ckpt["scaler_g"])
            self.scalers[DISCRIMINATOR].load_state_dict(ckpt["scaler_d"])
        self.step = int(ckpt["step"])
        self.collapse_watch.best = float(ckpt.get("watch_best", 0.0))
        if self.evaluation is not None and ckpt.get("best_metric"):
            self.evaluation.best = dict(ckpt["best_metric"])
        self.stats.restart(self.step)
        self.saved_step = self.step if self.folder.holds_run() else None
        self.folder.truncate_logs(self.step)  # the steps after it are trained again
        torch.set_rng_state(ckpt["rng"]["torch"])
        if self.device.type == "cuda" and "cuda" in ckpt["rng"]:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"], self.device)
