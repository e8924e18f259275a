"""The DataSource interface: images as float tensors in [-1, 1], NCHW, and optional labels.

Batches are fetched by index so that the trainer owns shuffling: the permutation of an
epoch is a pure function of (seed, epoch), which makes resumed training identical to
uninterrupted training, and lets distributed ranks take disjoint slices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import torch


class DataSourceError(ValueError):
    """A data source cannot be used (missing folder, no images, bad argument)."""


@dataclass
class SkipReport:
    """Files a data source skipped, counted, with a few examples for the user."""

    count: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    max_examples: int = 5

    def add(self, path: str, reason: str) -> None:
        self.count += 1
        if len(self.examples) < self.max_examples:
            self.examples.append((path, reason))


class DataSource:
    """Base class for data sources.

    Subclasses set ``resolution``, ``channels`` and ``class_names`` (empty for unlabelled
    data) and implement ``__len__`` and :meth:`get_batch`. Class attributes
    ``default_resolution`` and ``default_epochs`` are used when the user gives none.
    """

    default_resolution: int = 64
    default_epochs: int = 25
    source_name: str = "data"

    def __init__(self, *, resolution: int, channels: int, class_names: list[str] | None = None):
        self.resolution = int(resolution)
        self.channels = int(channels)
        self.class_names = list(class_names or [])
        self.skipped = SkipReport()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def labelled(self) -> bool:
        return self.num_classes > 0

    def __len__(self) -> int:
        raise NotImplementedError

    def get_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return images (N, C, R, R) float in [-1, 1] and labels (N,) int64 or None."""
        raise NotImplementedError

    def load_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`get_batch` with its output checked; what the trainer calls."""
        images, labels = self.get_batch(indices)
        expected = (len(indices), self.channels, self.resolution, self.resolution)
        if tuple(images.shape) != expected or not images.is_floating_point():
            raise DataSourceError(
                f"data source {self.source_name!r} returned images {tuple(images.shape)} "
                f"{images.dtype}, expected {expected} floating point")
        if self.labelled and (labels is None or labels.shape != (len(indices),)):
            raise DataSourceError(f"data source {self.source_name!r} is labelled but returned "
                                  f"labels {None if labels is None else tuple(labels.shape)}")
        return images, labels

    def epoch_indices(self, epoch: int, seed: int) -> torch.Tensor:
        """The shuffled order of one epoch: a pure function of (seed, epoch)."""
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        return torch.randperm(len(self), generator=gen)

    def batches_per_epoch(self, batch_size: int) -> int:
        """Full batches per epoch (the last partial batch is dropped; at least 1)."""
        return max(1, len(self) // batch_size)

    def epoch_batches(self, batch_size: int, epoch: int, seed: int,
                      start: int = 0) -> Iterator[torch.Tensor]:
        """Yield index tensors for the batches of ``epoch``, from batch number ``start``."""
        order = self.epoch_indices(epoch, seed)
        if len(order) < batch_size:  # tiny folders: repeat the order to fill a batch
            order = order.repeat(batch_size // len(order) + 1)
        for b in range(start, self.batches_per_epoch(batch_size)):
            yield order[b * batch_size:(b + 1) * batch_size]


class InMemoryDataSource(DataSource):
    """A data source whose preprocessed images fit in memory as one uint8 tensor.

    ``images`` is (N, C, R, R) uint8; ``labels`` is (N,) int64 or None.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None = None,
                 class_names: list[str] | None = None):
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[2] != images.shape[3]:
            raise DataSourceError(f"expected uint8 images (N, C, R, R), got "
                                  f"{tuple(images.shape)} {images.dtype}")
        super().__init__(resolution=images.shape[2], channels=images.shape[1],
                         class_names=class_names)
        self.images = images.contiguous()
        self.labels = labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def get_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        # uint8 [0, 255] -> float [-1, 1]
        images = self.images[indices].float().div_(127.5).sub_(1.0)
        labels = self.labels[indices] if self.labels is not None else None
        return images, labels
