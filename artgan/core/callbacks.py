"""How the trainer reports: callbacks for whoever shows progress, and its interruption."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any, Callable


class TrainingInterrupted(Exception):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint."""

    def __init__(self, signum: int, step: int, checkpoint: Path):
        super().__init__(f"interrupted by {signal.Signals(signum).name} at step {step}; "
                         f"checkpoint saved to {checkpoint}")
        self.signum, self.step, self.checkpoint = signum, step, checkpoint


class TrainerCallbacks:
    """Hooks for whoever shows progress (the CLI). Every method is optional."""

    def on_start(self, trainer: Any) -> None: ...  # the Trainer, about to fit
    def on_log(self, record: dict[str, Any]) -> None: ...
    def on_epoch_end(self, epoch: int, grid: Path) -> None: ...  # epochs with a grid
    def on_checkpoint(self, path: Path) -> None: ...
    def on_eval(self, record: dict[str, Any]) -> None: ...
    def on_warning(self, message: str) -> None: ...

    def eval_progress(self, label: str, total: int | None) -> Callable[[int], None] | None:
        """An evaluation's pass over ``total`` images (feature extraction, MS-SSIM pairs)
        starts: return ``advance(n)``, called after each batch of n images, or None."""
        return None
