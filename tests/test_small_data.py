"""Generator EMA, R1, the small-data recipe and the collapse watch."""

import dataclasses
import json

import pytest
import torch

import artgan
from artgan.core.checkpoint import load_checkpoint, save_atomic
from artgan.core.collapse import diversity_ratio
from artgan.core.ema import GeneratorEMA, ema_decay_at
from artgan.core.networks import Discriminator, Generator
from artgan.core.loss import PhaseInputs
from artgan.core.regularizers import GradientPenalty, r1_penalty
from artgan.core.trainer import TrainerCallbacks
from artgan.core.sampling import load_generator
from artgan.plugin_host import get_registry

from .helpers import TINY, artgan as cli, read_stats, resolved

SMALL_RECIPE = ["recipe small-data: augment=color,translation,cutout",
                "recipe small-data: ema=True", "recipe small-data: ema_decay=0.99",
                "recipe small-data: r1=1.0"]


# -- EMA ------------------------------------------------------------------------------
def test_ema_decay_ramps_up_then_caps():
    assert ema_decay_at(0, 0.999) == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    assert ema_decay_at(90, 0.999) == pytest.approx(91 / 100)
    assert ema_decay_at(10 ** 6, 0.999) == 0.999


def test_ema_update_matches_a_hand_computation():
    G = torch.nn.Sequential(torch.nn.Linear(1, 1, bias=False), torch.nn.BatchNorm1d(1))
    with torch.no_grad():
        G[0].weight.fill_(2.0)
    ema = GeneratorEMA(G, decay=0.5)
    with torch.no_grad():
        G[0].weight.fill_(4.0)
        G[1].running_mean.fill_(3.0)  # the copy started at 0
        G[1].num_batches_tracked.fill_(7)
    ema.update(G, step=0)  # decay_0 = min(0.5, 1/10) = 0.1: 0.1*2 + 0.9*4 = 3.8
    assert ema.module[0].weight.item() == pytest.approx(3.8)
    assert ema.module[1].running_mean.item() == pytest.approx(2.7)  # 0.1*0 + 0.9*3: averaged
    assert ema.module[1].num_batches_tracked.item() == 7  # integer buffers copied
    with torch.no_grad():
        G[0].weight.fill_(0.0)
    ema.update(G, step=100)  # decay = min(0.5, 101/110) = 0.5: 0.5*3.8 + 0.5*0 = 1.9
    assert ema.module[0].weight.item() == pytest.approx(1.9)
    assert ema.module[1].running_mean.item() == pytest.approx(2.85)  # 0.5*2.7 + 0.5*3
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_ema_resume_restores_the_average_exactly(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    cli("run", *TINY, "--ema", "--ema-decay", "0.9", "--max-steps", "13", "--out", straight)
    cli("run", *TINY, "--ema", "--ema-decay", "0.9", "--max-steps", "5", "--out", split)
    cli("run", "--resume", split, "--max-steps", "13")
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert a["config"]["regularisation"]["ema"] is True and a["step"] == b["step"] == 13
    for key, value in a["generator_ema"].items():
        assert torch.equal(value, b["generator_ema"][key]), f"generator_ema.{key} differs"
    assert any(not torch.equal(v, a["generator"][k]) for k, v in a["generator_ema"].items()
               if v.is_floating_point())


def test_checkpoint_without_ema_still_loads_and_resumes(tmp_path):
    run = tmp_path / "run"
    cli("run", *TINY, "--ema", "--max-steps", "3", "--out", run)
    path = run / "checkpoints" / "last.pt"
    old = load_checkpoint(path)
    del old["generator_ema"]  # as written before EMA existed
    save_atomic(old, path)
    cli("run", "--resume", run, "--max-steps", "5")
    assert load_checkpoint(run)["step"] == 5


def test_sample_uses_the_ema_generator_unless_told_not_to(tmp_path):
    run = tmp_path / "run"
    cli("run", *TINY, "--ema", "--max-steps", "6", "--out", run)
    ckpt = load_checkpoint(run)
    G_ema, _, _ = load_generator(run, get_registry(), device="cpu")
    G_raw, _, _ = load_generator(run, get_registry(), device="cpu", ema=False)
    for key, value in G_ema.state_dict().items():
        assert torch.equal(value, ckpt["generator_ema"][key])
        assert torch.equal(G_raw.state_dict()[key], ckpt["generator"][key])
    cli("sample", "--ckpt", run, "-n", "2", "--out", tmp_path / "ema", "--seed", "1")
    cli("sample", "--ckpt", run, "-n", "2", "--out", tmp_path / "raw", "--seed", "1",
        "--no-ema")
    assert (tmp_path / "ema" / "sample-0000.png").read_bytes() != \
        (tmp_path / "raw" / "sample-0000.png").read_bytes()


# -- R1 -------------------------------------------------------------------------------
class LinearCritic(Discriminator):
    """D(x) = w . x: grad_x D = w everywhere, so ||grad||^2 = ||w||^2."""

    def __init__(self, resolution=16, channels=3):
        super().__init__(resolution=resolution, channels=channels)
        self.w = torch.nn.Parameter(torch.randn(channels * resolution * resolution))

    def forward(self, x, y=None):
        return x.flatten(1) @ self.w


def test_r1_matches_the_closed_form_of_a_linear_critic():
    D = LinearCritic()
    real = torch.randn(5, 3, 16, 16)
    w2 = D.w.detach().square().sum()
    assert r1_penalty(D, real, None).item() == pytest.approx(w2.item(), rel=1e-5)
    inputs = PhaseInputs(G=None, D=D, D_module=D, real=real, fake=real, y=None,
                         condition=None, step=0)
    out = GradientPenalty("r1", gamma=2.0, every=4).objective(inputs)
    # k * gamma/2 * ||w||^2 = 4 * 1 * ||w||^2
    assert out["loss"].item() == pytest.approx(4 * w2.item(), rel=1e-5)
    out["loss"].backward()  # d/dw of 4 ||w||^2 = 8 w: the penalty trains D
    assert torch.allclose(D.w.grad, 8 * D.w.detach(), rtol=1e-5)


def test_r1_is_applied_lazily_every_k_steps(tmp_path):
    trainer = artgan.make_trainer(data="demo", resolution=16, batch_size=8, max_steps=7,
                                  device="cpu", r1=1.0, r1_every=3,
                                  options={"gen": {"ngf": 8}, "disc": {"ndf": 8},
                                           "data": {"size": 64}}, out=tmp_path / "run")
    steps = []
    index, phase = next((i, p) for i, p in enumerate(trainer.phases) if p.name == "r1")

    def spy(inputs):
        steps.append(inputs.step)
        return phase.objective(inputs)

    trainer.phases[index] = dataclasses.replace(phase, objective=spy)
    trainer.fit()
    assert steps == [0, 3, 6]
    assert any("r1/penalty" in r for r in read_stats(tmp_path / "run"))


# -- recipe ---------------------------------------------------------------------------
@pytest.fixture
def small_folder(tmp_path):
    from PIL import Image

    folder = tmp_path / "paintings"
    folder.mkdir()
    for i in range(12):
        Image.new("RGB", (20, 20), (20 * i, 90, 200 - 10 * i)).save(folder / f"{i}.png")
    return folder


def test_small_folder_gets_the_small_data_recipe(small_folder):
    config = resolved(data=f"folder:{small_folder}", batch_size=4, device="cpu")
    assert config.notes[0].startswith("recipe small-data: fewer than 2000 images (12 "
                                      "counted); fastgan (width 16 and batch 16 on a CPU, ")
    assert list(config.notes[1:]) == [
        "recipe small-data: gen=fastgan", "recipe small-data: gen.ngf=16",
        "recipe small-data: disc.ndf=16", *SMALL_RECIPE,
        "recipe small-data: epochs=1000 (at least 3000 steps on 12 images)"]  # batch 4
    assert config.schedule.epochs == 1000 and config.schedule.batch_size == 4  # mine wins
    assert resolved(data=f"folder:{small_folder}", epochs=7).schedule.epochs == 7
    reg = config.regularisation
    assert [a.name for a in reg.augment] == ["color", "translation", "cutout"]
    assert reg.ema and reg.ema_decay == 0.99 and reg.r1 == 1.0
    assert (config.components.gen.name, config.components.disc.name,
            config.components.loss.name) == ("fastgan", "fastgan", "hinge")
    assert config.components.gen.options["ngf"] == 16 == config.components.disc.options["ndf"]
    assert resolved(data=f"folder:{small_folder}", device="cpu").schedule.batch_size == 16
    dcgan = resolved(data=f"folder:{small_folder}", gen="dcgan", batch_size=4)
    assert dcgan.components.disc.options["spectral_norm"] is False
    assert dcgan.components.gen.options["ngf"] == 64  # the recipe's widths are fastgan's
    assert list(dcgan.notes[1:-1]) == SMALL_RECIPE and dcgan.schedule.batch_size == 4


def test_explicit_flags_beat_the_small_data_recipe(small_folder, tmp_path):
    out = cli("run", "--data", f"folder:{small_folder}", "--augment", "translation",
              "--no-ema", "--ema-decay", "0.5", "--r1", "0", "--dry-run",
              "--out", tmp_path / "x").output
    config = json.loads(out)
    reg = config["regularisation"]
    assert [a["name"] for a in reg["augment"]] == ["translation"] and reg["ema"] is False
    assert reg["r1"] == 0.0 and reg["ema_decay"] == 0.5
    assert [n.split("=")[0] for n in config["notes"][1:]] == [
        "recipe small-data: gen", "recipe small-data: gen.ngf", "recipe small-data: disc.ndf",
        "recipe small-data: batch_size", "recipe small-data: epochs"]


def test_recipe_none_turns_it_off_and_demo_runs_do_not_get_it(small_folder, tmp_path):
    off = resolved(data=f"folder:{small_folder}", recipe="none")
    reg = off.regularisation
    assert off.notes == () and reg.augment == () and not reg.ema and reg.r1 == 0
    quick = resolved()  # the quickstart default stays as it was
    reg = quick.regularisation
    assert reg.augment == () and not reg.ema and reg.r1 == 0
    assert all(n.startswith("recipe quickstart") for n in quick.notes)
    demo = resolved(data="demo", options={"data": {"size": 100}})
    assert demo.notes == () and demo.regularisation.augment == ()


def test_recipe_can_be_asked_for_by_name_and_help_lists_recipes(tmp_path):
    config = json.loads(cli("run", "--data", "demo:waves", "--recipe", "small-data",
                            "--dry-run", "--out", tmp_path / "x").output)
    assert config["notes"] == SMALL_RECIPE
    help_text = cli("run", "--help").output
    assert "quickstart" in help_text and "small-data" in help_text and "none" in help_text


def test_large_folders_do_not_get_the_recipe():
    from artgan.core.recipes import pick_recipe

    assert pick_recipe("auto", True, 1999).name == "small-data"
    assert pick_recipe("auto", True, 2000).name == "large-data"
    assert pick_recipe("auto", True, None).name == "none"  # a source that does not count
    assert pick_recipe("auto", False, None).name == "quickstart"


def test_large_folders_get_ada_and_ema(small_folder, monkeypatch):
    import artgan.core.recipes as recipes

    monkeypatch.setattr(recipes, "SMALL_DATA_LIMIT", 10)  # the 12 images count as large
    config = resolved(data=f"folder:{small_folder}", batch_size=4)
    assert config.notes[0].startswith("recipe large-data: ") and "(12 counted)" in config.notes[0]
    reg = config.regularisation
    assert reg.ada_target == 0.6 and reg.ema and reg.ema_decay == 0.999 and reg.r1 == 0
    assert [a.name for a in reg.augment] == ["color", "translation", "cutout"]
    assert config.schedule.epochs == 25  # no step budget: the declared default


def test_on_a_gpu_small_folders_get_full_width_fastgan_unless_the_user_chose(small_folder):
    """``--device cuda`` is resolved without a GPU (only building the run needs one)."""
    gpu = resolved(data=f"folder:{small_folder}", device="cuda")
    assert (gpu.components.gen.name, gpu.components.disc.name, gpu.components.loss.name) == \
        ("fastgan", "fastgan", "hinge")
    assert gpu.components.gen.options["ngf"] == 64 and gpu.schedule.batch_size == 64
    assert "recipe small-data: gen=fastgan" in gpu.notes
    assert gpu.regularisation.ema and gpu.regularisation.r1 == 1.0
    mine = resolved(data=f"folder:{small_folder}", device="cuda", gen="dcgan", batch_size=4)
    assert mine.components.gen.name == "dcgan" and "fastgan" not in " ".join(mine.notes)
    small = resolved(data=f"folder:{small_folder}", device="cpu", resolution=32, batch_size=4)
    assert small.components.gen.name == "dcgan"  # fastgan starts at 64 px


def test_the_architecture_follows_the_resolution_a_data_object_gives():
    """A 32 px data object (Python API, recipe auto: it counts 20 images) keeps DCGAN, which
    fastgan could not train at 32 px; at 64 px the recipe picks fastgan."""
    from artgan.core.data import InMemoryDataSource

    for size, gen in ((32, "dcgan"), (64, "fastgan")):
        data = InMemoryDataSource(torch.zeros(20, 3, size, size, dtype=torch.uint8))
        config = resolved(data=data, device="cpu")
        assert config.components.gen.name == gen and config.image.resolution == size
        assert config.notes[0].startswith("recipe small-data: fewer than 2000 images (20 ")
