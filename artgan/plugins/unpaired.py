"""``--data unpaired:SPEC_A,SPEC_B``: two unpaired sets of images, for translation models.

``--data unpaired:folder:./photos,folder:./monet`` trains a ``cyclegan`` to turn photos
(domain A) into Monets (domain B). Each side is any registered data source of images,
written as it would be after ``--data`` (``folder:PATH``, ``demo:stripes``), so each
keeps that source's skipping of bad files and its disk cache. ``--data unpaired`` alone
is the built-in demo pair, stripes (A) to waves (B). See
:class:`artgan.plugins.unpaired_data.UnpairedDataSource`.

This hook module does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from artgan import hookimpl
from artgan.core.options import option


@dataclass(frozen=True)
class UnpairedOptions:
    load_scale: float = option(1.12, "Each side is loaded at this multiple of the resolution "
                                     "and randomly cropped to it (CycleGAN: 286 px for 256; "
                                     "1: no crop).", min=1.0, max=2.0)
    flip: bool = option(True, "Random horizontal flips of both sides.")
    # Passed on to each side whose data source has an option of the same name, when set
    # to anything but the default here (so each side keeps its own defaults otherwise).
    cache: bool = option(True, "Passed to each side (folder): keep decoded images in the "
                               "disk cache.")
    min_side: int = option(0, "Passed to each side (folder): skip images whose shorter side "
                              "is below this (0: the side's default).", min=0)
    max_megapixels: float = option(180.0, "Passed to each side (folder): skip images larger "
                                          "than this.", min=0.01)
    workers: int = option(0, "Passed to each side (folder): decoding threads (0: one per "
                             "core).", min=0)
    draft: bool = option(True, "Passed to each side (folder): reduced-size JPEG decoding.")
    size: int = option(0, "Passed to each side (demo): images to render (0: the side's "
                          "default; 256 for the default demo pair).", min=0)


#: The options above that go to the sides rather than to the unpaired source itself.
FORWARDED = ("cache", "min_side", "max_megapixels", "workers", "draft", "size")


@hookimpl
def register_data_sources(register):
    register("unpaired", "artgan.plugins.unpaired_data:UnpairedDataSource.from_spec",
             description="Two unpaired image sets for translation (--gen cyclegan): "
                         "unpaired:folder:A,folder:B (alone: demo stripes to waves); "
                         "random crops and flips.",
             options=UnpairedOptions)
