"""``artgan eval``: FID, KID, IS and MS-SSIM of a checkpoint or of a folder of images."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from ..core.config import parse_data_spec
from ..core.options import as_dict, build_options
from ..core.registry import UnknownComponentError
from ..plugin_host import get_registry
from .errors import DEVICE_HELP, SEED
from .safe_text import clean

_HEADLINE_EXTRAS = {"kid": "kid_std", "is": "is_std"}


def _parse_metric_options(pairs: tuple[str, ...], metrics: list[str],
                          registry) -> dict[str, dict]:
    """``-o kid.subset_size=500 -o data.size=512`` -> {"kid": {...}, "data": {...}}."""
    out: dict[str, dict] = {"data": {}, **{m: {} for m in metrics}}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        group, dot, name = key.strip().partition(".")
        if group != "data":
            try:
                group = registry.get("metric", group).name  # aliases too
            except UnknownComponentError:
                pass
        if not sep or not dot or not name:
            raise click.BadParameter(f"expected GROUP.KEY=VALUE (for example kid.subset_size="
                                     f"500 or data.size=512); got {pair!r}", param_hint="-o")
        if group not in out:
            raise click.BadParameter(f"{pair!r}: {group!r} is neither 'data' nor one of the "
                                     f"chosen metrics ({', '.join(metrics)})", param_hint="-o")
        out[group][name.strip().replace("-", "_")] = value.strip()
    return out


_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


@dataclasses.dataclass
class FakeFolder:
    """The generated images of ``--fake DIR``: those of the folder's most common size.

    ``skipped`` lists (file, reason) for every other file: another size (a grid or a
    stray picture), or not an image at all.
    """

    images: "torch.Tensor"  # noqa: F821 (uint8 (N, C, H, W))
    resolution: int  # the height
    channels: int
    skipped: list[tuple[str, str]]

    @property
    def width(self) -> int:
        return int(self.images.shape[3])

    def cropped_square(self) -> "FakeFolder":
        """The centred squares of non-square images (for a square-only reference)."""
        h, w = self.images.shape[2:]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        return FakeFolder(self.images[:, :, top:top + side, left:left + side].contiguous(),
                          side, self.channels, self.skipped)

    def image_set(self, spec: str, batch_size: int):
        """An :class:`~artgan.evaluation.ImageSet` of these images in [-1, 1], never cached."""
        from ..core.data import InMemoryDataSource
        from ..evaluation.image_sets import ImageSet

        return ImageSet.from_data_source(InMemoryDataSource(self.images), spec=spec,
                                         batch_size=batch_size, cacheable=False)


def _channels(img) -> int:
    """1 (grey), 3 (colour) or 4 (with transparency: RGBA samples keep their alpha)."""
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        return 4
    return 1 if img.mode in _GREY_MODES else 3


def _headers(folder: str, files: list[str]) -> tuple[dict, list[tuple[str, str]]]:
    """{file: ((width, height), channels)} from the image headers; unreadable ones apart."""
    from PIL import Image

    found, skipped = {}, []
    for rel in files:
        try:
            with Image.open(Path(folder) / rel) as img:
                found[rel] = (img.size, _channels(img))
        except Exception:  # unreadable or not an image: reported, never fatal
            skipped.append((rel, "not a readable image"))
    return found, skipped


def load_fake_folder(folder: str, count: int | None = None) -> FakeFolder:
    """The images of ``folder`` that share its most common size (the first ``count``).

    The most common size, not the first file's, decides: a folder written by an older
    ``artgan sample`` also holds ``grid.png``, which is skipped and reported rather than
    taken for the resolution. Images are kept at their size, non-square ones too (those
    of an ``--aspect`` run).
    """
    from collections import Counter

    import numpy as np
    import torch

    from ..core.data import DataSourceError
    from ..core.image_files import scan_images, try_decode

    files = scan_images(folder) if Path(folder).is_dir() else []
    headers, skipped = _headers(folder, files)
    if not headers:
        raise DataSourceError(f"--fake {folder}: no images found (expected a folder of PNGs, "
                              f"for example written by `artgan sample`)")
    size = Counter(s for s, _ in headers.values()).most_common(1)[0][0]
    channels = max(c for s, c in headers.values() if s == size)
    chosen = [rel for rel, (s, _) in headers.items() if s == size][:count]
    skipped += [(rel, f"{s[0]}x{s[1]}, not the common size {size[0]}x{size[1]}")
                for rel, (s, _) in headers.items() if s != size]
    arrays = []
    for rel in chosen:
        result = try_decode(str(Path(folder) / rel), size[1], channels, 1, float("inf"),
                            False, size[0])
        if isinstance(result, str):
            skipped.append((rel, result))
        else:
            arrays.append(result[0])
    if not arrays:
        raise DataSourceError(f"--fake {folder}: none of the images could be read")
    return FakeFolder(torch.from_numpy(np.stack(arrays)), size[1], channels,
                      sorted(skipped))


def _report_skipped(folder: str, fake: FakeFolder) -> None:
    """Tell the user (on stderr) which files of ``--fake`` were not scored, and why."""
    if not fake.skipped:
        return
    shown = "; ".join(f"{rel} ({why})" for rel, why in fake.skipped[:5])
    more = f"; and {len(fake.skipped) - 5} more" if len(fake.skipped) > 5 else ""
    click.echo(clean(f"Skipped {len(fake.skipped)} file(s) in {folder}: {shown}{more}",
                     newlines=False), err=True)


def _progress_factory(console):
    """A rich progress display and the ``progress(label, total) -> advance`` callback."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)
    from rich.text import Text

    class Speed(ProgressColumn):
        def render(self, task):
            return Text(f"{task.speed:.0f} img/s" if task.speed else "")

    display = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       Speed(), TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                       disable=not console.is_terminal)

    def progress(label: str, total: int | None):
        task = display.add_task(label, total=total)
        return lambda n: display.advance(task, n)

    return display, progress


