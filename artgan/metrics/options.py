"""Options of the built-in metrics, beside them (torch-free, for ``artgan list``)."""

from __future__ import annotations

from dataclasses import dataclass

from artgan.core.options import option

_WEIGHTS_HELP = ("Path to pt_inception-2015-12-05-6726825d.pth ('': $ARTGAN_INCEPTION_WEIGHTS, "
                 "then torch hub's cache). Never downloaded.")


@dataclass(frozen=True)
class FIDOptions:
    inception_weights: str = option("", _WEIGHTS_HELP)


@dataclass(frozen=True)
class KIDOptions:
    inception_weights: str = option("", _WEIGHTS_HELP)
    subsets: int = option(100, "Number of random subsets; KID is their mean (and std).", min=1)
    subset_size: int = option(1000, "Images per subset (lowered to the number of images "
                                    "available; the size used is reported).", min=2)
    seed: int = option(0, "Seed of the subset draws.")


@dataclass(frozen=True)
class ISOptions:
    inception_weights: str = option("", _WEIGHTS_HELP)
    splits: int = option(10, "The images are cut into this many consecutive splits; IS is "
                             "the mean (and std) over splits.", min=1)


@dataclass(frozen=True)
class MSSSIMOptions:
    num_pairs: int = option(1000, "Random pairs of distinct generated images.", min=1)
    seed: int = option(0, "Seed of the pair draws.")
    with_real: bool = option(True, "When real images are given, also report their MS-SSIM "
                                   "(ms_ssim_real), the value to compare with.")
