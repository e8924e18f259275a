"""The quickstart recipe: what ``artgan run`` with no arguments trains, and that it learns
the demo styles (bench/quickstart.py measures the full-size run)."""

import torch
from PIL import Image

from artgan.core.sampling import load_generator, sample_images
from artgan.plugin_host import get_registry
from artgan.plugins.demo import STYLES, render_style

from .helpers import artgan as cli, resolved

#: The quick start shrunk to seconds: 16 px, narrow networks, 320 demo images. No --gen
#: and no --data, so the recipe picks the architecture; what is given here wins over it.
SMALL_QUICKSTART = ["--resolution", "16", "--batch-size", "32", "-o", "gen.ngf=16",
                    "-o", "disc.ndf=16", "-o", "data.size=320", "--device", "cpu",
                    "--log-every", "50"]


def test_no_arguments_train_a_conditional_gan_on_the_demo_styles():
    config = resolved()
    gen, disc = config.components.gen, config.components.disc
    assert (gen.name, disc.name, config.components.loss.name) == ("cgan", "cgan", "hinge")
    assert gen.options["embed_dim"] == 10 and gen.options["ngf"] == 32
    assert disc.options["ndf"] == 32 and disc.options["spectral_norm"] is True
    assert config.components.data.name == "demo"
    assert config.image.resolution == 32 and config.schedule.epochs == 50
    assert config.optimisation.lr_decay == 0.5
    assert config.optimisation.source.endswith("lr decay set by recipe 'quickstart'")
    assert not config.regularisation.ema and config.regularisation.augment == ()
    assert config.notes[0].startswith("recipe quickstart: no --data given; cgan")
    assert "recipe quickstart: gen=cgan" in config.notes


def test_a_named_generator_keeps_its_own_defaults_and_the_users_values_win():
    config = resolved(gen="dcgan")
    assert config.components.gen.name == "dcgan" and config.components.loss.name == "gan"
    assert config.optimisation.lr_decay is None and "embed_dim" not in \
        config.components.gen.options
    assert config.notes[0] == "recipe quickstart: no --data given"
    mine = resolved(lr_decay=0.2, options={"gen": {"embed_dim": 4}})
    assert mine.optimisation.lr_decay == 0.2 and mine.components.gen.options["embed_dim"] == 4
    assert mine.optimisation.source.endswith("lr decay set by the user")


def _mean_colours(images: torch.Tensor) -> torch.Tensor:
    return images.float().mean((0, 2, 3))


def test_the_quickstart_learns_every_styles_palette_and_samples_by_name(tmp_path):
    run = tmp_path / "quick"
    cli("run", *SMALL_QUICKSTART, "--max-steps", "500", "--out", run)
    G, config, names = load_generator(run, get_registry(), device="cpu")
    assert names == list(STYLES) and config.components.gen.name == "cgan"
    real = torch.stack([_mean_colours(render_style(s, 40, 16, 3).float() / 127.5 - 1)
                        for s in STYLES])
    fake = sample_images(G, 40 * len(STYLES), seed=1)  # labels 0, 1, ..., 4, 0, ...
    labels = torch.arange(len(fake)) % len(STYLES)
    made = torch.stack([_mean_colours(fake[labels == c]) for c in range(len(STYLES))])
    # each style's samples are nearest in colour to that style's real images (an untrained
    # or label-blind generator draws every style alike, so at most one can match)
    nearest = torch.cdist(made, real).argmin(1)
    assert nearest.tolist() == list(range(len(STYLES))), nearest

    out = tmp_path / "waves"
    cli("sample", "--ckpt", run, "--class", "waves", "-n", "4", "--out", out)
    pictures = sorted(out.glob("*.png"))
    assert len(pictures) == 4 and Image.open(pictures[0]).size == (16, 16)


def test_a_conditional_runs_sample_grid_shows_one_class_per_row(tmp_path):
    from artgan.api import make_trainer

    trainer = make_trainer(gen="cgan", data="demo", out=tmp_path / "grid", resolution=16,
                           options={"gen": {"ngf": 8}, "disc": {"ndf": 8},
                                    "data": {"size": 64}}, device="cpu")
    rows = trainer.fixed_y.view(8, 8)  # 64 samples, 8 per grid row
    assert (rows == rows[:, :1]).all()  # one class per row
    assert rows[:, 0].tolist() == [0, 1, 2, 3, 4, 0, 1, 2]  # the rows cycle the styles
