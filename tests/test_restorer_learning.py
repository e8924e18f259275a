"""A restorer trained briefly on a small synthetic folder lowers the masked-region error.

A plain loop (U-Net + PatchGAN + pix2pix on ``damage:folder:...``), not the trainer, so
that it checks the components alone. ``train_and_score(steps=...)`` is also the sanity
figure of the restorer: run it longer by hand (see its docstring).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

import artgan.components as components
from artgan.plugins.demo import STYLES, render_style
from artgan.restoration.restorer import restore_with_network

LOCAL = "holes,strokes"


def write_folder(folder: Path, count: int, resolution: int, seed: int) -> Path:
    """``count`` PNGs of demo art (every style in turn), a stand-in for paintings."""
    folder.mkdir(parents=True)
    per_style = -(-count // len(STYLES))
    for s, style in enumerate(STYLES):
        images = render_style(style, per_style, resolution, seed, 3)
        for j, pixels in enumerate(images):
            Image.fromarray(pixels.permute(1, 2, 0).numpy()).save(
                folder / f"{style}-{j:03d}.png")
    return folder


def masked_errors(G, data, count: int) -> dict[str, float]:
    """Mean absolute error inside the masks over ``count`` damaged images of ``data``
    (images in [-1, 1]): the damaged input, the restorer and scikit-image's biharmonic
    inpainting."""
    from skimage.restoration import inpaint_biharmonic

    batch = data.load(torch.arange(count))
    c = data.channels
    damaged, known = batch.condition[:, :c], batch.condition[:, c:] > 0
    restored = restore_with_network(G, damaged, known)
    biharmonic = torch.stack([torch.from_numpy(inpaint_biharmonic(
        d.permute(1, 2, 0).numpy().astype(np.float64), m[0].numpy(), channel_axis=-1)
    ).permute(2, 0, 1).float() for d, m in zip(damaged, known)])
    inside = known.expand_as(damaged)

    def error(x):
        return float((x - batch.images).abs()[inside].mean())

    return {"damaged": error(damaged), "restorer": error(restored),
            "biharmonic": error(biharmonic), "masked_fraction": float(known.float().mean())}


def train_and_score(root: Path, *, steps: int, resolution: int = 32, images: int = 60,
                    batch: int = 10, ngf: int = 16, seed: int = 0) -> dict[str, dict]:
    """Train U-Net + PatchGAN with pix2pix on ``damage:folder`` (holes and strokes) for
    ``steps`` steps; score held-out images (another demo seed) before and after.

    By hand: ``PYTHONPATH=. python -c "from pathlib import Path; import tempfile;
    from tests.test_restorer_learning import train_and_score;
    print(train_and_score(Path(tempfile.mkdtemp()), steps=600))"``.
    """
    torch.manual_seed(seed)
    shape = dict(resolution=resolution, channels=3)
    train = components.build("data", "damage", {"kinds": LOCAL, "inner": "cache=false"},
                             f"folder:{write_folder(root / 'train', images, resolution, 0)}",
                             seed=seed, **shape)
    held_out = components.build("data", "damage", {"kinds": LOCAL, "inner": "cache=false"},
                                f"folder:{write_folder(root / 'test', 20, resolution, 99)}",
                                seed=1234, **shape)
    G = components.build("generator", "unet", {"ngf": ngf}, condition_channels=4, **shape)
    D = components.build("discriminator", "patchgan", {"ndf": ngf}, condition_channels=4,
                         **shape)
    loss = components.create("loss", "pix2pix")
    settings = loss.optimizer
    opt_g = torch.optim.Adam(G.parameters(), lr=settings.lr, betas=settings.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=settings.lr, betas=settings.betas)
    before = masked_errors(G, held_out, 20)
    step, epoch = 0, 0
    while step < steps:
        train.set_epoch(epoch)
        for indices in train.epoch_batches(batch, epoch, seed):
            real, _, condition = train.load(indices)

            def bound(x, y, condition=condition):  # the trainer's D, bound to the inputs
                return D(x, y, condition)

            fake = G(G.sample_z(len(indices)), None, condition)
            opt_d.zero_grad(set_to_none=True)
            loss.discriminator_loss(G, bound, real, fake.detach(), None)["loss"].backward()
            opt_d.step()
            opt_g.zero_grad(set_to_none=True)
            loss.generator_loss(G, bound, real, fake, None)["loss"].backward()
            opt_g.step()
            step += 1
            if step == steps:
                break
        epoch += 1
    return {"before": before, "after": masked_errors(G, held_out, 20)}


def test_a_briefly_trained_restorer_lowers_the_masked_region_error(tmp_path):
    torch.set_num_threads(1)
    scores = train_and_score(tmp_path, steps=200, ngf=8)  # 0.57 -> 0.38 measured
    before, after = scores["before"], scores["after"]
    assert after["restorer"] < 0.75 * before["restorer"], scores
    assert after["restorer"] < after["damaged"], scores


def test_a_residual_restorer_learns_beyond_its_fill(tmp_path):
    # -o gen.fill=pushpull -o gen.residual=true: the untrained restorer returns the fill;
    # trained (the L1 with hole_weight, as in pix2pix's G loss) on one batch of damaged
    # demo images it must beat that fill inside the holes, and never touch the rest
    torch.set_num_threads(1)
    torch.manual_seed(0)
    shape = dict(resolution=16, channels=3)
    data = components.build("data", "damage", {"kinds": "holes", "inner": "cache=false"},
                            f"folder:{write_folder(tmp_path / 'train', 10, 16, 0)}",
                            seed=3, **shape)
    real, _, condition = data.load(torch.arange(8))
    G = components.build("generator", "unet", {"ngf": 8, "fill": "pushpull",
                                               "residual": True, "norm": "none"},
                         condition_channels=4, **shape)
    loss = components.create("loss", "pix2pix", hole_weight=4.0)
    holes = (condition[:, 3:] > 0).expand_as(real)

    def hole_error():
        with torch.no_grad():
            return float((G(G.sample_z(8), None, condition) - real).abs()[holes].mean())

    opt = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    start = hole_error()
    for _ in range(60):
        fake = G(G.sample_z(8), None, condition)
        opt.zero_grad(set_to_none=True)
        loss.generator_loss(G, lambda x, y: torch.zeros(len(x), 1), real, fake, None,
                            condition=condition)["loss"].backward()  # a D of constant 0
        opt.step()
    after = hole_error()
    assert after < 0.7 * start, (start, after)  # 0.21 -> 0.10 measured
    out = G(G.sample_z(8), None, condition).detach()
    assert torch.equal(out[~holes], condition[:, :3][~holes])