def _headline(name: str, result: dict, metric) -> str:
    value = result[metric.key]
    extra = _HEADLINE_EXTRAS.get(metric.key)
    text = f"{name}: {value:.6g}" + (f" +- {result[extra]:.3g}" if extra else "")
    if "ms_ssim_real" in result:
        text += f" (real images: {result['ms_ssim_real']:.4g})"
    better = "higher" if metric.higher_is_better else "lower"
    return text + (f"  [{better} is better]" if metric.key != "ms_ssim"
                   else "  [lower = more diverse]")


@click.command("eval")
@click.option("--ckpt", type=click.Path(exists=True), default=None,
              help="Checkpoint file or run folder: evaluate its generator.")
@click.option("--fake", "fake_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of generated images (PNGs) to evaluate instead of a checkpoint.")
@click.option("--real", "--data", "real_spec", default=None, metavar="SPEC",
              help="Reference images, a data spec (demo, folder:PATH). With --ckpt: default "
                   "the checkpoint's training data.")
@click.option("--metric", "-m", "metric_names", multiple=True, default=("fid",),
              show_default=True, help="Metric to compute (repeatable), e.g. fid, kid, is, ms-ssim "
                   "(artgan list metric: all installed).")
@click.option("-n", "count", type=click.IntRange(2), default=None,
              help="Generated images: with --ckpt default 10000; with --fake all (or the "
                   "first N).")
@click.option("--num-real", type=click.IntRange(2), default=None,
              help="Use only the first N reference images (default: all).")
@click.option("--inception-weights", type=click.Path(dir_okay=False), default=None,
              help="Path to pt_inception-2015-12-05-6726825d.pth (FID/KID/IS); else "
                   "$ARTGAN_INCEPTION_WEIGHTS, then torch hub's cache. Never downloaded.")
@click.option("-o", "overrides", multiple=True, metavar="GROUP.KEY=VALUE",
              help="Metric or reference-data option, e.g. -o kid.subset_size=500, "
                   "-o data.size=512 (see `artgan list metric --options`).")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seed of the generated images (as `artgan sample --seed`).")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True,
              help="Images per forward pass of the generator and the feature network.")
@click.option("--no-cache", is_flag=True,
              help="Neither read nor write cached reference statistics "
                   "($ARTGAN_CACHE_DIR/ref-stats, default ~/.cache/artgan/ref-stats).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@click.option("--no-ema", is_flag=True,
              help="With --ckpt: score the raw generator, not its moving average.")
def eval_command(ckpt, fake_dir, real_spec, metric_names, count, num_real, inception_weights,
                 overrides, seed, device, batch_size, no_cache, as_json, no_ema) -> None:
    """Score generated images: FID, KID, Inception Score, MS-SSIM diversity.

    \b
    artgan eval --ckpt runs/demo --metric fid --metric kid -n 10000
    artgan eval --fake samples/ --real folder:./paintings --metric fid
    artgan eval --fake samples/ --metric ms-ssim --metric is --json
    """
    if (ckpt is None) == (fake_dir is None):
        raise click.UsageError("give exactly one of --ckpt PATH or --fake DIR")
    _run(ckpt, fake_dir, real_spec, list(metric_names), count, num_real, inception_weights,
         overrides, seed, device, batch_size, no_cache, as_json, ema=not no_ema)


