"""The ``unpaired`` data source: two sets of images of different domains, not paired.

``--data unpaired:SPEC_A,SPEC_B``, each SPEC written as after ``--data``
(``folder:./photos``, or a bare name such as ``demo``). Splitting: the comma followed by
the name of a data source and a colon (``,folder:``), or by a name that ends the text
(``,demo``), separates the sides; every other comma belongs to a path, so
``unpaired:folder:./a,b,folder:./monet`` reads ``./a,b`` and ``./monet``. (Only a path
that itself contains ``,folder:`` cannot be written; rename or link it.)

Each side is built through the registry at about 1.12x the resolution (option
``load_scale``), so it keeps its own loading rules (the folder source's skipping of bad
files and its disk cache), and is then randomly cropped to the resolution and flipped,
like CycleGAN's ``unaligned`` data set. Example ``i`` of an epoch pairs A image
``i % len(A)`` with B image ``perm_B[i % len(B)]`` (a fresh permutation of B every
epoch); the source holds ``max(len(A), len(B))`` examples. Crops, flips and the
permutation are a pure function of (seed, epoch, index): the trainer calls
:meth:`~UnpairedDataSource.set_epoch` before each epoch, so resumed and distributed runs
see the same ones.

``--data unpaired`` with no argument is the built-in demo pair ``demo:stripes,demo:waves``
(:data:`DEMO_PAIR`, 256 images a side unless ``-o data.size=N``), to try a translation
model without images of one's own.

A batch is ``images`` = the B images (the target domain: the real images the
discriminator of B sees) and ``condition`` = the A images (what the generator
translates); no labels.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import torch

from artgan.core.config import parse_data_spec
from artgan.core.data import Batch, DataSource, DataSourceError, SkipReport, input_folders_of
from artgan.core.errors import ArtganError
from artgan.components import load_plugins
from artgan.core.options import build_options
from artgan.plugins.unpaired import FORWARDED, UnpairedOptions

SIDES = ("A", "B")
#: ``--data unpaired`` alone: the built-in demo art, stripes (A) to waves (B), with
#: :data:`DEMO_SIZE` images a side unless ``-o data.size=N``; nothing to download.
DEMO_PAIR, DEMO_SIZE = ("demo:stripes", "demo:waves"), 256
USAGE = "--data unpaired:folder:A,folder:B (domain A first, e.g. photos, then B, e.g. monet)"


def _registry():
    return load_plugins()


def split_sides(argument: str | None, data_names: list[str]) -> tuple[str, str]:
    """``"folder:./a,folder:./b"`` -> ``("folder:./a", "folder:./b")``: split at the commas
    followed by a data source name and a colon or the end (see the module docstring).
    No argument: :data:`DEMO_PAIR`."""
    if not argument or not argument.strip():
        return DEMO_PAIR
    names = "|".join(re.escape(n) for n in sorted(data_names, key=len, reverse=True))
    parts = re.split(rf",\s*(?=(?:{names})(?::|$))", argument.strip(), flags=re.IGNORECASE)
    stray = re.search(r",\s*([A-Za-z][A-Za-z0-9_-]+):", argument) if len(parts) == 1 else None
    if stray:  # a second side whose source name is not registered
        raise DataSourceError(f"unpaired:{argument}: unknown data source {stray.group(1)!r} "
                              f"for side B; known data sources: {', '.join(data_names)}")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        got = f"{len(parts)} source{'s' if len(parts) != 1 else ''}"
        hint = (" (each side needs its source name: unpaired:folder:./photos,folder:./monet)"
                if len(parts) == 1 and "," in argument else "")
        raise DataSourceError(f"unpaired:{argument}: expected exactly two data sources, "
                              f"got {got}{hint}; {USAGE}")
    return parts[0].strip(), parts[1].strip()


def _side_options(entry, options: UnpairedOptions, demo_pair: bool = False) -> dict[str, Any]:
    """The options of one side: the forwarded ones set here that its source also has,
    and ``labels=none`` (domains have no classes; the folder source would otherwise skip
    images lying beside class subfolders). ``demo_pair``: the default pair's size."""
    fields = {f.name for f in dataclasses.fields(entry.options)}
    defaults = UnpairedOptions()
    values = {key: getattr(options, key) for key in FORWARDED
              if key in fields and getattr(options, key) != getattr(defaults, key)}
    if "labels" in fields:
        values["labels"] = "none"
    if demo_pair and "size" in fields:
        values.setdefault("size", DEMO_SIZE)
    return values


