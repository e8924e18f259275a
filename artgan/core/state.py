"""What a trainer saves in a checkpoint and restores from one, so that a resumed run
continues exactly as if it had never stopped (a test checks this bit for bit on CPU)."""

from __future__ import annotations

from typing import Any

import torch

from .checkpoint import FORMAT_VERSION
from .loss import DISCRIMINATOR, GENERATOR
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
        torch.set_rng_state(ckpt["rng"]["torch"])
        if self.device.type == "cuda" and "cuda" in ckpt["rng"]:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"], self.device)