def _run(ckpt, fake_dir, real_spec, metric_names, count, num_real, inception_weights,
         overrides, seed, device, batch_size, no_cache, as_json, ema=True) -> None:
    from rich.console import Console


    registry = get_registry()
    names = list(dict.fromkeys(registry.get("metric", m).name for m in metric_names))
    options = _parse_metric_options(overrides, names, registry)

    # 1. Metrics first: missing Inception weights fail here, before any work.
    metrics = {}
    for name in names:
        entry = registry.get("metric", name)
        values = dict(options[name])
        if inception_weights and any(f.name == "inception_weights"
                                     for f in dataclasses.fields(entry.options)):
            values.setdefault("inception_weights", inception_weights)
        metrics[name] = registry.build("metric", name, values)

    from ..core.device import resolve_device
    from ..evaluation.features import RefStatsCache
    from ..evaluation.image_sets import ImageSet
    from ..evaluation.evaluate import evaluate

    dev = resolve_device(device)
    for metric in metrics.values():
        if hasattr(metric, "prepare"):
            metric.prepare(dev)

    # 2. The generated images: a checkpoint's generator, or a folder.
    ckpt_spec, ckpt_options = None, {}
    if ckpt is not None:
        from ..core.sampling import load_generator

        G, config, _ = load_generator(ckpt, registry, device=str(dev), ema=ema)
        resolution, channels = config.image.resolution, config.image.channels
        width = config.image.width
        n = count or 10000
        fake = ImageSet.from_generator(G, n, seed=seed, batch_size=batch_size,
                                       description=f"generated by {Path(ckpt)} "
                                                   f"({config.components.gen.name}, "
                                                   f"{config.image.size_text})")
        data = config.components.data
        ckpt_spec, ckpt_options = data.spec, dict(data.options)
    else:
        folder = load_fake_folder(fake_dir, count)
        _report_skipped(fake_dir, folder)
        if folder.width != folder.resolution and real_spec is not None and not getattr(
                registry.get("data", parse_data_spec(real_spec, registry)[0]).component_class(),
                "non_square", False):
            click.echo(f"--real {real_spec} gives square images: the {folder.width}x"
                       f"{folder.resolution} images of {fake_dir} are scored by their centred "
                       f"squares", err=True)
            folder = folder.cropped_square()
        resolution, channels, width = folder.resolution, folder.channels, folder.width
        fake = folder.image_set(f"--fake {fake_dir}", batch_size)

    # 3. The reference images, at the resolution and channels of the generated ones.
    real = None
    real_spec = real_spec or ckpt_spec
    if real_spec is None and any(getattr(m, "requires_real", True) for m in metrics.values()):
        raise click.UsageError("these metrics need reference images: add --real SPEC "
                               "(for example --real demo or --real folder:./paintings)")
    if real_spec is not None:
        name, argument = parse_data_spec(real_spec, registry)
        entry = registry.get("data", name)
        values = dict(ckpt_options) if real_spec == ckpt_spec else {}
        values.update(options["data"])
        effective = as_dict(build_options(entry.options, values, owner=f"data {entry.name}"))
        shape = {} if width == resolution else {"width": width}
        if shape and not getattr(entry.component_class(), "non_square", False):
            raise click.UsageError(f"the generated images are {width}x{resolution} px; --real "
                                   f"{real_spec} gives square images only: use --real "
                                   f"folder:PATH (cropped to their aspect)")
        source = registry.build("data", entry.name, effective, argument,
                                resolution=resolution, channels=channels, seed=0, **shape)
        real = ImageSet.from_data_source(source, spec=real_spec, options=effective,
                                         count=num_real, batch_size=batch_size)

    # 4. Features and scores, with a progress bar on stderr.
    console = Console(stderr=True)
    display, progress = _progress_factory(console)
    with display:
        results = evaluate(metrics, fake, real, device=dev, progress=progress,
                           cache=None if no_cache else RefStatsCache())

    if as_json:
        click.echo(json.dumps({"metrics": results, "fake": fake.description,
                               "real": real.description if real else None,
                               "device": str(dev)}, indent=2))
        return
    for name, result in results.items():
        click.echo(_headline(name, result, metrics[name]))
        details = {k: v for k, v in result.items()
                   if k not in (metrics[name].key, _HEADLINE_EXTRAS.get(metrics[name].key),
                                "ms_ssim_real")}
        for key, value in details.items():
            click.echo(f"    {key}: {value:.6g}" if isinstance(value, float)
                       else f"    {key}: {value}")
