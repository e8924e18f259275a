"""The DataSource interface: images as float tensors in [-1, 1], NCHW, optional labels and
an optional input image per example (the condition of image-to-image models).

Batches are fetched by index so that the trainer owns shuffling: the permutation of an
epoch is a pure function of (seed, epoch), which makes resumed training identical to
uninterrupted training, and lets distributed ranks take disjoint slices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, NamedTuple

import torch

from .errors import ArtganError, guarded


class DataSourceError(ArtganError, ValueError):
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


class Batch(NamedTuple):
    """One batch: ``images`` (N, C, H, W) in [-1, 1] (H = resolution, W = width: the same
    for square images), ``labels`` (N,) int64 or None, and
    ``condition`` (N, condition_channels, H, W) in [-1, 1] or None: what an
    image-to-image generator starts from (a damaged image and its mask, a photo)."""

    images: torch.Tensor
    labels: torch.Tensor | None = None
    condition: torch.Tensor | None = None


def input_folders_of(entry, argument: str | None) -> list[str]:
    """The folders the registered data source ``entry`` reads with ``argument`` (its
    classmethod ``input_folders``); [] when it does not say or cannot tell."""
    owner = entry.component_class()
    method = getattr(owner, "input_folders", None)
    if method is None:
        return []
    try:
        return [str(folder) for folder in method(argument) or ()]
    except ArtganError:
        return []  # a bad argument: reported when the source is built


class DataSource:
    """Base class for data sources.

    Subclasses set ``resolution``, ``channels`` and ``class_names`` (empty for unlabelled
    data) and implement ``__len__`` and :meth:`get_batch`. Class attributes
    ``default_resolution`` and ``default_epochs`` are used when the user gives none.

    Optional:

    - ``condition_channels`` > 0 and ``get_batch`` returning (images, labels, condition):
      paired data for image-to-image models (the input image of each target image).
    - ``count_images(argument, options) -> int | None``, a classmethod: how many images
      ``--data NAME:ARGUMENT`` holds, counted cheaply before anything is loaded. A source
      that answers opts into ``--recipe auto``'s small-data recipe for small data sets.
    - ``input_folders(argument) -> list[str]``, a classmethod: the folders ``--data
      NAME:ARGUMENT`` reads images from; a run folder (``--out``) inside one is refused,
      since the next run would train on its sample grids.
    - ``set_epoch(epoch)``: called by the trainer before each epoch (and on resume), for
      sources that draw random variations per epoch (synthetic damage, random crops):
      draw them from (seed, epoch, image index) so a resumed or distributed run sees the
      same ones.
    """

    default_resolution: int = 64
    default_epochs: int = 25
    source_name: str = "data"
    condition_channels: int = 0
    #: Whether the source can give non-square images (``--aspect``): its factory then
    #: accepts ``width`` (passed only when it differs from ``resolution``, the height).
    non_square: bool = False
    #: Stamped by the registry: who provides the source, for messages.
    component_source: str = ""

    def __init__(self, *, resolution: int, channels: int, class_names: list[str] | None = None,
                 width: int | None = None):
        self.resolution = int(resolution)
        self._width = None if width is None else int(width)
        self.channels = int(channels)
        self.class_names = list(class_names or [])
        self.skipped = SkipReport()
        #: Things the user should know about the data (printed by ``artgan run``).
        self.notes: list[str] = []

    _width: int | None = None  # (sources that set their attributes without __init__)

    @property
    def width(self) -> int:
        """Image width; ``resolution`` is the height (the same for square images)."""
        return self.resolution if self._width is None else self._width

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def labelled(self) -> bool:
        return self.num_classes > 0

    def __len__(self) -> int:
        raise NotImplementedError

    def get_batch(self, indices: torch.Tensor):
        """Return images (N, C, R, R) float in [-1, 1] and labels (N,) int64 or None; with
        ``condition_channels``, also the condition (N, condition_channels, R, R)."""
        raise NotImplementedError

    def set_epoch(self, epoch: int) -> None:
        """The trainer is about to read ``epoch`` (see the class docstring)."""

    def load(self, indices: torch.Tensor) -> Batch:
        """:meth:`get_batch` with its output checked, as a :class:`Batch`; what the
        trainer calls."""
        source = f" ({self.component_source})" if self.component_source else ""
        batch = Batch(*guarded(f"data source {self.source_name!r}{source}", "get_batch",
                               self.get_batch, indices))
        n = len(indices)
        expected = (n, self.channels, self.resolution, self.width)
        images = batch.images
        if tuple(images.shape) != expected or not images.is_floating_point():
            raise DataSourceError(
                f"data source {self.source_name!r} returned images {tuple(images.shape)} "
                f"{images.dtype}, expected {expected} floating point")
        if self.labelled and (batch.labels is None or batch.labels.shape != (n,)):
            labels = None if batch.labels is None else tuple(batch.labels.shape)
            raise DataSourceError(f"data source {self.source_name!r} is labelled but returned "
                                  f"labels {labels}")
        if self.condition_channels:
            wanted = (n, self.condition_channels, *expected[2:])
            got = None if batch.condition is None else tuple(batch.condition.shape)
            if got != wanted:
                raise DataSourceError(f"data source {self.source_name!r} returned the input "
                                      f"images (condition) {got}, expected {wanted}")
        return batch

    def load_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(images, labels) of :meth:`load`."""
        batch = self.load(indices)
        return batch.images, batch.labels

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


def _to_unit_range(images: torch.Tensor) -> torch.Tensor:
    # uint8 [0, 255] -> float [-1, 1]
    return images.float().div_(127.5).sub_(1.0)


class InMemoryDataSource(DataSource):
    """A data source whose preprocessed images fit in memory as one uint8 tensor.

    ``InMemoryDataSource(images, labels=None, class_names=None, conditions=None)``:
    ``images`` is (N, C, H, W) uint8 (H is the resolution; W = H unless the images are
    non-square); ``labels`` (N,) int64 or None; ``conditions`` (N, K, H, W) uint8 or
    None, the input image of each example for image-to-image models.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None = None,
                 class_names: list[str] | None = None, conditions: torch.Tensor | None = None):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise DataSourceError(f"expected uint8 images (N, C, H, W), got "
                                  f"{tuple(images.shape)} {images.dtype}")
        if conditions is not None and (conditions.dtype != torch.uint8 or conditions.ndim != 4
                                       or conditions.shape[0] != images.shape[0]
                                       or conditions.shape[2:] != images.shape[2:]):
            raise DataSourceError(f"expected uint8 conditions (N, K, R, R) matching the "
                                  f"images, got {tuple(conditions.shape)} {conditions.dtype}")
        super().__init__(resolution=images.shape[2], channels=images.shape[1],
                         class_names=class_names, width=images.shape[3])
        self.images = images.contiguous()
        self.labels = labels
        self.conditions = conditions
        self.condition_channels = 0 if conditions is None else int(conditions.shape[1])

    def __len__(self) -> int:
        return self.images.shape[0]

    def get_batch(self, indices: torch.Tensor):
        images = _to_unit_range(self.images[indices])
        labels = self.labels[indices] if self.labels is not None else None
        if self.conditions is None:
            return images, labels
        return images, labels, _to_unit_range(self.conditions[indices])
