"""Benchmark: filling holes in held-out paintings, a trained restorer against baselines.

Builds a folder of demo-art PNGs (all five styles, 32 px by default) and a held-out
folder of other demo images (another seed), then, on the CPU with ``--threads``
threads:

1. trains the pix2pix restorer with artgan's trainer on ``damage:folder:TRAIN``
   (``--gen unet --disc patchgan --loss pix2pix``, local damage: holes and strokes;
   ``--restorer`` sets its options);
2. trains a small GAN (DCGAN) on the same folder, for projection-based restoration;
3. damages every held-out image with the damage source's holes and strokes (fixed
   seed: the same damage for every method) and restores it with (a) scikit-image's
   ``inpaint_biharmonic``, (b) the GAN through ``artgan restore``'s code (projection of
   the known pixels, crop by crop, feathered blend), (c) the restorer;
4. prints, per method, the masked-region PSNR (the MSE over the damaged pixels of each
   image, all channels, in [0, 1]) and SSIM (scikit-image's SSIM map, uniform 7x7
   window, averaged over the damaged pixels), as the mean over images, with the steps
   and the CPU seconds (process time, all threads) each method took.

    # the figures in bench/README.md (--plain: also the U-Net with its defaults;
    # --also: another restorer, same budget), about 6 CPU-minutes per restorer
    python bench/restore.py --seed 0 --plain \
        --also fill=pushpull,residual=true,norm=none,hole_weight=4 \
        --picture docs/images/restore.png
    python bench/restore.py --seed 1
    python bench/restore.py --steps 20 --gan-steps 20 --train-images 20 --test-images 4 \\
        --project-steps 5   # a smoke test

The last line says whether the restorer beat biharmonic on both numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import artgan
from artgan.core.device import DeviceError, resolve_device
from artgan.plugins.demo import STYLES, render_style

#: The restorer's options in this benchmark (see docs/restoration.md).
RESTORER = "fill=biharmonic,residual=true,norm=none,hole_weight=4"
LOCAL = "holes,strokes"


def write_folder(folder: Path, count: int, resolution: int, seed: int) -> Path:
    """``count`` PNGs of demo art, the styles in turn, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    per_style = -(-count // len(STYLES))
    images = [render_style(style, per_style, resolution, seed, 3) for style in STYLES]
    for i in range(count):
        pixels = images[i % len(STYLES)][i // len(STYLES)]
        Image.fromarray(pixels.permute(1, 2, 0).numpy()).save(folder / f"{i:04d}.png")
    return folder


def split_options(text: str) -> dict[str, dict[str, str]]:
    """``"fill=pushpull,hole_weight=4,ndf=16"`` -> the gen / loss / disc option groups."""
    groups: dict[str, dict[str, str]] = {"gen": {}, "loss": {}, "disc": {}}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = item.partition("=")
        group = "loss" if key in ("hole_weight", "l1_weight") else \
            "disc" if key in ("ndf", "n_layers", "spectral_norm") else "gen"
        groups[group][key] = value
    return groups


def train(run: Path, args, *, restorer: str | None, folder: Path, tuned: bool = True
          ) -> dict:
    """Train with artgan's trainer; returns steps and CPU seconds. ``restorer`` is its
    option text, or None for the GAN; ``tuned``: the restorer with ``--lr`` and
    ``--ema`` (else pix2pix's 2e-4 and no EMA)."""
    common = dict(resolution=args.resolution, batch_size=args.batch_size, device="cpu",
                  seed=args.seed, epochs=10 ** 6, log_every=10 ** 9, out=run)
    if restorer is None:
        steps = args.gan_steps
        trainer = artgan.make_trainer(gen="dcgan", loss="hinge", data=f"folder:{folder}",
                                      max_steps=steps, **common,
                                      options={"gen": {"ngf": args.gan_width},
                                               "disc": {"ndf": args.gan_width},
                                               "data": {"cache": "false"}})
    else:
        steps = args.steps
        groups = split_options(restorer)
        groups["gen"].setdefault("ngf", str(args.width))
        groups["disc"].setdefault("ndf", str(args.width))
        trainer = artgan.make_trainer(gen="unet", disc="patchgan", loss="pix2pix",
                                      data=f"damage:folder:{folder}", max_steps=steps,
                                      lr_g=args.lr if tuned else None,
                                      ema=tuned and args.ema > 0,
                                      ema_decay=args.ema or 0.999, **common, options={
                                          **groups, "data": {"kinds": LOCAL,
                                                             "inner": "cache=false"}})
    start = time.process_time()
    trainer.fit()
    return {"steps": steps, "cpu_s": time.process_time() - start}


def damaged_test_set(folder: Path, args) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clean, damaged, mask): float (N, H, W, 3) in [0, 1] twice (the damaged one
    quantised to 8 bits, as a file would be) and bool (N, H, W)."""
    data = artgan.create("data", "damage", argument=f"folder:{folder}", kinds=LOCAL,
                         inner="cache=false", resolution=args.resolution, channels=3,
                         seed=10_000 + args.seed)
    batch = data.load(torch.arange(len(data)))
    clean = ((batch.images.permute(0, 2, 3, 1).numpy() + 1) / 2).clip(0, 1)
    damaged = ((batch.condition[:, :3].permute(0, 2, 3, 1).numpy() + 1) / 2).clip(0, 1)
    damaged = np.rint(damaged * 255) / 255
    mask = batch.condition[:, 3].numpy() > 0
    return clean, damaged, mask


def restore_biharmonic(damaged, mask) -> np.ndarray:
    from skimage.restoration import inpaint_biharmonic

    return np.stack([inpaint_biharmonic(d, m, channel_axis=-1) if m.any() else d
                     for d, m in zip(damaged, mask)]).clip(0, 1)


def restore_projection(run: Path, damaged, mask, args) -> np.ndarray:
    """``artgan restore --ckpt RUN --image ... --mask ...``'s code, image by image."""
    from artgan.cli.project_cmd import load_model
    from artgan.restoration.inpaint import restore

    G, _config, _names, features, _note = load_model(str(run), "cpu", False, 0.1)
    out = []
    for d, m in zip(damaged, mask):
        pixels = np.rint(d * 255).astype(np.uint8)
        if not m.any():
            out.append(d)
            continue
        result = restore(G, pixels, m, features=features, steps=args.project_steps,
                         restarts=args.restarts, seed=args.seed)
        out.append(result.pixels.astype(np.float64) / 255)
    return np.stack(out)


def restore_network(run: Path, damaged, mask) -> np.ndarray:
    """``artgan restore --ckpt RESTORER``'s network pass (unmasked pixels kept)."""
    from artgan.core.sampling import load_generator
    from artgan.plugin_host import get_registry
    from artgan.restoration.restorer import restore_with_network

    G, _config, _names = load_generator(run, get_registry(), device="cpu")
    image = torch.from_numpy(damaged).permute(0, 3, 1, 2).float() * 2 - 1
    out = restore_with_network(G, image, torch.from_numpy(mask)[:, None])
    return ((out.permute(0, 2, 3, 1).double().numpy() + 1) / 2).clip(0, 1)


def masked_scores(clean, restored, mask) -> dict[str, float]:
    """Mean over images of the masked-region PSNR and SSIM (module docstring)."""
    from skimage.metrics import structural_similarity

    psnrs, ssims = [], []
    for c, r, m in zip(clean, restored, mask):
        if not m.any():
            continue
        mse = float(((c - r) ** 2)[m].mean())
        psnrs.append(10 * np.log10(1 / max(mse, 1e-10)))
        _, ssim_map = structural_similarity(c, r, channel_axis=-1, data_range=1.0,
                                            full=True)
        ssims.append(float(ssim_map[m].mean()))
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims))}


