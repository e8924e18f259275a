"""Every generator/discriminator family x every loss x every kind of data, through the CLI.

The matrix (2 families x 5 losses x 3 data kinds = 30 cells) trains 2 steps per cell at
16 px with narrow networks; the one combination that cannot work, a conditional model on
unlabelled data, must be refused before anything trains. Then: mixing conditional and
unconditional networks, the norm a loss requires, the optimiser a loss recommends, and
``artgan sample --class`` on conditional checkpoints.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from PIL import Image

from artgan.core.checkpoint import load_checkpoint

from .helpers import artgan, read_stats, flat_config

FAMILIES = ("dcgan", "cgan")
LOSSES = ("gan", "wgan", "wgan-gp", "hinge", "lsgan")
DATA = ("demo", "class-folder", "flat-folder")

DEMO_STYLES = ["mondrian", "kandinsky", "stripes", "waves", "rothko"]
FOLDER_CLASSES = ["blues", "greens", "reds"]  # sorted, as the folder source names them

#: Tiny settings valid for every data source (no ``data.size``: only demo accepts it).
NET = ["--resolution", "16", "--batch-size", "8", "-o", "gen.ngf=8", "-o", "gen.z_dim=16",
       "-o", "disc.ndf=8", "--log-every", "1", "--device", "cpu"]
#: The demo source renders 2048 images by default; 40 (8 per style) are plenty here.
DEMO = ["--data", "demo", "-o", "data.size=40"]

CONDITIONAL_NEEDS_LABELS = "--gen cgan is conditional and needs labelled data"


# -- data ------------------------------------------------------------------------------------

def _write_pngs(folder: Path, count: int, base: tuple[int, int, int], step: tuple[int, int, int]):
    """``count`` distinct 20x20 PNGs: a colour ramp from ``base`` plus a darker square."""
    folder.mkdir(parents=True)
    for i in range(count):
        colour = tuple((b + i * s) % 256 for b, s in zip(base, step))
        img = Image.new("RGB", (20, 20), colour)
        img.paste(tuple(c // 3 for c in colour), (i % 10, i % 10, i % 10 + 8, i % 10 + 8))
        img.save(folder / f"img-{i:02d}.png")


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """A folder with 3 class subfolders of 12 images each, and a flat folder of 24."""
    root = tmp_path_factory.mktemp("zoo-data")
    classes = root / "classes"
    _write_pngs(classes / "blues", 12, (20, 40, 200), (3, 9, 4))
    _write_pngs(classes / "greens", 12, (30, 180, 40), (7, 4, 5))
    _write_pngs(classes / "reds", 12, (210, 30, 20), (3, 6, 8))
    _write_pngs(root / "flat", 24, (0, 100, 50), (10, 6, 4))
    return {"class-folder": classes, "flat-folder": root / "flat"}


def data_args(kind: str, folders: dict[str, Path]) -> list[str]:
    return DEMO if kind == "demo" else ["--data", f"folder:{folders[kind]}"]


def run_config(run: Path) -> dict:
    return flat_config(json.loads((run / "config.json").read_text()))


# -- the matrix ------------------------------------------------------------------------------

@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("family", FAMILIES)
def test_zoo_matrix_cell(tmp_path, folders, family, loss, data):
    run = tmp_path / "run"
    # wgan and wgan-gp update the generator every n_critic (default 5) steps; with 2
    # critic updates per generator update, both networks train within the 2 steps.
    critic = ["-o", "loss.n_critic=2"] if loss.startswith("wgan") else []
    args = ["run", "--gen", family, "--loss", loss, *critic, *data_args(data, folders), *NET,
            "--max-steps", "2", "--out", run]

    if family == "cgan" and data == "flat-folder":
        result = artgan(*args, expect=2)
        assert CONDITIONAL_NEEDS_LABELS in result.output
        assert "--data demo" in result.output
        assert "one subfolder per class" in result.output
        assert "--gen dcgan" in result.output
        assert "Traceback" not in result.output
        assert not (run / "checkpoints").exists()
        return

    artgan(*args)
    ckpt = load_checkpoint(run)
    assert ckpt["step"] == 2
    config = run_config(run)
    assert (config["gen"]["name"], config["disc"]["name"], config["loss"]["name"]) == \
        (family, family, loss)  # --disc defaults to the generator's family
    assert (run / "samples" / "final.png").is_file()
    stats = read_stats(run)
    assert [r["step"] for r in stats] == [1, 2]
    assert all("d/loss" in r for r in stats) and "g/loss" in stats[-1]

    labels = {"demo": DEMO_STYLES, "class-folder": FOLDER_CLASSES, "flat-folder": []}[data]
    assert config["data_summary"]["classes"] == labels
    assert ckpt["class_names"] == labels
    assert ckpt["num_classes"] == (len(labels) if family == "cgan" else 0)


# -- mixing families, norms ------------------------------------------------------------------

def test_unconditional_generator_with_conditional_discriminator_is_refused(tmp_path):
    result = artgan("run", "--gen", "dcgan", "--disc", "cgan", *DEMO, *NET, "--max-steps", "2",
                    "--out", tmp_path / "run", expect=2)
    assert "--disc cgan is conditional but --gen dcgan does not produce labelled images" \
        in result.output
    assert "--gen cgan" in result.output and "--disc dcgan" in result.output
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_conditional_generator_with_unconditional_discriminator_is_refused(tmp_path):
    result = artgan("run", "--gen", "cgan", "--disc", "dcgan", *DEMO, *NET, "--max-steps", "2",
                    "--out", tmp_path / "run", expect=2)
    assert "--gen cgan is conditional but --disc dcgan ignores labels" in result.output
    assert "--disc cgan" in result.output
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_cgan_with_wgan_gp_gets_a_layer_norm_critic_and_a_note(tmp_path):
    run = tmp_path / "run"
    artgan("run", "--gen", "cgan", "--disc", "cgan", "--loss", "wgan-gp", *DEMO, *NET,
           "--max-steps", "2", "--out", run)
    config = run_config(run)
    assert config["disc"]["options"]["norm"] == "layer"
    assert any("wgan-gp" in note and "BatchNorm" in note for note in config["notes"]), \
        config["notes"]
    disc = load_checkpoint(run)["discriminator"]
    assert not any(key.endswith("running_mean") for key in disc)  # no BatchNorm buffers


@pytest.mark.parametrize("family", FAMILIES)
def test_wgan_gp_with_batchnorm_critic_is_refused(tmp_path, family):
    result = artgan("run", "--gen", family, "--loss", "wgan-gp", "-o", "disc.norm=batch",
                    *DEMO, *NET, "--max-steps", "2", "--out", tmp_path / "run", expect=2)
    assert "--loss wgan-gp needs a discriminator without BatchNorm" in result.output
    assert "-o disc.norm=layer" in result.output
    assert not (tmp_path / "run").exists()  # refused while resolving, before any file


def test_cgan_projection_discriminator_trains(tmp_path):
    run = tmp_path / "run"
    artgan("run", "--gen", "cgan", "-o", "disc.conditioning=projection", *DEMO, *NET,
           "--max-steps", "2", "--out", run)
    ckpt = load_checkpoint(run)
    assert ckpt["step"] == 2
    assert run_config(run)["disc"]["options"]["conditioning"] == "projection"
    assert "label_proj.weight" in ckpt["discriminator"]
    assert not any(key.startswith("label_map") for key in ckpt["discriminator"])


def test_cgan_spectral_norm_discriminator_trains(tmp_path):
    run = tmp_path / "run"
    artgan("run", "--gen", "cgan", "-o", "disc.spectral_norm=true", *DEMO, *NET,
           "--max-steps", "2", "--out", run)
    ckpt = load_checkpoint(run)
    assert ckpt["step"] == 2
    assert run_config(run)["disc"]["options"]["spectral_norm"] is True
    assert any("parametrizations" in key for key in ckpt["discriminator"])


# -- the resolved config ---------------------------------------------------------------------

#: loss -> (optimiser, lr, betas, n_critic) that the loss recommends.
RECOMMENDED = {
    "gan": ("adam", 2e-4, [0.5, 0.999], 1),
    "hinge": ("adam", 2e-4, [0.0, 0.9], 1),
    "lsgan": ("adam", 2e-4, [0.5, 0.999], 1),
    "wgan": ("rmsprop", 5e-5, [], 5),  # RMSprop has no betas
    "wgan-gp": ("adam", 1e-4, [0.0, 0.9], 5),
}


@pytest.mark.parametrize("loss", LOSSES)
def test_config_json_records_the_optimiser_the_loss_recommends(tmp_path, loss):
    run = tmp_path / "run"
    artgan("run", "--gen", "cgan", "--loss", loss, *DEMO, *NET, "--max-steps", "1",
           "--out", run)
    config = run_config(run)
    name, lr, betas, n_critic = RECOMMENDED[loss]
    opt = config
    assert opt["optimizer"] == name
    assert opt["lr_g"] == opt["lr_d"] == pytest.approx(lr, rel=1e-12)
    assert opt["betas"] == betas
    assert config["n_critic"] == n_critic
    assert opt["source"] == f"recommended by loss {loss!r}"
    # Every effective hyperparameter is spelled out, defaults included.
    assert config["gen"]["options"] == {"z_dim": 16, "ngf": 8, "embed_dim": 50}
    assert set(config["disc"]["options"]) == {"ndf", "conditioning", "norm", "spectral_norm"}
    assert config["disc"]["options"]["norm"] in ("batch", "layer")  # "auto" was resolved
    assert config["data"]["options"] == {"size": 40, "seed": 0}
    assert {"resolution": 16, "channels": 3, "batch_size": 8, "max_steps": 1, "seed": 0,
            "device": "cpu", "precision": "fp32"}.items() <= config.items()
    assert isinstance(config["epochs"], int) and config["epochs"] >= 1


def test_wgan_config_details(tmp_path):
    run = tmp_path / "run"
    artgan("run", "--loss", "wgan", *DEMO, *NET, "--max-steps", "1", "--out", run)
    config = run_config(run)
    assert config["optimizer"] == "rmsprop"
    assert config["lr_g"] == config["lr_d"] == 5e-5
    assert config["n_critic"] == 5
    assert config["loss"]["options"] == {"clip": 0.01, "n_critic": 5}


def test_lr_overrides_both_networks_and_says_so(tmp_path):
    run = tmp_path / "run"
    artgan("run", "--loss", "wgan-gp", "--lr", "3e-4", *DEMO, *NET, "--max-steps", "1",
           "--out", run)
    opt = run_config(run)
    assert opt["lr_g"] == opt["lr_d"] == 3e-4
    assert opt["optimizer"] == "adam" and opt["betas"] == [0.0, 0.9]  # the rest stays recommended
    assert "set by the user" in opt["source"]


def test_optimiser_and_betas_override_the_recommendation(tmp_path):
    run = tmp_path / "run"
    artgan("run", "--loss", "wgan", "--optimizer", "adam", "--betas", "0", "0.9", *DEMO, *NET,
           "--max-steps", "2", "--out", run)
    opt = run_config(run)
    assert (opt["optimizer"], opt["betas"], opt["lr_g"]) == ("adam", [0.0, 0.9], 5e-5)
    assert opt["source"] == "recommended by loss 'wgan'; optimiser, betas set by the user"
    state = load_checkpoint(run)["opt_d"]
    assert state["param_groups"][0]["betas"] == (0.0, 0.9)
    assert "exp_avg" in next(iter(state["state"].values()))  # Adam's moments, not RMSprop's
    result = artgan("run", "--loss", "wgan", "--betas", "0", "0.9", *DEMO, *NET,
                    "--out", tmp_path / "x", expect=2)
    assert "the optimiser is RMSprop: add --optimizer adam" in result.output


def test_wgan_training_keeps_every_critic_weight_clipped(tmp_path):
    run = tmp_path / "run"
    artgan("run", "--loss", "wgan", "-o", "loss.clip=0.02", *DEMO, *NET, "--max-steps", "3",
           "--out", run)
    weights = {k: v for k, v in load_checkpoint(run)["discriminator"].items()
               if v.is_floating_point() and "running_" not in k}
    assert weights and max(v.abs().max().item() for v in weights.values()) <= 0.02
    assert max(v.abs().max().item() for v in weights.values()) > 0.019  # clipping was active


@pytest.mark.parametrize("disc_options", [["-o", "disc.norm=instance"], ["-o", "disc.norm=none"],
                                          ["-o", "disc.spectral_norm=true"]])
def test_discriminator_norm_options_train(tmp_path, disc_options):
    run = tmp_path / "run"
    artgan("run", "--loss", "hinge", *disc_options, *DEMO, *NET, "--max-steps", "3",
           "--out", run)
    stats = read_stats(run)
    assert stats[-1]["step"] == 3
    assert all(math.isfinite(r["d/loss"]) and math.isfinite(r["g/loss"]) for r in stats)
    keys = load_checkpoint(run)["discriminator"]
    has_sn = any("parametrizations" in k for k in keys)
    assert has_sn == ("disc.spectral_norm=true" in disc_options)
    has_running_stats = any("running_mean" in k for k in keys)
    assert has_running_stats == (disc_options == ["-o", "disc.spectral_norm=true"])


# -- sampling conditional checkpoints ----------------------------------------------------------

@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("cgan") / "run"
    artgan("run", "--gen", "cgan", *DEMO, *NET, "--max-steps", "3", "--out", run)
    return run


def _pngs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("sample-"))


def test_sample_one_class_by_name(cgan_run, tmp_path):
    result = artgan("sample", "--ckpt", cgan_run, "--class", "kandinsky", "-n", "3",
                    "--out", tmp_path / "k", "--seed", "1", "--device", "cpu")
    assert "class kandinsky" in result.output
    assert _pngs(tmp_path / "k") == [f"sample-{i:04d}.png" for i in range(3)]
    assert (tmp_path / "k-grid.png").is_file()
    # The label is used: the same noise with another class gives other images.
    artgan("sample", "--ckpt", cgan_run, "--class", "mondrian", "-n", "3",
           "--out", tmp_path / "m", "--seed", "1", "--device", "cpu")
    assert (tmp_path / "k" / "sample-0000.png").read_bytes() != \
        (tmp_path / "m" / "sample-0000.png").read_bytes()


@pytest.mark.parametrize("word", ["all", "ALL"])
def test_sample_all_classes_writes_a_row_per_class(cgan_run, tmp_path, word):
    out = tmp_path / "all"
    artgan("sample", "--ckpt", cgan_run, "--class", word, "-n", "2", "--out", out,
           "--device", "cpu")
    assert _pngs(out) == [f"sample-{i:04d}.png" for i in range(2 * 5)]
    with Image.open(tmp_path / "all-grid.png") as grid:  # 2 columns x 5 rows of 16 px, 2 px padding
        assert grid.size == (2 * 18 + 2, 5 * 18 + 2)


def test_sample_unknown_class_lists_the_classes(cgan_run, tmp_path):
    result = artgan("sample", "--ckpt", cgan_run, "--class", "nosuch", "-n", "2",
                    "--out", tmp_path / "x", "--device", "cpu", expect=2)
    assert "'nosuch'" in result.output
    assert ", ".join(DEMO_STYLES) in result.output
    assert "Traceback" not in result.output


def test_sample_class_on_unconditional_checkpoint_is_refused(tmp_path):
    run = tmp_path / "run"
    artgan("run", "--gen", "dcgan", *DEMO, *NET, "--max-steps", "1", "--out", run)
    result = artgan("sample", "--ckpt", run, "--class", "x", "-n", "2",
                    "--out", tmp_path / "x", "--device", "cpu", expect=2)
    assert "needs a conditional model" in result.output
    assert "Traceback" not in result.output
