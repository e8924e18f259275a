"""The run folder: every path a run writes, and the writers for them.

    runs/<name>/
      config.json             the resolved config (+ data summary), before step 0
      stats.jsonl             one JSON line per --log-every steps
      metrics.jsonl           with --metric: one JSON line per evaluation
      samples/epoch-0001.png  sample grids; samples/final.png at the end
      checkpoints/last.pt     everything needed to resume or sample
      checkpoints/best.pt     with --metric: the best evaluation so far
      report.html             the run's report page

Only this module knows the layout. Under torchrun only rank 0 writes: a folder built
with ``writer=False`` knows the paths and writes nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .atomic import save_atomic, write_text_atomic
from .errors import CheckpointError

CONFIG, STATS, METRICS, REPORT = "config.json", "stats.jsonl", "metrics.jsonl", "report.html"
SAMPLES, CHECKPOINTS, LAST, BEST, FINAL_GRID = "samples", "checkpoints", "last.pt", "best.pt", \
    "final.png"


class RunFolder:
    """Paths and writers of one run folder (see the module docstring)."""

    def __init__(self, root: str | os.PathLike, *, writer: bool = True):
        self.root = Path(root)
        self.writer = writer

    def __repr__(self) -> str:
        return f"RunFolder({str(self.root)!r})"

    # -- paths --------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / CONFIG

    @property
    def stats_path(self) -> Path:
        return self.root / STATS

    @property
    def metrics_path(self) -> Path:
        return self.root / METRICS

    @property
    def report_path(self) -> Path:
        return self.root / REPORT

    @property
    def samples(self) -> Path:
        return self.root / SAMPLES

    @property
    def last_checkpoint(self) -> Path:
        return self.root / CHECKPOINTS / LAST

    @property
    def best_checkpoint(self) -> Path:
        return self.root / CHECKPOINTS / BEST

    @property
    def final_grid(self) -> Path:
        return self.samples / FINAL_GRID

    def epoch_grid(self, epoch: int) -> Path:
        """The sample grid written after ``epoch`` (counted from 1)."""
        return self.samples / f"epoch-{epoch:04d}.png"

    def holds_run(self) -> bool:
        """Whether a run has saved a checkpoint here."""
        return self.last_checkpoint.is_file()

    # -- writers ------------------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> Path:
        """``config.json``, atomically."""
        if self.writer:
            write_text_atomic(self.config_path, json.dumps(config, indent=2) + "\n")
        return self.config_path

    def _append(self, path: Path, record: dict[str, Any]) -> None:
        if self.writer:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, default=str) + "\n")

    def append_stats(self, record: dict[str, Any]) -> None:
        self._append(self.stats_path, record)

    def append_metrics(self, record: dict[str, Any]) -> None:
        self._append(self.metrics_path, record)

    def save_checkpoint(self, state: dict[str, Any], *, best: bool = False) -> Path:
        """``checkpoints/last.pt`` (or ``best.pt``), atomically."""
        path = self.best_checkpoint if best else self.last_checkpoint
        if self.writer:
            save_atomic(state, path)
        return path

    def save_grid(self, images, path: Path, nrow: int = 8) -> Path:
        """A PNG grid of images in [-1, 1] at ``path`` (one of this folder's grids)."""
        if self.writer:
            from .images import save_grid

            save_grid(images, path, nrow=nrow)
        return path


def checkpoint_file(path: str | os.PathLike) -> Path:
    """A checkpoint file, or a run folder's ``checkpoints/last.pt``."""
    path = Path(path)
    if path.is_dir():
        folder = RunFolder(path)
        if not folder.holds_run():
            raise CheckpointError(f"{path} is a folder without {CHECKPOINTS}/{LAST}: "
                                  f"give a run folder or a .pt file")
        return folder.last_checkpoint
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    return path


def folder_of_checkpoint(path: str | os.PathLike) -> RunFolder:
    """The run folder a checkpoint belongs to: the folder above ``checkpoints/``, else the
    file's own folder."""
    path = checkpoint_file(path)
    root = path.parent.parent if path.parent.name == CHECKPOINTS else path.parent
    return RunFolder(root)
