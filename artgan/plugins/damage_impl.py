"""The ``damage:SPEC`` data source: another source's images as clean targets, each paired
with a synthetically damaged copy and its damage mask (see :mod:`artgan.plugins.damage`).

The input of each example (``condition``, what the restorer sees) is::

    torch.cat([damaged image (C channels, [-1, 1]),
               mask (1 channel: +1 where a pixel is known to be damaged, -1 elsewhere)])

The mask marks the local damage (holes, strokes, cracks, scratches); global degradations
(blur, noise, JPEG, fading, colour cast) are not in it. Kinds apply in the order of
:data:`~artgan.plugins.damage.KINDS`: fading and casts first, then the local damage, then
blur, noise and JPEG over everything (as in a photo of the damaged painting), so those
may smear local damage a pixel or two beyond its mask. The damage of image ``i`` in
epoch ``e`` is a pure function of (seed, e, i): every epoch shows each image with new
damage, and a resumed or distributed run sees the same damage as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from artgan.core.config import parse_data_spec
from artgan.core.data import DataSource, DataSourceError, input_folders_of
from artgan.core.errors import ArtganError
from artgan.core.options import build_options
from artgan import components
from artgan.plugins.damage import DamageOptions
from artgan.plugins.damage_kinds import DamagePlan

NAME = "damage"


def damage_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit generator seed from (seed, epoch, image index), well mixed (BLAKE2b)."""
    digest = hashlib.blake2b(f"{seed}:{epoch}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def mask_channel(mask: torch.Tensor) -> torch.Tensor:
    """A bool damage mask -> the condition's mask channel: +1 damaged, -1 elsewhere."""
    return mask.float() * 2 - 1


def parse_inner_options(text: str) -> dict[str, str]:
    """``"labels=none,cache=false"`` -> {"labels": "none", "cache": "false"}."""
    values = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DataSourceError(f"-o data.inner: expected KEY=VALUE pairs separated by "
                                  f"commas (labels=none,cache=false); got {item!r}")
        values[key.strip().replace("-", "_")] = value.strip()
    return values


def _inner_spec(argument: str | None) -> tuple[Any, str | None]:
    """The registry entry and the argument of the inner spec, checked."""
    if not argument or not argument.strip():
        raise DataSourceError("damage needs the data to damage: --data damage:SPEC, for "
                              "example --data damage:folder:./paintings or damage:demo")
    registry = components.load_plugins()
    try:
        name, inner_argument = parse_data_spec(argument, registry)
    except ArtganError:  # a path: the only spec parse_data_spec refuses
        raise DataSourceError(f"--data damage:{argument}: {argument!r} looks like a path; "
                              f"did you mean --data damage:folder:{argument} ?") from None
    try:
        entry = registry.get("data", name)
    except ArtganError as exc:
        raise DataSourceError(f"--data damage:{argument}: {exc}") from None
    if entry.name == NAME:
        raise DataSourceError(f"--data damage:{argument}: damage cannot wrap another damage "
                              f"source; list all kinds in one: -o data.kinds=holes,cracks,...")
    return entry, inner_argument


def _inner_options(entry, text: str) -> Any:
    """The inner source's options instance from ``-o data.inner=...``, validated."""
    try:
        return build_options(entry.options, parse_inner_options(text),
                             owner=f"-o data.inner (the {entry.name} source)")
    except ArtganError as exc:
        raise DataSourceError(str(exc)) from None


class DamagedDataSource(DataSource):
    """``DamagedDataSource(inner, plan, seed=0)``: the images of ``inner`` (clean targets,
    and its labels) with the damage ``plan`` draws for each; ``get_batch`` returns
    (clean, labels, condition) with ``condition_channels = channels + 1``.

    ``skipped`` is the inner source's report of skipped files; ``inner`` the source.
    """

    default_resolution = 64
    default_epochs = 25

    def __init__(self, inner: DataSource, plan: DamagePlan, *, seed: int = 0):
        if inner.condition_channels:
            raise DataSourceError(f"damage needs a source of plain images; "
                                  f"{inner.source_name!r} already pairs them with input "
                                  f"images")
        super().__init__(resolution=inner.resolution, channels=inner.channels,
                         class_names=inner.class_names)
        self.inner, self.plan, self.seed = inner, plan, int(seed)
        self.condition_channels = self.channels + 1
        self.skipped = inner.skipped
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.inner)

    def set_epoch(self, epoch: int) -> None:
        """Damage drawn from now on is epoch ``epoch``'s; the inner source is told too."""
        self.epoch = int(epoch)
        self.inner.set_epoch(epoch)

    def damage(self, image: torch.Tensor, index: int, epoch: int | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(damaged, mask (1, H, W) bool) of ``image``, which is image ``index`` of the
        inner source, in ``epoch`` (default: the current one)."""
        epoch = self.epoch if epoch is None else int(epoch)
        gen = torch.Generator().manual_seed(damage_seed(self.seed, epoch, int(index)))
        return self.plan(image, gen)

    def get_batch(self, indices: torch.Tensor):
        batch = self.inner.load(indices)
        conditions = []
        for image, index in zip(batch.images, indices.tolist()):
            damaged, mask = self.damage(image, index)
            conditions.append(torch.cat([damaged, mask_channel(mask)]))
        return batch.images, batch.labels, torch.stack(conditions)

    @classmethod
    def count_images(cls, argument: str | None, options: DamageOptions | None = None
                     ) -> int | None:
        """What the inner source counts (``--recipe auto`` reads it), or None."""
        try:
            entry, inner_argument = _inner_spec(argument)
            factory = entry.load_factory()
            counter = getattr(getattr(factory, "__self__", factory), "count_images", None)
            if counter is None:
                return None
            return counter(inner_argument,
                           _inner_options(entry, (options or DamageOptions()).inner))
        except DataSourceError:
            return None  # reported when the source is built

    @classmethod
    def input_folders(cls, argument: str | None) -> list[str]:
        """The inner source's folders."""
        entry, inner_argument = _inner_spec(argument)
        return input_folders_of(entry, inner_argument)

    @classmethod
    def from_spec(cls, argument: str | None, options: DamageOptions | None, *,
                  resolution: int | None, channels: int, seed: int = 0) -> DamagedDataSource:
        """The registered factory: ``argument`` is the inner SPEC of ``damage:SPEC``."""
        options = options or DamageOptions()
        plan = DamagePlan.from_options(options)
        entry, inner_argument = _inner_spec(argument)
        inner_options = vars(_inner_options(entry, options.inner))
        inner = components.build("data", entry.name, inner_options, inner_argument,
                                 resolution=resolution, channels=channels, seed=seed)
        return cls(inner, plan, seed=seed)
