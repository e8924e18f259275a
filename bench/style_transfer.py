"""CycleGAN on two demo styles, measured: does a short CPU run learn a style transfer?

Trains ``--gen cyclegan`` through the real trainer (``artgan.make_trainer``, the same run
folder as ``artgan run --gen cyclegan --data unpaired``) on the built-in demo pair,
stripes (domain A) and waves (domain B), for a stated number of steps, and prints the
measured CPU and wall-clock seconds of training. It then loads the checkpoint as
``artgan translate`` does (the EMA generators where the run kept them, and the raw ones
too) and translates held-out demo images, rendered with another seed than the training
images, in both directions.

For each direction it prints:

- **target / source share**: the share of translated images that the style classifier
  of bench/style_classifier.py (a small CNN trained here, from scratch, on demo images
  and on images in no style) assigns to the target style, and to the source style;
  ``other`` is the share assigned to no style. "conf" is the classifier's mean
  confidence (best-class probability) over the images it assigned to the target style.
- **edge similarity**: the Pearson correlation, per image, between the Sobel gradient
  magnitude of the greyscale source and that of the greyscale translation, averaged
  over the images (1: the same edges with any contrast; 0: unrelated). Beside it, the
  same correlation for *unrelated pairs* (each source against the translation of
  another source), the level that says "no structure kept".

The same figures for the untranslated sources are the reference: a transfer has worked
when the target share rises from about 0 while the edge similarity stays well above
the unrelated-pairs level.

    python bench/style_transfer.py                           # the stated budget, seed 0
    python bench/style_transfer.py --seeds 0 1 --picture docs/images/style-transfer.png
    python bench/style_transfer.py --smoke                   # seconds: the plumbing only
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import artgan  # noqa: E402
from artgan.core.device import DeviceError, resolve_device  # noqa: E402
from artgan.core.sampling import load_generator  # noqa: E402
from artgan.plugin_host import get_registry  # noqa: E402
from artgan.plugins.demo import render_style  # noqa: E402
from artgan.translation import translate_image, translator  # noqa: E402
from bench.style_classifier import OTHER, style_shares, train_style_classifier  # noqa: E402

STYLE_A, STYLE_B = "stripes", "waves"  # what `--data unpaired` alone trains on
HELD_OUT_SEED = 777  # the demo source renders its images with seed 0


def grey(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, 1, H, W) luminance."""
    if images.shape[1] == 1:
        return images
    weights = images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images[:, :3] * weights).sum(1, keepdim=True)


