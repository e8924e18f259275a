"""``artgan project``: find the latent with which a trained generator paints an image."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click

from ..plugin_host import get_registry
from ..restoration import RestoreError
from .errors import SEED, generator_source
from .safe_text import clean
from .settings_options import FiniteFloat

SIDE_BY_SIDE_HEIGHT = 256  # side-by-side.png is enlarged (nearest) to about this height


@contextmanager
def step_bar(description: str, total: int):
    """A rich progress bar on stderr; yields the callback that advances it by one.
    Shown only on a terminal (no stray lines in logs and pipes)."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)


def projection_options(command):
    """``--steps``, ``--restarts``, ``--seed``, ``--class`` and ``--feature-weight``:
    how ``project`` and ``restore`` search the latent space."""
    for option in reversed([
            click.option("--steps", type=click.IntRange(1), default=300, show_default=True,
                         help="Optimisation steps (per restored crop for restore)."),
            click.option("--restarts", type=click.IntRange(1), default=4, show_default=True,
                         help="Random starts optimised together; the best is kept."),
            click.option("--seed", type=SEED, default=0, show_default=True,
                         help="Same seed, same result (on the CPU)."),
            click.option("--class", "class_name", default=None, metavar="NAME",
                         help="Conditional models: project into this class only "
                              "[default: try every class, keep the best]."),
            click.option("--feature-weight", type=FiniteFloat(0), default=0.1,
                         show_default=True,
                         help="Weight of the distance between the run's discriminator "
                              "features of image and reconstruction (0: off).")]):
        command = option(command)
    return command


def load_model(ckpt: str, device: str, no_ema: bool, feature_weight: float):
    """The generator, its config and class names, and the discriminator features
    (None when off or unavailable) with a note saying which."""
    from ..core.sampling import load_generator
    from ..restoration.projection import discriminator_features

    registry = get_registry()
    G, config, class_names = load_generator(ckpt, registry, device=device, ema=not no_ema)
    features, note = None, "no discriminator features (--feature-weight 0)"
    if feature_weight > 0 and not G.image_conditioned:
        features, note = discriminator_features(ckpt, config, registry, G)
    return G, config, class_names, features, note


def classes_to_try(G, class_names: list[str], class_name: str | None) -> list[int] | None:
    """``--class NAME`` -> [its index]; no ``--class`` (or ``all``): None, every class."""
    from ..core.sampling import class_labels

    labels, _ = class_labels(G, class_names, class_name, 1)
    return None if labels is None else sorted(set(labels.tolist()))


def refuse_overwrite(inputs: dict[str, str], outputs: list[Path]) -> None:
    """Never write over an input file (resolved paths, hard links and symlinks too)."""
    from ..restoration.images import same_file

    for path in outputs:
        for flag, given in inputs.items():
            if given and same_file(path, given):
                raise RestoreError(f"--out: {path} is the {flag} file: artgan never writes "
                                   f"over its input; choose another output")


def side_by_side(left, right):
    """Two (H, W, C) uint8 images next to each other with a white gap, enlarged
    (nearest neighbour) towards :data:`SIDE_BY_SIDE_HEIGHT` px so small models show."""
    import numpy as np

    gap = np.full((left.shape[0], 2, left.shape[2]), 255, dtype=np.uint8)
    both = np.concatenate([left, gap, right], axis=1)
    scale = max(1, SIDE_BY_SIDE_HEIGHT // left.shape[0])
    return both.repeat(scale, axis=0).repeat(scale, axis=1)


def conversion_note(image_channels: int, model_channels: int, alpha: bool) -> list[str]:
    notes = []
    if image_channels == 3 and model_channels == 1:
        notes.append("RGB image converted to greyscale for the model")
    elif image_channels == 1 and model_channels == 3:
        notes.append("greyscale image given to the colour model as grey RGB")
    if alpha:
        notes.append("transparent pixels composited onto white")
    return notes


@click.command("project")
@generator_source
@click.option("--image", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The picture to bring into the model (any size; it is resized and "
                   "centre-cropped to the model's resolution).")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder for reconstruction.png, side-by-side.png (input | "
                   "reconstruction) and latent.pt.")
@projection_options
def project_command(ckpt: str, device: str, no_ema: bool, image: str, out: str, steps: int,
                    restarts: int, seed: int, class_name: str | None,
                    feature_weight: float) -> None:
    """Find the latent (and class) with which the model best paints IMAGE.

    Optimises the latent z, from several random starts, for a pixel + MS-SSIM loss and
    a feature loss from the run's own discriminator. The latent then starts a walk
    from your picture into new ones, or seeds variations of it.

    \b
    artgan project --ckpt runs/paintings --image painting.jpg --out proj
    artgan walk --ckpt runs/paintings --from proj/latent.pt --out walk.gif
    artgan sample --ckpt runs/paintings --latent proj/latent.pt -n 16 --out near
    """
    from ..restoration.images import (check_model_channels, fit_square, read_image,
                                      save_image, to_channels, to_pixels, to_tensor)
    from ..restoration.projection import project, save_latent

    folder = Path(out)
    paths = [folder / "reconstruction.png", folder / "side-by-side.png", folder / "latent.pt"]
    refuse_overwrite({"--image": image}, paths)
    picture = read_image(image)
    G, _config, class_names, features, feature_note = load_model(ckpt, device, no_ema,
                                                                feature_weight)
    check_model_channels(G.channels, G.who, G.output_shape)
    classes = classes_to_try(G, class_names, class_name)
    pixels, fit_note = fit_square(to_channels(picture.flattened(), G.channels), G.resolution)
    with step_bar("projecting", steps) as advance:
        found = project(G, to_tensor(pixels), features=features, steps=steps,
                        restarts=restarts, seed=seed, classes=classes,
                        feature_weight=feature_weight, on_step=advance)
    reconstruction = to_pixels(found.image)
    save_image(reconstruction, paths[0])
    save_image(side_by_side(pixels, reconstruction), paths[1])
    save_latent(paths[2], found, checkpoint=str(Path(ckpt).resolve()),
                generator=G.component_name, class_names=class_names,
                image=str(Path(image).resolve()), steps=steps, restarts=restarts, seed=seed,
                resolution=G.resolution, channels=G.channels)
    label = ""
    if found.y is not None:
        label = f", class {class_names[found.y] if found.y < len(class_names) else found.y!r}"
    similarity = f", MS-SSIM {min(found.ms_ssim, 1.0):.3f}" if found.ms_ssim is not None else ""
    starts = f"{restarts} starts" + (f" x {found.candidates // restarts} classes"
                                     if found.candidates > restarts else "")
    notes = [fit_note, *conversion_note(picture.channels, G.channels,
                                        picture.alpha is not None), *picture.notes,
             feature_note]
    click.echo(clean(f"Projected {Path(image).name} into {G.component_name} ({ckpt}): PSNR "
                     f"{found.psnr:.1f} dB{similarity}{label} (best of {starts}, {steps} "
                     f"steps)."))
    click.echo(clean("  " + "; ".join(notes) + "."))
    click.echo(f"Wrote {paths[0]}, {paths[1]} (input | reconstruction) and {paths[2]}.")
    click.echo(f"Walk from it: artgan walk --ckpt {ckpt} --from {paths[2]} --out walk.gif")
