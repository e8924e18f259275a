"""``artgan sample``: generate images from a checkpoint."""

from __future__ import annotations

from pathlib import Path

import click

from .errors import SEED, generator_source


def grid_path(out: str, grid: str | None) -> Path:
    """Where the grid goes: ``--grid``, by default ``OUT-grid.png`` beside the folder.

    The grid is never written into OUT: that folder holds exactly the samples, so that
    ``artgan eval --fake OUT`` and ``--data folder:OUT`` see nothing else.
    """
    out_dir = Path(out).resolve()
    path = Path(grid).resolve() if grid else out_dir.parent / f"{out_dir.name}-grid.png"
    if out_dir in path.parents:
        raise click.BadParameter(f"{grid} is inside --out {out}: the grid would then be "
                                 f"scored as a sample by `artgan eval --fake {out}`; "
                                 f"write it elsewhere", param_hint="--grid")
    return path


@click.command("sample")
@generator_source
@click.option("-n", "count", type=click.IntRange(1), default=64, show_default=True,
              help="Number of images (with --class all: per class).")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder for the PNGs (sample-0000.png, ...); it holds nothing else, so "
                   "`artgan eval --fake OUT` scores exactly these images.")
@click.option("--grid", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="Where to write the grid of all images [default: OUT-grid.png, beside "
                   "the folder, not in it].")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Same seed, same images.")
@click.option("--class", "class_name", default=None, metavar="NAME|all",
              help="Conditional models: generate this class (by name), or 'all' for a grid "
                   "with one row per class.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True,
              help="Images generated per forward pass.")
def sample_command(ckpt: str, count: int, out: str, grid: str | None, seed: int,
                   class_name: str | None, device: str, batch_size: int, no_ema: bool) -> None:
    """Write N generated images into a folder, and a grid of them beside it.

    \b
    artgan sample --ckpt runs/demo -n 64 --out generated     # + generated-grid.png
    artgan eval --fake generated --real demo -m ms-ssim
    """
    from ..core.images import save_each, save_grid
    from ..core.sampling import class_labels, load_generator, sample_images
    from ..plugin_host import get_registry

    grid_file = grid_path(out, grid)
    G, config, class_names = load_generator(ckpt, get_registry(), device=device, ema=not no_ema)
    labels, nrow = class_labels(G, class_names, class_name, count)
    images = sample_images(G, len(labels) if labels is not None else count, seed=seed,
                           batch_size=batch_size, labels=labels)
    paths = save_each(images, Path(out))
    written = save_grid(images, grid_file, nrow=nrow or max(1, int(count ** 0.5)))
    what = f", class {class_name}" if class_name else ""
    click.echo(f"Wrote {len(paths)} images to {out} and the grid {written} "
               f"({config.components.gen.name}, {config.image.resolution}px{what}).")