def sobel_magnitude(images: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of the greyscale images, (N, H, W) (edges replicated)."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernel = torch.stack([kx, kx.t()]).unsqueeze(1)  # (2, 1, 3, 3)
    g = F.conv2d(F.pad(grey(images.float()), (1, 1, 1, 1), mode="replicate"), kernel)
    return g.square().sum(1).add(1e-12).sqrt()


def edge_similarity(source: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Per image: the Pearson correlation of the Sobel magnitudes of ``source`` and
    ``other`` (N, C, H, W), in [-1, 1]; 0 where either image has no edges at all."""
    a, b = sobel_magnitude(source).flatten(1), sobel_magnitude(other).flatten(1)
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    denom = a.norm(dim=1) * b.norm(dim=1)
    return torch.where(denom > 1e-8, (a * b).sum(1) / denom.clamp_min(1e-8),
                       torch.zeros_like(denom))


def score(clf, source: torch.Tensor, translated: torch.Tensor, source_style: str,
          target_style: str) -> dict[str, float]:
    """The figures of one direction (see the module docstring)."""
    shares = style_shares(clf, translated)
    unrelated = translated.roll(1, dims=0)  # each source against another's translation
    return {"target": shares[target_style]["share"],
            "conf": shares[target_style]["confidence"],
            "source": shares[source_style]["share"], "other": shares[OTHER]["share"],
            "edges": float(edge_similarity(source, translated).mean()),
            "unrelated": float(edge_similarity(source, unrelated).mean())}


def train(args, seed: int, out: Path) -> dict[str, float]:
    """One CycleGAN run into ``out``; returns its measured CPU and wall seconds."""
    trainer = artgan.make_trainer(
        gen="cyclegan", data="unpaired", resolution=args.resolution,
        batch_size=args.batch_size, max_steps=args.steps, epochs=10_000, ema=args.ema,
        seed=seed, device=args.device, out=out, log_every=max(1, args.steps // 10),
        checkpoint_every=10**9, sample_every=10**9,
        options={"gen": {"ngf": args.ngf, "blocks": args.blocks},
                 "disc": {"ndf": args.ndf}, "data": {"size": args.train_images}})
    cpu, wall = time.process_time(), time.perf_counter()
    trainer.fit()
    return {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
            "steps": trainer.step}


def held_out(style: str, count: int, resolution: int) -> torch.Tensor:
    """``count`` demo images of ``style`` the run never saw, in [-1, 1]."""
    return render_style(style, count, resolution, seed=HELD_OUT_SEED).float() / 127.5 - 1


def evaluate(run: Path, clf, sources: dict[str, torch.Tensor], ema: bool
             ) -> tuple[dict[str, dict[str, float]], dict[str, torch.Tensor]]:
    """Translate the held-out images both ways with the checkpoint's weights (``ema``:
    the moving average where the run kept one); returns figures and translations."""
    G, _, _ = load_generator(run, get_registry(), device="cpu", ema=ema)
    figures, outputs = {}, {}
    for direction, (src, dst) in {"a2b": (STYLE_A, STYLE_B), "b2a": (STYLE_B, STYLE_A)}.items():
        outputs[direction] = translate_image(translator(G, direction), sources[src])
        figures[direction] = score(clf, sources[src], outputs[direction], src, dst)
    return figures, outputs


def picture(path: Path, sources: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor],
            rows: int = 4, scale: int = 4) -> None:
    """A before/after grid: ``rows`` rows of (stripes | translated) on the left and
    (waves | translated) on the right, each image enlarged ``scale`` times."""
    from torchvision.utils import save_image

    pairs = [(sources[STYLE_A], outputs["a2b"]), (sources[STYLE_B], outputs["b2a"])]
    tiles = []
    for i in range(rows):
        for src, out in pairs:
            tiles += [src[i], out[i]]
    grid = torch.stack(tiles).add(1).div(2).clamp(0, 1)
    grid = F.interpolate(grid, scale_factor=scale, mode="nearest")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(grid, path, nrow=4, padding=4, pad_value=1.0)


def print_figures(label: str, figures: dict[str, dict[str, float]]) -> None:
    names = {"a2b": f"{STYLE_A} -> {STYLE_B}", "b2a": f"{STYLE_B} -> {STYLE_A}"}
    for direction, f in figures.items():
        print(f"  {label:<13} {names[direction]:<18} target {f['target']:6.1%} "
              f"(conf {f['conf']:.2f})  source {f['source']:6.1%}  other {f['other']:6.1%}  "
              f"edges {f['edges']:.2f} (unrelated {f['unrelated']:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1400, help="training steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--ngf", type=int, default=16)
    parser.add_argument("--ndf", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=0, help="0: CycleGAN's choice")
    parser.add_argument("--train-images", type=int, default=256, help="per side")
    parser.add_argument("--test-images", type=int, default=200, help="held out, per side")
    parser.add_argument("--classifier-images", type=int, default=300, help="per class")
    parser.add_argument("--ema", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--picture", type=Path, help="write a before/after grid (first seed)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny settings: checks the plumbing in seconds, measures nothing")
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.resolution, args.ngf, args.ndf, args.blocks = 3, 16, 4, 4, 1
        args.train_images, args.test_images, args.classifier_images = 8, 8, 20
    try:
        resolve_device(args.device)
    except DeviceError as exc:
        sys.exit(f"error: --device {args.device}: {exc}")
    torch.set_num_threads(1)
    print(f"cyclegan {STYLE_A} <-> {STYLE_B}: {args.resolution} px, {args.steps} steps, batch "
          f"{args.batch_size}, ngf {args.ngf}, ndf {args.ndf}, ema {args.ema}, "
          f"{args.train_images} training images a side, {args.test_images} held out, "
          f"torch threads {torch.get_num_threads()} (OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')})")
    sources = {s: held_out(s, args.test_images, args.resolution) for s in (STYLE_A, STYLE_B)}
    with tempfile.TemporaryDirectory() as tmp:
        for k, seed in enumerate(args.seeds):
            clf = train_style_classifier(args.resolution, seed=seed,
                                         per_style=args.classifier_images)
            print(f"seed {seed}: style classifier held-out accuracy {clf.accuracy:.1%}")
            untouched = {"a2b": score(clf, sources[STYLE_A], sources[STYLE_A], STYLE_A, STYLE_B),
                         "b2a": score(clf, sources[STYLE_B], sources[STYLE_B], STYLE_B, STYLE_A)}
            print_figures("untranslated", untouched)
            run = Path(tmp) / f"seed{seed}"
            cost = train(args, seed, run)
            print(f"  trained {cost['steps']} steps: {cost['cpu_s']:.0f} CPU-s, "
                  f"{cost['wall_s']:.0f} s wall")
            for ema in ((False, True) if args.ema else (False,)):
                figures, outputs = evaluate(run, clf, sources, ema)
                print_figures("ema" if ema else "raw", figures)
                if args.picture and k == 0 and ema == args.ema:
                    picture(args.picture, sources, outputs)
    if args.picture:
        print(f"before/after grid: {args.picture} ({args.picture.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
