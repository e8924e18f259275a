"""Training statistics: accumulated on the device, flushed as one ``stats.jsonl`` line.

Phases report dicts of scalar tensors; :meth:`StatsRecorder.record` adds them up on the
device without a host sync. :meth:`StatsRecorder.flush` (every ``--log-every`` steps)
averages them over the steps and over the ranks (one all-reduce), checks that every
value is finite, writes the line (rank 0) and hands it to the callbacks.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from .errors import ArtganError


class TrainingDiverged(ArtganError, RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class StatsRecorder:
    """Sums of ``<phase>/<key>`` statistics since the last flush, and the image rate."""

    def __init__(self, *, mean=lambda t: t, write=lambda record: None,
                 notify=lambda record: None, step: int = 0):
        self._mean, self._write, self._notify = mean, write, notify
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}
        self._last = (time.perf_counter(), step)
        self._rate = 0.0

    @property
    def pending(self) -> bool:
        """Whether statistics were recorded since the last flush."""
        return bool(self._sums)

    def restart(self, step: int) -> None:
        """Measure the image rate from ``step`` now (after a resume)."""
        self._last = (time.perf_counter(), step)

    def record(self, phase: str, out: dict[str, torch.Tensor]) -> None:
        """Accumulate on the device; no host sync until the next flush."""
        for key, value in out.items():
            name = f"{phase}/{key}"
            value = value.detach().float()
            self._sums[name] = self._sums[name] + value if name in self._sums else value
            self._counts[name] = self._counts.get(name, 0) + 1

    def flush(self, step: int, epoch: int, batch_size: int) -> dict[str, Any]:
        """The stats line for ``step``: means since the last flush, over every rank."""
        names = list(self._sums)
        values = self._mean(torch.stack([self._sums[n] for n in names])).cpu().tolist() \
            if names else []
        now, last_step = time.perf_counter(), self._last[1]
        images = (step - last_step) * batch_size
        if images:
            self._rate = round(images / max(now - self._last[0], 1e-9), 2)
        record: dict[str, Any] = {"step": step, "epoch": epoch, "images_per_s": self._rate}
        record.update({n: v / self._counts[n] for n, v in zip(names, values)})
        self._sums.clear()
        self._counts.clear()
        self._last = (now, step)
        bad = [n for n in names if not math.isfinite(record[n])]
        if bad:
            raise TrainingDiverged(
                f"{', '.join(bad)} became {record[bad[0]]} at step {step}; the last "
                f"checkpoint is kept. Try a lower --lr or --precision fp32.")
        self._write(record)
        self._notify(record)
        return record
