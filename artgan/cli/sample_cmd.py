"""``artgan sample``: generate images from a checkpoint."""

from __future__ import annotations

from pathlib import Path

import click

from ..plugin_host import get_registry
from .errors import SEED, generator_source
from .settings_options import FiniteFloat

#: The grid shows at most this many images, and at most :data:`GRID_PIXELS` pixels of
#: them (16 of 1024 px, 256 of 64 px): ``-n 100000`` streams the images to disk and the
#: grid shows the first ones.
GRID_IMAGES = 256
GRID_PIXELS = 2**24
MIX_DEFAULT = 8


def grid_capacity(total: int, height: int, width: int) -> int:
    """How many of ``total`` images of this size the grid shows (see GRID_IMAGES)."""
    return max(1, min(total, GRID_IMAGES, GRID_PIXELS // max(1, height * width)))


def mix_capacity(height: int, width: int) -> int:
    """The largest ``--mix -n N``: its (N + 1)^2 images, all held for the grid, within
    GRID_IMAGES and 4 x GRID_PIXELS (15 at 64 px, 7 at 1024 px)."""
    fits = min(GRID_IMAGES, 4 * GRID_PIXELS // max(1, height * width))
    return max(1, int(fits ** 0.5) - 1)


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
@click.option("-n", "count", type=click.IntRange(1), default=None,
              help="Number of images (with --class all: per class; with --mix: content and "
                   "style latents each)  [default: 64; with --mix 8].")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder for the PNGs (sample-0000.png, ...); it holds nothing else, so "
                   "`artgan eval --fake OUT` scores exactly these images.")
@click.option("--grid", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="Where to write the grid of the images (of the first 256 for larger N) "
                   "[default: OUT-grid.png, beside the folder, not in it].")
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
@click.option("--spread", type=FiniteFloat(0, 1), default=None,
              help="With --latent: how far the variations stray, 0 (the same picture) to "
                   "1 (unrelated samples)  [default: 0.3].")
@click.option("--mix", is_flag=True,
              help="Style mixing (generators that support it, e.g. fastgan): a grid whose "
                   "rows take the layout of N content latents and whose columns the style "
                   "of N others; the first row and column show them plain.")
def sample_command(ckpt: str, count: int | None, out: str, grid: str | None, seed: int,
                   class_name: str | None, device: str, batch_size: int, no_ema: bool,
                   latent: str | None, spread: float | None, mix: bool) -> None:
    """Write N generated images into a folder, and a grid of them beside it.

    Images are written batch by batch, so any N fits in memory; the grid shows the first
    256 (fewer of large images: at most 16 megapixels).

    \b
    artgan sample --ckpt runs/demo -n 64 --out generated     # + generated-grid.png
    artgan eval --fake generated --real demo -m ms-ssim
    artgan sample --ckpt runs/demo --latent proj/latent.pt -n 16 --out near-mine
    artgan sample --ckpt runs/fastgan --mix -n 6 --out mixed  # style mixing, 7x7 grid
    """
    from ..core.images import save_each
    from ..core.sampling import load_generator

    if spread is not None and latent is None:
        raise click.BadParameter("--spread sets how far samples stray from --latent; give "
                                 "--latent LATENT.pt too", param_hint="--spread")
    if mix and (latent or class_name):
        raise click.BadParameter("--mix mixes random latents of an unconditional model; "
                                 "leave out --latent and --class", param_hint="--mix")
    grid_file = grid_path(out, grid)
    G, config, class_names = load_generator(ckpt, get_registry(), device=device, ema=not no_ema)
    if mix:
        most = mix_capacity(*G.output_shape[1:])
        if count is not None and count > most:
            raise click.BadParameter(f"--mix -n {count}: the grid would hold {(count + 1) ** 2} "
                                     f"images of {config.image.size_text}; at most -n {most}",
                                     param_hint="-n")
        _write_mixing(G, config, count or min(MIX_DEFAULT, most), out, grid_file, seed)
        return
    count = count or 64
    batches, total, nrow, what = _batches(G, class_names, class_name, count, seed, batch_size,
                                          latent, spread, ckpt)
    shown = grid_capacity(total, G.output_shape[1], G.output_shape[2])
    written, kept = 0, []
    digits = max(4, len(str(total - 1)))
    for images in batches:  # to disk as they come: never all images in memory
        images = images.cpu()
        save_each(images, Path(out), start=written, digits=digits)
        if written < shown:
            kept.append(images[:shown - written])
        written += len(images)
    import torch

    from ..core.images import save_grid

    grid_written = save_grid(torch.cat(kept), grid_file,
                             nrow=nrow or max(1, int(min(count, shown) ** 0.5)))
    part = f" (the first {shown})" if shown < written else ""
    click.echo(f"Wrote {written} images to {out} and the grid {grid_written}{part} "
               f"({config.components.gen.name}, {_size(config)}{what}).")


def _size(config) -> str:
    return config.image.size_text


def _batches(G, class_names, class_name, count, seed, batch_size, latent, spread, ckpt):
    """(iterator of image batches, how many, grid row length or None, description)."""
    from ..core.sampling import class_labels, generate_batches, generate_latents

    labels, nrow = class_labels(G, class_names, class_name, count)
    what = f", class {class_name}" if class_name else ""
    if not latent:
        total = len(labels) if labels is not None else count
        return (generate_batches(G, total, seed=seed, batch_size=batch_size, labels=labels),
                total, nrow, what)
    from ..restoration.projection import latent_note, latent_variations, load_latent

    found = load_latent(latent, G)
    z = latent_variations(found.z, count, 0.3 if spread is None else spread, seed)
    if labels is None:
        labels = found.labels(count)
    else:  # --class: the same variations in the chosen class(es)
        z = z.repeat(len(labels) // count, 1)
    note = latent_note(found, ckpt)
    if note:
        click.echo(note, err=True)
    return (generate_latents(G, z, labels, seed=seed, batch_size=batch_size), len(z), nrow,
            f"{what}, around {Path(latent).name}")


def _write_mixing(G, config, n: int, out: str, grid_file: Path, seed: int) -> None:
    """``--mix``: content-II.png, style-JJ.png and mix-cII-sJJ.png in OUT, the grid beside."""
    from ..core.images import save_each, save_grid
    from ..core.sampling import mixing_grid

    found = mixing_grid(G, n, seed=seed)
    folder = Path(out)
    digits = max(2, len(str(n - 1)))
    save_each(found["content"], folder, "content", digits=digits)
    save_each(found["style"], folder, "style", digits=digits)
    for i, row in enumerate(found["mixed"]):
        for j, image in enumerate(row):
            save_each(image[None], folder, f"mix-c{i:0{digits}d}-s{j:0{digits}d}",
                      digits=0)
    written = save_grid(found["grid"], grid_file, nrow=n + 1)
    click.echo(f"Wrote {n} content, {n} style and {n * n} mixed images to {out} and the "
               f"mixing grid {written} (rows: content, columns: style; "
               f"{config.components.gen.name}, {_size(config)}).")
