"""``artgan sample``: generate images from a checkpoint."""

from __future__ import annotations

from pathlib import Path

import click

from ..plugin_host import get_registry
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
@click.option("--latent", default=None, metavar="LATENT.pt",
              type=click.Path(exists=True, dir_okay=False),
              help="Images around this latent from `artgan project`: the first is the "
                   "latent's own picture, the others variations of it (--spread).")
@click.option("--spread", type=click.FloatRange(0, 1), default=None,
              help="With --latent: how far the variations stray, 0 (the same picture) to "
                   "1 (unrelated samples)  [default: 0.3].")
def sample_command(ckpt: str, count: int, out: str, grid: str | None, seed: int,
                   class_name: str | None, device: str, batch_size: int, no_ema: bool,
                   latent: str | None, spread: float | None) -> None:
    """Write N generated images into a folder, and a grid of them beside it.

    \b
    artgan sample --ckpt runs/demo -n 64 --out generated     # + generated-grid.png
    artgan eval --fake generated --real demo -m ms-ssim
    artgan sample --ckpt runs/demo --latent proj/latent.pt -n 16 --out near-mine
    """
    from ..core.images import save_each, save_grid
    from ..core.sampling import class_labels, load_generator, sample_images

    if spread is not None and latent is None:
        raise click.BadParameter("--spread sets how far samples stray from --latent; give "
                                 "--latent LATENT.pt too", param_hint="--spread")
    grid_file = grid_path(out, grid)
    G, config, class_names = load_generator(ckpt, get_registry(), device=device, ema=not no_ema)
    labels, nrow = class_labels(G, class_names, class_name, count)
    if latent:
        from ..restoration.projection import generate, latent_note, latent_variations, load_latent

        found = load_latent(latent, G)
        z = latent_variations(found.z, count, 0.3 if spread is None else spread, seed)
        if labels is None:
            labels = found.labels(count)
        else:  # --class: the same variations in the chosen class(es)
            z = z.repeat(len(labels) // count, 1)
        note = latent_note(found, ckpt)
        if note:
            click.echo(note, err=True)
        images = generate(G, z, labels, batch_size=batch_size)
    else:
        images = sample_images(G, len(labels) if labels is not None else count, seed=seed,
                               batch_size=batch_size, labels=labels)
    paths = save_each(images, Path(out))
    written = save_grid(images, grid_file, nrow=nrow or max(1, int(count ** 0.5)))
    what = f", class {class_name}" if class_name else ""
    what += f", around {Path(latent).name}" if latent else ""
    click.echo(f"Wrote {len(paths)} images to {out} and the grid {written} "
               f"({config.components.gen.name}, {config.image.resolution}px{what}).")
