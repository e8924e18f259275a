"""``artgan walk``: a looping GIF through a checkpoint's latent space."""

from __future__ import annotations

import click

from ..plugin_host import get_registry
from .errors import SEED, generator_source
from .safe_text import clean
from .settings_options import FiniteFloat


def _gif_path(_ctx, _param, value: str) -> str:
    if not value.lower().endswith(".gif"):
        raise click.BadParameter(f"{value}: the walk is written as an animated GIF; give a "
                                 f"path ending in .gif")
    return value


@click.command("walk")
@generator_source
@click.option("--out", required=True, type=click.Path(dir_okay=False), callback=_gif_path,
              help="The animated GIF to write (PATH.gif).")
@click.option("-n", "tiles", type=click.IntRange(1), default=16, show_default=True,
              help="Walks side by side in the grid (with --class all: per class).")
@click.option("--keyframes", type=click.IntRange(2), default=4, show_default=True,
              help="Random points each walk passes through before it loops back.")
@click.option("--frames", "frames_between", type=click.IntRange(1), default=24,
              show_default=True, help="Frames from one keyframe to the next.")
@click.option("--fps", type=FiniteFloat(1, 50), default=24, show_default=True,
              help="Frames per second.")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Same seed, same walk.")
@click.option("--class", "class_name", default=None, metavar="NAME|all",
              help="Conditional models: walk within this class, or 'all' for one row per "
                   "class [default: tiles cycle through the classes; with --from, the "
                   "latent's class].")
@click.option("--from", "from_latent", default=None, metavar="LATENT.pt",
              type=click.Path(exists=True, dir_okay=False),
              help="Start (and end) every walk at this latent from `artgan project`: a "
                   "walk from your picture into new ones.")
def walk_command(ckpt: str, out: str, tiles: int, keyframes: int, frames_between: int,
                 fps: float, seed: int, class_name: str | None, device: str,
                 no_ema: bool, from_latent: str | None) -> None:
    """Write a looping GIF that walks through the latent space.

    Each of the N tiles moves smoothly (spherical interpolation) through K random
    latent points and back to the first, so the animation loops without a jump.

    \b
    artgan walk --ckpt runs/demo --out walk.gif
    artgan walk --ckpt runs/styles --out cubism.gif --class cubism -n 4 --frames 48
    artgan walk --ckpt runs/demo --from proj/latent.pt -n 4 --out from-mine.gif
    """
    from ..core.sampling import class_labels, load_generator
    from ..core.walk import random_keyframes, render_walk, save_gif, walk_latents

    G, config, class_names = load_generator(ckpt, get_registry(), device=device, ema=not no_ema)
    labels, nrow = class_labels(G, class_names, class_name, tiles)
    count = len(labels) if labels is not None else tiles
    keys = random_keyframes(G, keyframes, count, seed)
    if from_latent:
        from ..restoration.projection import latent_note, load_latent

        latent = load_latent(from_latent, G)
        keys[0] = latent.z.expand(count, -1)  # keyframe 0: the projected picture
        labels = latent.labels(count) if labels is None else labels
        note = latent_note(latent, ckpt)
        if note:
            click.echo(clean(note), err=True)
    latents = walk_latents(keys, frames_between)
    grid_row = nrow or max(1, int(count ** 0.5))
    path, frames = save_gif(render_walk(G, latents, labels, nrow=grid_row,
                                                 seed=seed), out, fps)
    click.echo(f"Wrote {path}: {frames} frames at {fps:g} fps, {count} walks through "
               f"{keyframes} keyframes{f' from {from_latent}' if from_latent else ''} "
               f"({config.components.gen.name}, {config.image.size_text}).")