def _parse_side(spec: str, side: str):
    """(registry entry, argument) of one side's spec, with errors naming the side."""
    registry = _registry()
    try:
        name, argument = parse_data_spec(spec, registry)
        entry = registry.get("data", name)
    except (ArtganError, KeyError) as exc:
        raise DataSourceError(f"unpaired side {side} ({spec}): {exc}") from exc
    if entry.name == "unpaired":
        raise DataSourceError(f"unpaired side {side} ({spec}): a side must be a source of "
                              f"images (folder:PATH), not another unpaired pair")
    return entry, argument


def load_size(resolution: int, load_scale: float) -> int:
    """The side the images are loaded at before cropping (286 for 256 at 1.12)."""
    return max(resolution, int(resolution * load_scale + 1e-9))


class UnpairedDataSource(DataSource):
    """Two unpaired image sets (see the module docstring): ``sides`` holds the two built
    data sources (A, B), ``specs`` their specs. ``condition_channels = channels``."""

    default_resolution = 256
    default_epochs = 200  # CycleGAN: 100 epochs at the full rate, 100 decaying

    def __init__(self, side_a: DataSource, side_b: DataSource, *, resolution: int,
                 channels: int, seed: int = 0, options: UnpairedOptions | None = None,
                 specs: tuple[str, str] = ("A", "B")):
        options = options or UnpairedOptions()
        super().__init__(resolution=resolution, channels=channels)
        self.load_size = load_size(self.resolution, options.load_scale)
        self.flip = bool(options.flip)
        self.seed = int(seed)
        self.sides, self.specs = (side_a, side_b), tuple(specs)
        for side, source, spec in zip(SIDES, self.sides, self.specs):
            self._check_side(side, source, spec)
        self.condition_channels = self.channels
        self.skipped = self._merged_skips()
        self.set_epoch(0)

    def _check_side(self, side: str, source: DataSource, spec: str) -> None:
        if len(source) == 0:
            raise DataSourceError(f"unpaired side {side} ({spec}) holds no images; both "
                                  f"sides need some: {USAGE}")
        if getattr(source, "condition_channels", 0):
            raise DataSourceError(f"unpaired side {side} ({spec}) is paired data (it gives "
                                  f"input images); each side must be a plain set of images")
        wanted = (self.channels, self.load_size, self.load_size)
        got = (source.channels, source.resolution, source.resolution)
        if got != wanted:
            raise DataSourceError(
                f"unpaired side {side} ({spec}) gives {got[0]}-channel {got[1]} px images, "
                f"expected {wanted[0]}-channel {wanted[1]} px (--channels "
                f"{self.channels}, --resolution {self.resolution} x load_scale): a side "
                f"must load images at the size and channel count it is asked for")

    def _merged_skips(self) -> SkipReport:
        """Both sides' skipped files, each path prefixed with its side (``A: x.jpg``)."""
        report = SkipReport()
        for side, source in zip(SIDES, self.sides):
            skipped = getattr(source, "skipped", None) or SkipReport()
            for path, reason in skipped.examples:
                report.add(f"{side}: {path}", reason)
            report.count += skipped.count - len(skipped.examples)
        return report

    def __len__(self) -> int:
        return max(len(self.sides[0]), len(self.sides[1]))

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's B permutation, crop offsets and flips from (seed, epoch)."""
        self.epoch = int(epoch)
        gen = torch.Generator().manual_seed(
            (self.seed * 2_654_435_761 + self.epoch * 40_503 + 7) % 2**63)
        n, room = len(self), self.load_size - self.resolution
        self._perm_b = torch.randperm(len(self.sides[1]), generator=gen)
        self._offsets = torch.randint(0, room + 1, (n, 2, 2), generator=gen)  # side, (top, left)
        flips = torch.rand(n, 2, generator=gen) < 0.5
        self._flips = flips if self.flip else torch.zeros_like(flips)

    def pairs(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The (A, B) image indices of examples ``indices`` in the current epoch."""
        idx = indices.long()
        return idx % len(self.sides[0]), self._perm_b[idx % len(self.sides[1])]

    def _crop_flip(self, images: torch.Tensor, indices: torch.Tensor, side: int) -> torch.Tensor:
        r = self.resolution
        out = []
        for image, i in zip(images, indices.tolist()):
            top, left = self._offsets[i, side].tolist()
            crop = image[:, top:top + r, left:left + r]
            out.append(crop.flip(-1) if self._flips[i, side] else crop)
        return torch.stack(out) if out else images[:, :, :r, :r]

    def get_batch(self, indices: torch.Tensor):
        """(B images, None, A images) of examples ``indices``, each (N, C, R, R)."""
        a_idx, b_idx = self.pairs(indices)
        idx = indices.long()
        images_a = self.sides[0].load(a_idx).images
        images_b = self.sides[1].load(b_idx).images
        return (self._crop_flip(images_b, idx, 1), None, self._crop_flip(images_a, idx, 0))

    def preview(self, n: int) -> Batch:
        """The first ``n`` A images (and B images, cycled), centre-cropped and unflipped,
        whatever the epoch: fixed inputs for the training grid (source | translated |
        reconstructed)."""
        r, start = self.resolution, (self.load_size - self.resolution) // 2
        window = (slice(None), slice(None), slice(start, start + r), slice(start, start + r))
        idx = torch.arange(n)
        images_b = self.sides[1].load(idx % len(self.sides[1])).images[window]
        images_a = self.sides[0].load(idx % len(self.sides[0])).images[window]
        return Batch(images_b.contiguous(), None, images_a.contiguous())

    @classmethod
    def count_images(cls, argument: str | None, options: UnpairedOptions | None = None
                     ) -> int | None:
        """Examples per epoch, ``max(images of A, images of B)``, when both sides can count
        cheaply (their own ``count_images``); None otherwise."""
        options = options or UnpairedOptions()
        try:
            specs = split_sides(argument, _registry().names("data"))
            counts = []
            for side, spec in zip(SIDES, specs):
                entry, side_argument = _parse_side(spec, side)
                factory = entry.load_factory()
                counter = getattr(getattr(factory, "__self__", factory), "count_images", None)
                side_options = build_options(entry.options,
                                             _side_options(entry, options, specs == DEMO_PAIR),
                                             owner=f"--data unpaired side {side}")
                counts.append(None if counter is None else counter(side_argument, side_options))
        except Exception:  # reported properly when the source is built
            return None
        return None if None in counts else max(counts)

    @classmethod
    def input_folders(cls, argument: str | None) -> list[str]:
        """The folders of both sides."""
        specs = split_sides(argument, _registry().names("data"))
        return [folder for side, spec in zip(SIDES, specs)
                for folder in input_folders_of(*_parse_side(spec, side))]

    @classmethod
    def from_spec(cls, argument: str | None, options: UnpairedOptions | None, *,
                  resolution: int | None, channels: int, seed: int = 0) -> UnpairedDataSource:
        """The registered factory: ``argument`` is ``SPEC_A,SPEC_B``."""
        options = options or UnpairedOptions()
        resolution = int(resolution or cls.default_resolution)
        specs = split_sides(argument, _registry().names("data"))
        size = load_size(resolution, options.load_scale)
        sides = []
        for side, spec in zip(SIDES, specs):
            entry, side_argument = _parse_side(spec, side)
            try:
                side_options = _side_options(entry, options, specs == DEMO_PAIR)
                sides.append(_registry().build("data", entry.name, side_options, side_argument,
                                               resolution=size, channels=channels, seed=seed))
            except ArtganError as exc:
                raise DataSourceError(f"unpaired side {side} ({spec}): {exc}") from exc
        return cls(*sides, resolution=resolution, channels=channels, seed=seed,
                   options=options, specs=specs)