def save_picture(path: Path, columns: list[np.ndarray], rows: int, scale: int) -> None:
    """A grid: one row per image, the ``columns`` side by side, enlarged ``scale``x
    (nearest), 2 px white gaps."""
    cells = [[np.rint(col[i] * 255).astype(np.uint8) for col in columns]
             for i in range(min(rows, len(columns[0])))]
    h, w = cells[0][0].shape[:2]
    gap = 2
    sheet = np.full((len(cells) * (h * scale + gap) - gap,
                     len(columns) * (w * scale + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(cells):
        for j, cell in enumerate(row):
            big = cell.repeat(scale, 0).repeat(scale, 1)
            y, x = i * (h * scale + gap), j * (w * scale + gap)
            sheet[y:y + h * scale, x:x + w * scale] = big
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(path, optimize=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500, help="Restorer training steps.")
    parser.add_argument("--gan-steps", type=int, default=1500, help="GAN training steps.")
    parser.add_argument("--train-images", type=int, default=200)
    parser.add_argument("--test-images", type=int, default=50)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--width", type=int, default=16, help="Restorer gen.ngf, disc.ndf.")
    parser.add_argument("--gan-width", type=int, default=32, help="GAN gen.ngf, disc.ndf.")
    parser.add_argument("--restorer", default=RESTORER,
                        help=f"Restorer options, KEY=VALUE,... (default {RESTORER}).")
    parser.add_argument("--lr", type=float, default=1e-3,
                        help="Restorer generator learning rate (--lr-g; pix2pix: 2e-4).")
    parser.add_argument("--ema", type=float, default=0.99,
                        help="Restorer EMA decay (--ema --ema-decay); 0: no EMA.")
    parser.add_argument("--plain", action="store_true",
                        help="Also train the U-Net with its default options (no fill, no "
                             "residual, plain L1), same budget.")
    parser.add_argument("--also", action="append", default=[], metavar="OPTIONS",
                        help="Also train a restorer with these options (and --lr, --ema), "
                             "same budget; repeatable.")
    parser.add_argument("--project-steps", type=int, default=100)
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="Only cpu: the budget is CPU time.")
    parser.add_argument("--picture", type=Path, default=None,
                        help="Write damaged | biharmonic | restorer | original of 4 "
                             "held-out images here (PNG).")
    parser.add_argument("--keep", type=Path, default=None, help="Keep the runs here.")
    parser.add_argument("--json", type=Path, default=None, help="Write the results here.")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        if resolve_device(args.device).type != "cpu":
            raise SystemExit("error: this benchmark states a CPU budget: use --device cpu")
    except DeviceError as exc:
        raise SystemExit(f"error: {exc}") from None
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        train_dir = write_folder(root / "paintings", args.train_images, args.resolution, 7)
        test_dir = write_folder(root / "held-out", args.test_images, args.resolution, 99)
        clean, damaged, mask = damaged_test_set(test_dir, args)
        print(f"{args.train_images} training / {args.test_images} held-out images at "
              f"{args.resolution} px, damage {LOCAL}: {100 * mask.mean():.1f}% of pixels "
              f"masked; {args.threads} thread(s)", flush=True)
        results, restored = {}, {}

        def record(name, images, cpu_s, steps=None, note=""):
            restored[name] = images
            results[name] = {**masked_scores(clean, images, mask), "steps": steps,
                             "cpu_s": round(cpu_s, 1), "note": note}
            r = results[name]
            print(f"{name:<12} masked PSNR {r['psnr']:6.2f} dB  SSIM {r['ssim']:.4f}  "
                  f"steps {steps if steps is not None else '-':>5}  CPU {r['cpu_s']:7.1f} s"
                  f"  {note}", flush=True)

        record("damaged", damaged, 0.0, note="(the input)")
        start = time.process_time()
        record("biharmonic", restore_biharmonic(damaged, mask), time.process_time() - start,
               note="skimage inpaint_biharmonic")
        gan = train(root / "gan", args, restorer=None, folder=train_dir)
        start = time.process_time()
        images = restore_projection(root / "gan", damaged, mask, args)
        record("projection", images, gan["cpu_s"] + time.process_time() - start,
               gan["steps"], f"DCGAN (hinge, ngf=ndf={args.gan_width}); restore "
               f"--steps {args.project_steps} --restarts {args.restarts}")
        variants = [("restorer", args.restorer)] + \
            [(f"also-{i + 1}", text) for i, text in enumerate(args.also)] + \
            ([("plain-unet", "")] if args.plain else [])
        for name, text in variants:
            fit = train(root / name, args, restorer=text, folder=train_dir,
                        tuned=name != "plain-unet")
            start = time.process_time()
            images = restore_network(root / name, damaged, mask)
            record(name, images, fit["cpu_s"] + time.process_time() - start, fit["steps"],
                   f"unet+patchgan+pix2pix ngf=ndf={args.width} " + (
                       f"{text} lr_g={args.lr} ema={args.ema}" if name != "plain-unet"
                       else "(defaults: no fill, not residual, lr 2e-4, no EMA)"))
        if args.picture:
            save_picture(args.picture, [damaged, restored["biharmonic"],
                                        restored["restorer"], clean], 4, 4)
            print(f"wrote {args.picture} (damaged | biharmonic | restorer | original)")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        best, base = results["restorer"], results["biharmonic"]
        wins = [k for k in ("psnr", "ssim") if best[k] > base[k]]
        print(f"restorer better than biharmonic on: {', '.join(wins) or 'neither'} "
              f"({'beats it on both' if len(wins) == 2 else 'does not beat it on both'})")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
