"""Training statistics: accumulated on the device, flushed as one ``stats.jsonl`` line.

Phases report dicts of scalar tensors; :meth:`StatsRecorder.record` adds them up on the
device without a host sync. :meth:`StatsRecorder.flush` (every ``--log-every`` steps)
averages them over the steps and over the ranks (one all-reduce), checks that every
value is finite, writes the line (rank 0) and hands it to the callbacks.

The sums double as the divergence check of every step: a NaN or an infinity recorded at
any step stays in its sum until the flush (finite values never add up to NaN), so
:meth:`StatsRecorder.nonfinite` (one host sync, before each checkpoint) sees a loss
that went bad at any step since the last line, at no per-step cost.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from .errors import ArtganError


class TrainingDiverged(ArtganError, RuntimeError):
    """A loss or a weight became NaN or infinite; the last finite checkpoint is kept."""

#: What a :class:`TrainingDiverged` message advises.
ADVICE = "Start again with a lower --lr, or with --precision fp32."


class StatsRecorder:
    """Sums of ``<phase>/<key>`` statistics since the last flush, and the image rate."""

    def __init__(self, *, mean=lambda t: t, write=lambda record: None,
                 notify=lambda record: None, step: int = 0,
                 kept=lambda: "the last checkpoint is kept"):
        self._mean, self._write, self._notify = mean, write, notify
        self._kept = kept  # says which checkpoint survives a divergence
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

    def nonfinite(self, *, across_ranks: bool = True) -> list[str]:
        """The statistics that were NaN or infinite at some step since the last flush
        (one host sync; ``across_ranks``: one all-reduce, so every rank must call it)."""
        names = list(self._sums)
        if not names:
            return []
        sums = torch.stack([self._sums[n] for n in names])
        finite = torch.isfinite(self._mean(sums) if across_ranks else sums).tolist()
        return [n for n, ok in zip(names, finite) if not ok]

    def since(self) -> int:
        """The step of the last flush (or restart)."""
        return self._last[1]

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
                f"training diverged: {', '.join(bad)} became {record[bad[0]]} by step "
                f"{step} (after step {last_step}); {self._kept()}. {ADVICE}")
        self._write(record)
        self._notify(record)
        return record


def finite_tensors(tensors: list[torch.Tensor]) -> list[bool]:
    """Whether each tensor holds only finite values, with one fused reduction (the
    largest magnitude of each tensor, finite exactly when all its values are) and one
    host sync."""
    if not tensors:
        return []
    try:
        peaks = torch._foreach_norm(tensors, ord=float("inf"))
    except (AttributeError, RuntimeError, TypeError):  # no fused kernel for this mix
        peaks = [t.abs().max() if t.numel() else t.new_zeros(()) for t in tensors]
    return torch.isfinite(torch.stack([p.float() for p in peaks])).tolist()


class ExplosionWatch:
    """Warns once per run when a logged loss explodes (``|loss| > LIMIT``): training is
    then unstable and usually ends in noise or NaN, long before it says so."""

    LIMIT = 1e4

    def __init__(self, advice: str = ""):
        self.advice = advice
        self.warned = False

    def check(self, record: dict[str, Any]) -> str | None:
        """The warning for this stats line, or None (also after the first warning)."""
        if self.warned:
            return None
        big = {k: v for k, v in record.items() if k.endswith("loss")
               and isinstance(v, float) and abs(v) > self.LIMIT}
        if not big:
            return None
        self.warned = True
        values = ", ".join(f"{k}={v:.3g}" for k, v in big.items())
        return (f"losses are exploding at step {record['step']} ({values}; a healthy run "
                f"stays within about ±{self.LIMIT:g}): training is unstable and will "
                f"likely produce noise. {self.advice}".rstrip())
