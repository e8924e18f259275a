"""``artgan translate``: apply a trained translation model to a photo or a folder."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..plugin_host import get_registry
from .errors import generator_source
from .safe_text import clean

MAX_EXAMPLES = 5  # skipped files named in the summary


def _is_image_name(path: Path) -> bool:
    from ..core.image_files import IMAGE_EXTENSIONS

    return path.suffix.lower() in IMAGE_EXTENSIONS


def plan_outputs(source: Path, out: Path) -> list[tuple[Path, Path]]:
    """(input file, output file) pairs; raises :class:`TranslationError` when an output
    would overwrite an input or the outputs would be read back as inputs later.

    A file: ``--out`` is the output file when it has an image extension, else a folder
    that receives ``NAME.png``. A folder: every image below it (recursively, as the
    folder data source finds them) goes to the same relative path under ``--out``, as
    PNG (``a.jpg`` -> ``a.png``; when two inputs would share a name, ``a.jpg.png``).
    """
    from ..core.image_files import scan_images
    from ..translation import TranslationError

    source, out = source.resolve(), out.resolve()
    if out == source:
        raise TranslationError("--out is the same as --in: translate never overwrites its "
                               "inputs; give another folder")
    if source.is_dir():
        if out.is_file():
            raise TranslationError(f"--out {out} is a file; with a folder as --in, --out "
                                   f"must be a folder")
        if source in out.parents:
            raise TranslationError(f"--out {out} is inside --in {source}: the translations "
                                   f"would be read as inputs next time; write them elsewhere")
        inputs = [source / rel for rel in scan_images(str(source))]
        if not inputs:
            raise TranslationError(f"no images found in {source}")
        pairs, taken = [], set()
        for path in inputs:
            target = out / path.relative_to(source).with_suffix(".png")
            if target in taken:
                target = target.with_name(f"{path.name}.png")
            taken.add(target)
            pairs.append((path, target))
    else:
        target = out if _is_image_name(out) else out / f"{source.stem}.png"
        pairs = [(source, target)]
    sources = {p for p, _ in pairs}
    for path, target in pairs:
        if target in sources:
            raise TranslationError(f"the translation of {path} would overwrite the input "
                                   f"{target}; choose another --out")
    return pairs


def _read(read_image, path: Path, channels: int):
    """The image, or why it cannot be used (any decoder failure skips the file only)."""
    from PIL import Image

    try:
        return read_image(path, channels)
    except Image.UnidentifiedImageError:
        return "not an image (unrecognised file contents)"
    except Image.DecompressionBombError:
        return "too large (over Pillow's MAX_IMAGE_PIXELS, decompression-bomb guard)"
    except Exception as exc:  # corrupt or truncated: skip the file, not the run
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"corrupt or truncated: {detail[:100]}"


def _progress():
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    return Progress(TextColumn("translate"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[name]}"), TimeElapsedColumn(), TextColumn("eta"),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=True)


@click.command("translate")
@generator_source
@click.option("--in", "source", required=True, type=click.Path(exists=True),
              help="An image file, or a folder of images (searched recursively).")
@click.option("--out", required=True, type=click.Path(),
              help="Output folder (or, for one input file, an output file such as "
                   "styled.png). Inputs are never overwritten.")
@click.option("--direction", default=None, metavar="a2b|b2a",
              help="a2b: domain A (the first --data side) to B; b2a: back [default: a2b].")
@click.option("--side-by-side", is_flag=True,
              help="Write each input and its translation side by side (input | output).")
@click.option("--tile", type=click.IntRange(0), default=1024, show_default=True,
              help="Translate images larger than this many pixels a side in overlapping "
                   "tiles (bounded memory); 0: always whole.")
def translate_command(ckpt: str, device: str, no_ema: bool, source: str, out: str,
                      direction: str | None, side_by_side: bool, tile: int) -> None:
    """Restyle photos with a translation model (--gen cyclegan), each at its own size.

    \b
    artgan translate --ckpt runs/monet --in ./photos --out ./styled
    artgan translate --ckpt runs/monet --in ./paintings --out ./photos --direction b2a
    artgan translate --ckpt runs/monet --in me.jpg --out me-monet.png --side-by-side
    """
    from ..core.device import resolve_device
    from ..core.sampling import load_generator
    from ..translation import read_image, side_by_side as beside
    from ..translation import translate_image, translator, write_image

    pairs = plan_outputs(Path(source), Path(out))
    G, config, _ = load_generator(ckpt, get_registry(), device=device, ema=not no_ema)
    step = translator(G, direction)
    target_device = resolve_device(device)
    written, skipped = 0, []
    with _progress() as progress:
        task = progress.add_task("translate", total=len(pairs), name="")
        for path, target in pairs:
            progress.update(task, name=path.name)
            image = _read(read_image, path, step.channels)
            if isinstance(image, str):
                skipped.append((path, image))
                progress.advance(task)
                continue
            result = translate_image(step, image, tile=tile, device=target_device)[0]
            write_image(beside(image[0], result) if side_by_side else result, target)
            written += 1
            progress.advance(task)
    where = pairs[0][1] if written == 1 and len(pairs) == 1 else out
    click.echo(f"Translated {written} image{'s' if written != 1 else ''} ({step.direction}, "
               f"{config.components.gen.name}) into {where}.")
    if skipped:
        lines = "\n".join(f"  {os.path.relpath(p, source) if Path(source).is_dir() else p}: "
                          f"{why[:120]}" for p, why in skipped[:MAX_EXAMPLES])
        more = f"\n  ... and {len(skipped) - MAX_EXAMPLES} more" \
            if len(skipped) > MAX_EXAMPLES else ""
        click.echo(clean(f"Skipped {len(skipped)} unreadable file(s):\n{lines}{more}"),
                   err=True)
