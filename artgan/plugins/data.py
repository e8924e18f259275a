"""Built-in data sources: ``folder:PATH`` (your images) and ``demo`` (procedural art)."""

from __future__ import annotations

from dataclasses import dataclass

from artgan import hookimpl
from artgan.core.options import option


@dataclass(frozen=True)
class FolderOptions:
    labels: str = option("auto", "subfolders: each subfolder is a class (images directly in "
                                 "the folder are skipped); none: one unlabelled set; auto: "
                                 "subfolders if they hold most of the images, else none.",
                         choices=("auto", "subfolders", "none"))
    min_side: int = option(0, "Skip images whose shorter side is below this many pixels "
                              "(0: a quarter of the resolution, at least 8).", min=0)
    max_megapixels: float = option(
        180.0, "Skip images larger than this (decompression-bomb guard).", min=0.01)
    workers: int = option(0, "Decoding threads for the first load (0: one per CPU core).",
                          min=0)
    draft: bool = option(True, "Decode JPEGs at reduced size (DCT scaling, keeping at least "
                               "3x the resolution) before the resize; false: full size, "
                               "slower, nearly the same pixels.")
    fit: str = option("crop", "How images meet the training shape (--resolution, --aspect): "
                              "crop: the largest centred part of that shape; pad: the whole "
                              "image, on white (transparent with --channels 4).",
                      choices=("crop", "pad"))
    cache: bool = option(True, "Keep the preprocessed images on disk in "
                               "$ARTGAN_CACHE_DIR/data (default ~/.cache/artgan/data) so "
                               "later runs only decode new or changed files; false: neither "
                               "read nor write it.")


@dataclass(frozen=True)
class DemoOptions:
    size: int = option(2048, "Number of images to render.", min=1)
    seed: int = option(0, "Seed of the rendering; the same seed gives the same images.")


@hookimpl
def register_data_sources(register):
    register("folder", "artgan.plugins.folder:FolderDataSource.from_spec",
             description="Images from a folder, recursively; class subfolders become labels.",
             options=FolderOptions)
    register("demo", "artgan.plugins.demo:DemoDataSource.from_spec",
             description="Procedural abstract art in several styles (classes); demo:STYLE "
                         "picks one. No download.",
             options=DemoOptions)
