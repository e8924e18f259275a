"""Metrics during training: score the generator every N steps, keep the best checkpoint.

:class:`PeriodicEvaluation` is given built metric objects (see :class:`artgan.core.Metric`)
and the training data as the reference set. Each evaluation generates the same
``images`` latents (a fixed seed, so values at different steps are comparable), scores
them with every metric in one pass (FID, KID and IS share one feature extraction; the
reference statistics are cached on disk) and returns the ``metrics.jsonl`` record,
telling the trainer whether the first metric improved (then it writes
``checkpoints/best.pt``).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import torch

from artgan.core.errors import MetricError
from artgan.core.metric import Metric
from artgan.core.sampling import seeded_noise

from .evaluate import evaluate
from .features import RefStatsCache
from .image_sets import ImageSet

EVAL_SEED_OFFSET = 777  # generated images use seed config.seed + this, every time


def check_metrics(metrics: dict[str, Metric], images: int) -> None:
    """Ask every metric whether it can score ``images`` generated images (its ``check``);
    an impossible setting raises here, before training, naming ``--eval-images``."""
    for name, metric in metrics.items():
        check = getattr(metric, "check", None)  # plugins need not subclass Metric
        if check is None:
            continue
        try:
            check(images)
        except MetricError as exc:
            raise MetricError(f"--metric {name} cannot score --eval-images {images}: "
                              f"{exc}") from exc


class PeriodicEvaluation:
    """Scores ``generate(z, y)`` every ``every`` steps against ``data``.

    ``metrics`` maps names to metric objects; the first one ranks checkpoints by its
    ``key`` value in the direction of its ``higher_is_better``.
    """

    def __init__(self, metrics: dict[str, Metric], *, every: int, images: int,
                 data, data_spec: str, data_options: dict[str, Any] | None = None,
                 real_images: int | None = None, seed: int = 0):
        if not metrics:
            raise ValueError("PeriodicEvaluation needs at least one metric")
        check_metrics(metrics, images)
        self.metrics, self.every, self.images, self.seed = metrics, every, images, seed
        self.data, self.data_spec = data, data_spec
        self.data_options, self.real_images = dict(data_options or {}), real_images
        self.first = next(iter(metrics))
        self.best: dict[str, Any] | None = None  # {"metric", "key", "value", "step"}
        self._real = None

    @property
    def ranking(self) -> tuple[str, bool]:
        """(result key, higher is better) of the metric that picks ``best.pt``."""
        metric = self.metrics[self.first]
        return getattr(metric, "key", "") or self.first, bool(metric.higher_is_better)

    def prepare(self, device: torch.device) -> None:
        """Load every metric's network now (missing weights fail before training)."""
        for metric in self.metrics.values():
            if hasattr(metric, "prepare"):
                metric.prepare(device)

    def _reference(self):
        if self._real is None:
            self._real = ImageSet.from_data_source(
                self.data, spec=self.data_spec, options=self.data_options,
                count=self.real_images)
        return self._real

    def _generated(self, generate: Callable, z_dim: int, num_classes: int, batch: int,
                   device: torch.device | str | None = None):
        """The evaluated images: the same latents and the same generator noise (batch b
        under :func:`~artgan.core.sampling.seeded_noise` (seed, b), on ``device``: where
        ``generate`` runs, default the CPU) every time."""
        count, seed = self.images, self.seed + EVAL_SEED_OFFSET

        def batches():
            z = torch.randn(count, z_dim, generator=torch.Generator().manual_seed(seed))
            y = torch.arange(count) % num_classes if num_classes else None
            for b, start in enumerate(range(0, count, batch)):
                with seeded_noise(seed, b, device):
                    images = generate(z[start:start + batch],
                                      None if y is None else y[start:start + batch])
                yield images.cpu()
        return ImageSet(batches, count, f"generated ({count} images, seed {seed})")

    def run(self, *, step: int, epoch: int, generate: Callable, z_dim: int, num_classes: int,
            device: torch.device, batch: int = 64,
            progress: Callable | None = None) -> dict[str, Any]:
        """Evaluate now; returns the metrics.jsonl record (with ``is_best``).

        ``progress(label, total) -> advance``: see :data:`artgan.evaluation.image_sets.Progress`.
        """
        start = time.perf_counter()
        results = evaluate(self.metrics, self._generated(generate, z_dim, num_classes, batch,
                                                         torch.device(device)),
                           self._reference(), device=device, progress=progress,
                           cache=RefStatsCache())
        record: dict[str, Any] = {"step": step, "epoch": epoch}
        for name, result in results.items():
            key = getattr(self.metrics[name], "key", "") or name
            record[name] = result[key]
        record["seconds"] = round(time.perf_counter() - start, 2)
        record["is_best"] = self._update_best(record[self.first], step)
        record["details"] = results
        return record

    def _update_best(self, value: float, step: int) -> bool:
        key, higher = self.ranking
        if not math.isfinite(value):
            return False
        if self.best is not None:
            better = value > self.best["value"] if higher else value < self.best["value"]
            if not better:
                return False
        self.best = {"metric": self.first, "key": key, "value": float(value), "step": step}
        return True
