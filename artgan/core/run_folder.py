"""The run folder: every path a run writes, and the writers for them.

    runs/<name>/
      config.json             the resolved config (+ data summary), before step 0
      stats.jsonl             one JSON line per --log-every steps
      metrics.jsonl           with --metric: one JSON line per evaluation
      samples/epoch-0001.png  sample grids; samples/final.png at the end
      checkpoints/last.pt     everything needed to resume or sample
      checkpoints/best.pt     with --metric: the best evaluation so far
      report.html             the run's report page
      .lock                   while a run writes here: its pid (artgan.core.run_lock)

Only this module knows the layout. Under torchrun only rank 0 writes: a folder built
with ``writer=False`` knows the paths and writes nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from .atomic import DiskFullError, no_space, remove_stale_temps, save_atomic, \
    write_text_atomic
from .errors import CheckpointError
from .run_layout import BEST, CHECKPOINTS, CONFIG, FINAL_GRID, LAST, METRICS, REPORT, \
    SAMPLES, STATS  # noqa: F401 (the layout's names, public here)
from .run_lock import RunLock


class RunFolder:
    """Paths and writers of one run folder (see the module docstring)."""

    def __init__(self, root: str | os.PathLike, *, writer: bool = True):
        self.root = Path(root)
        self.writer = writer
        self._lock = RunLock(self.root)
        self._created = False  # the lock created the folder: removed again if left empty

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

    # -- the lock -----------------------------------------------------------------------
    def lock(self, note: Callable[[str], None] | None = None) -> None:
        """Take the folder's lock (a writer only): another run writing here is refused
        (:class:`~artgan.core.run_lock.RunFolderBusy`), a stale lock taken over with a
        ``note``. Then the temporary files of writes killed before are removed: no live
        process writes here any more. Does nothing if this object holds the lock."""
        if not self.writer or self._lock.held:
            return
        created = not self.root.exists()
        self._lock.acquire(note)
        self._created = self._created or created
        for folder in (self.root, self.root / CHECKPOINTS, self.samples):
            remove_stale_temps(folder, keep=(REPORT,))  # `artgan report` may write now

    def unlock(self) -> None:
        """Release the lock (if held); a folder the lock created and nothing else used
        is removed again."""
        if not self._lock.held:
            return
        self._lock.release()
        if self._created:
            try:
                self.root.rmdir()  # only if empty
            except OSError:
                pass

    # -- writers ------------------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> Path:
        """``config.json``, atomically."""
        if self.writer:
            write_text_atomic(self.config_path, json.dumps(config, indent=2) + "\n")
        return self.config_path

    def _append(self, path: Path, record: dict[str, Any]) -> None:
        """One JSON line at the end of ``path``; on a full disk the file is cut back to
        its lines before, and :class:`~artgan.core.atomic.DiskFullError` raised."""
        if not self.writer:
            return
        line = (json.dumps(record, default=str) + "\n").encode("utf-8")
        size = path.stat().st_size if path.is_file() else 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as fh:
                fh.write(line)
        except OSError as exc:
            code = no_space(exc)
            if code is None:
                raise
            if path.is_file():
                os.truncate(path, size)
            raise DiskFullError(path, code) from exc

    def truncate_logs(self, step: int) -> None:
        """Keep only the lines of ``stats.jsonl`` and ``metrics.jsonl`` up to ``step``
        (rewritten atomically): a run resumed at ``step`` writes the later ones again.
        A partial last line (a killed write) goes too."""
        if not self.writer:
            return
        for path in (self.stats_path, self.metrics_path):
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            kept = [line for line in text.splitlines(keepends=True)
                    if line.endswith("\n") and _step_of(line) is not None
                    and _step_of(line) <= step]
            if "".join(kept) != text:
                write_text_atomic(path, "".join(kept))

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


def _step_of(line: str) -> int | None:
    """The ``step`` of a JSON line of stats.jsonl or metrics.jsonl, or None."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    step = record.get("step") if isinstance(record, dict) else None
    return step if isinstance(step, int) else None


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
