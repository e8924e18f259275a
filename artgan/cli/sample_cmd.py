"""``artgan sample``: generate images from a checkpoint."""

from __future__ import annotations

from pathlib import Path

import click

from .errors import SEED


@click.command("sample")
@click.option("--ckpt", required=True, type=click.Path(exists=True),
              help="Checkpoint file or run folder.")
@click.option("-n", "count", type=click.IntRange(1), default=64, show_default=True,
              help="Number of images (with --class all: per class).")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder for the PNGs and grid.png.")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Same seed, same images.")
@click.option("--class", "class_name", default=None, metavar="NAME|all",
              help="Conditional models: generate this class (by name), or 'all' for a grid "
                   "with one row per class.")
@click.option("--device", default="auto", show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--no-ema", is_flag=True,
              help="Use the raw generator, not its moving average (runs with --ema).")
def sample_command(ckpt: str, count: int, out: str, seed: int, class_name: str | None,
                   device: str, batch_size: int, no_ema: bool) -> None:
    """Write N generated images and a grid from a checkpoint."""
    from ..core.images import save_each, save_grid
    from ..core.sampling import class_labels, load_generator, sample_images
    from ..plugin_host import get_registry

    G, config, class_names = load_generator(ckpt, get_registry(), device=device, ema=not no_ema)
    labels, nrow = class_labels(G, class_names, class_name, count)
    images = sample_images(G, len(labels) if labels is not None else count, seed=seed,
                           batch_size=batch_size, labels=labels)
    out_dir = Path(out)
    paths = save_each(images, out_dir)
    grid = save_grid(images, out_dir / "grid.png", nrow=nrow or max(1, int(count ** 0.5)))
    what = f", class {class_name}" if class_name else ""
    click.echo(f"Wrote {len(paths)} images and {grid} ({config.gen.name}, "
               f"{config.resolution}px{what}).")
