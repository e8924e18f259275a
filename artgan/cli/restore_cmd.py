"""``artgan restore``: fill the damaged parts of a picture with a trained model."""

from __future__ import annotations

from pathlib import Path

import click

from ..restoration import RestoreError
from .errors import generator_source
from .project_cmd import (classes_to_try, load_model, projection_options, refuse_overwrite,
                          step_bar)
from .safe_text import clean
from .settings_options import FiniteFloat

LOSSLESS = (".png", ".tif", ".tiff", ".bmp")


def _lossless(_ctx, _param, value: str) -> str:
    if Path(value).suffix.lower() not in LOSSLESS:
        raise click.BadParameter(f"{value}: write the restored image losslessly (a path "
                                 f"ending in .png, .tif or .bmp), so the pixels that were "
                                 f"not damaged keep their values")
    return value


def _describe_regions(found) -> str:
    shown = "; ".join(region.describe() for region in found[:5])
    more = f"; and {len(found) - 5} more" if len(found) > 5 else ""
    return f"{len(found)} region(s): {shown}{more}"


@click.command("restore")
@generator_source
@click.option("--image", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The damaged picture (any size; it is never written to).")
@click.option("--mask", "mask_spec", default=None, metavar="PATH|auto",
              help="Where it is damaged: an image of the picture's size, white = damaged; "
                   "or 'auto': pure white, pure black or transparent regions. Needed with "
                   "a generator; optional with a restorer, which finds damage itself.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), callback=_lossless,
              help="The restored picture (.png, .tif or .bmp), the input's size.")
@projection_options
@click.option("--feather", type=click.IntRange(0), default=6, show_default=True,
              help="Width in pixels of the seam over which the fill fades into the "
                   "picture; pixels farther from a hole keep their exact values.")
@click.option("--context", type=FiniteFloat(0), default=0.5, show_default=True,
              help="Undamaged surroundings projected with each hole, as a fraction of the "
                   "hole's size on each side (the crop is at least the model's resolution).")
@click.option("--min-area", type=click.IntRange(1), default=None,
              help="--mask auto: the smallest region taken for damage, in pixels "
                   "[default: 0.05% of the image, at least 16].")
@click.option("--tile", type=click.IntRange(16), default=512, show_default=True,
              help="Restorer networks: the largest tile run at once on big images.")
@click.option("--overlap", type=click.IntRange(0), default=32, show_default=True,
              help="Restorer networks: pixels shared and blended by neighbouring tiles.")
def restore_command(ckpt: str, device: str, no_ema: bool, image: str, mask_spec: str | None,
                    out: str, steps: int, restarts: int, seed: int, class_name: str | None,
                    feature_weight: float, feather: int, context: float,
                    min_area: int | None, tile: int, overlap: int) -> None:
    """Restore the damaged parts of IMAGE and write the result to OUT.

    With a generator checkpoint, each hole is restored in a crop around it at the
    model's resolution: the crop's undamaged pixels are projected into the model and the
    generated content is blended into the hole with a feathered seam; everything farther
    than --feather from a hole keeps its exact pixel values. With a restorer checkpoint
    (an image-to-image network trained to repair), the network runs on the whole
    picture.

    \b
    artgan restore --ckpt runs/paintings --image damaged.jpg --mask mask.png --out fixed.png
    artgan restore --ckpt runs/paintings --image torn.png --mask auto --out fixed.png
    """
    from ..restoration.images import read_image, save_image
    from ..restoration.inpaint import plan_crops, restore
    from ..restoration.masks import auto_mask, check_mask, load_mask

    auto = mask_spec is not None and mask_spec.lower() == "auto"
    refuse_overwrite({"--image": image, "--mask": None if auto else mask_spec}, [Path(out)])
    picture = read_image(image)
    found = None
    if mask_spec is None:
        mask = None
    elif auto:
        mask, found = auto_mask(picture, min_area=min_area)
        if not found:
            raise RestoreError(
                f"--mask auto found no damage in {Path(image).name}: no pure white (>= 250), "
                f"pure black (<= 5) or transparent region of at least the minimum area; "
                f"draw a mask (white = damaged) and pass --mask PATH")
        check_mask(mask, "--mask auto")
    else:
        mask = load_mask(mask_spec, picture)
        check_mask(mask, f"--mask {Path(mask_spec).name}")
    G, _config, class_names, features, feature_note = load_model(ckpt, device, no_ema,
                                                                feature_weight)
    lines = []
    if found:
        lines.append(f"--mask auto found {_describe_regions(found)}.")
    if G.image_conditioned:
        result = restore(G, picture.pixels, mask, alpha=picture.alpha, tile=tile,
                         overlap=overlap, feather=feather)
        what = f"with restorer {G.component_name}"
    else:
        if mask is None:
            raise RestoreError(
                "this checkpoint holds a generator, which restores the holes it is shown: "
                "give --mask PATH (white = damaged) or --mask auto")
        classes = classes_to_try(G, class_names, class_name)
        _labels, crops = plan_crops(mask, G.resolution, feather=feather, context=context)
        with step_bar(f"restoring {len(crops)} crop(s)", steps * len(crops)) as advance:
            result = restore(G, picture.pixels, mask, alpha=picture.alpha,
                             features=features, feather=feather, context=context,
                             steps=steps, restarts=restarts, seed=seed, classes=classes,
                             feature_weight=feature_weight, on_step=advance)
        sizes = sorted({crop.size for crop in result.crops})
        mean_psnr = sum(p.psnr for p in result.projections) / len(result.projections)
        what = (f"with generator {G.component_name} in {len(result.crops)} crop(s) of "
                f"{', '.join(map(str, sizes))} px at the model's {G.resolution} px (known "
                f"pixels reproduced at {mean_psnr:.1f} dB PSNR; {feature_note})")
        if G.channels != picture.channels:
            lines.append("The colour model's fill was converted to grey for the greyscale "
                         "picture." if picture.channels == 1 else
                         "The colour picture is grey: the greyscale model's fill is repeated "
                         "into its three channels.")
    written = save_image(result.pixels, out, result.alpha)
    changed = int((result.weights > 0).sum())
    at = 1 if found else 0  # after what --mask auto found
    if mask is not None:
        lines.insert(at, f"Restored {int(mask.sum())} damaged px "
                         f"({100 * mask.mean():.1f}% of {picture.width}x{picture.height}) "
                         f"{what}; {changed} px changed, the seam {feather} px wide.")
    else:
        lines.insert(at, f"Restored {picture.width}x{picture.height} {what} (no mask: the "
                         f"network decided what to repair).")
    lines.append(f"Wrote {written}; {Path(image).name} is unchanged.")
    for line in lines + [f"note: {n}" for n in picture.notes]:
        click.echo(clean(line))
