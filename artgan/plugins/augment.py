"""Built-in differentiable augmentations (DiffAugment): color, translation, cutout."""

from __future__ import annotations

from dataclasses import dataclass

from artgan import hookimpl
from artgan.core.options import option


@dataclass(frozen=True)
class ColorOptions:
    strength: float = option(1.0, "Scale of the brightness, saturation and contrast ranges "
                                  "(1: DiffAugment's; 0: off).", min=0.0, max=2.0)


@dataclass(frozen=True)
class TranslationOptions:
    ratio: float = option(0.125, "Largest shift as a fraction of the side (0: off).",
                          min=0.0, max=0.5)


@dataclass(frozen=True)
class CutoutOptions:
    ratio: float = option(0.5, "Side of the cut-out square as a fraction of the image side "
                               "(0: off).", min=0.0, max=1.0)


_IMPL = "artgan.plugins.diffaugment"


@hookimpl
def register_augmentations(register):
    register("color", f"{_IMPL}:Color", options=ColorOptions,
             description="Random brightness, saturation and contrast per image (DiffAugment).")
    register("translation", f"{_IMPL}:Translation", options=TranslationOptions,
             description="Random shift up to 1/8 of the side, zero padding (DiffAugment).")
    register("cutout", f"{_IMPL}:Cutout", options=CutoutOptions,
             description="Blank a random square of half the side (DiffAugment).")
