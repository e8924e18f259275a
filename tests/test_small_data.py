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
    config = resolved(data=f"folder:{small_folder}", batch_size=4)
    assert list(config.notes) == ["recipe small-data: fewer than 2000 images (12 counted)",
                                  *SMALL_RECIPE,
                                  "recipe small-data: epochs=1000 (at least 3000 steps on 12 "
                                  "images)"]  # 12 images at batch 4: 3 steps per epoch
    assert config.schedule.epochs == 1000
    assert resolved(data=f"folder:{small_folder}", epochs=7).schedule.epochs == 7
    reg = config.regularisation
    assert [a.name for a in reg.augment] == ["color", "translation", "cutout"]
    assert reg.ema and reg.ema_decay == 0.99 and reg.r1 == 1.0
    assert config.components.disc.options["spectral_norm"] is False


def test_explicit_flags_beat_the_small_data_recipe(small_folder, tmp_path):
    out = cli("run", "--data", f"folder:{small_folder}", "--augment", "translation",
              "--no-ema", "--ema-decay", "0.5", "--r1", "0", "--dry-run",
              "--out", tmp_path / "x").output
    config = json.loads(out)
    reg = config["regularisation"]
    assert [a["name"] for a in reg["augment"]] == ["translation"] and reg["ema"] is False
    assert reg["r1"] == 0.0 and reg["ema_decay"] == 0.5
    assert [n.split("=")[0] for n in config["notes"]] == [
        "recipe small-data: fewer than 2000 images (12 counted)", "recipe small-data: epochs"]


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


def test_on_a_gpu_small_folders_get_fastgan_unless_the_user_chose(small_folder):
    """``--device cuda`` is resolved without a GPU (only building the run needs one)."""
    gpu = resolved(data=f"folder:{small_folder}", device="cuda", batch_size=4)
    assert (gpu.components.gen.name, gpu.components.disc.name, gpu.components.loss.name) == \
        ("fastgan", "fastgan", "hinge")
    assert "on a GPU: fastgan" in gpu.notes[0] and "recipe small-data: gen=fastgan" in gpu.notes
    assert gpu.regularisation.ema and gpu.regularisation.r1 == 1.0
    cpu = resolved(data=f"folder:{small_folder}", device="cpu", batch_size=4)
    assert cpu.components.gen.name == "dcgan" and "GPU" not in " ".join(cpu.notes)
    mine = resolved(data=f"folder:{small_folder}", device="cuda", gen="dcgan", batch_size=4)
    assert mine.components.gen.name == "dcgan"
    small = resolved(data=f"folder:{small_folder}", device="cuda", resolution=32, batch_size=4)
    assert small.components.gen.name == "dcgan"  # fastgan starts at 64 px


def test_unknown_augmentation_names_the_flag(tmp_path):
    result = cli("run", "--augment", "colour", "--dry-run", "--out", tmp_path / "x", expect=2)
    assert "--augment" in result.output and "Did you mean: color" in result.output


# -- collapse watch -------------------------------------------------------------------
def test_diversity_ratio_is_zero_for_copies_and_one_for_real_images():
    real = torch.rand(10, 3, 8, 8)
    assert diversity_ratio(real, real) == pytest.approx(1.0)
    assert diversity_ratio(real[:1].expand(10, -1, -1, -1), real) < 1e-4


class ConstantGenerator(Generator):
    """Ignores z: the most collapsed generator there is."""

    def __init__(self, resolution=16, channels=3):
        super().__init__(z_dim=4, resolution=resolution, channels=channels)
        self.image = torch.nn.Parameter(torch.zeros(channels, resolution, resolution))

    def forward(self, z, y=None):
        return torch.tanh(self.image).expand(z.shape[0], -1, -1, -1) + 0 * z.sum()


def test_a_generator_still_learning_to_vary_is_not_called_collapsing():
    from artgan.core.collapse import CollapseWatch

    watch = CollapseWatch()
    # the default demo run's first values (tiny at first, rising, with noise)
    rising = [(32, 0.08), (64, 0.12), (128, 0.15), (192, 0.24), (256, 0.23), (320, 0.34)]
    assert [watch.check(r, step // 32, step) for step, r in rising] == [None] * len(rising)
    assert watch.best == 0.34


def test_collapse_after_progress_and_a_generator_that_never_varies_are_warned_about():
    from artgan.core.collapse import STUCK_STEPS, WARMUP_STEPS, CollapseWatch

    watch = CollapseWatch()
    assert watch.check(0.01, 1, WARMUP_STEPS - 1) is None  # too early to tell
    assert watch.check(0.6, 5, 500) is None
    assert watch.check(0.35, 6, 600) is None  # lower, but above the threshold
    message = watch.check(0.2, 7, 700)  # below the threshold and half the best
    assert "fell from 0.60 to 0.20" in message and "epoch 7" in message
    stuck = CollapseWatch()
    assert stuck.check(0.1, 3, STUCK_STEPS - 1) is None  # may still be learning
    assert "after 1000 steps" in stuck.check(0.1, 4, STUCK_STEPS)
    assert stuck.check(0.9, 5, STUCK_STEPS + 1) is None


def test_collapse_is_logged_and_warned_about(tmp_path, monkeypatch):
    monkeypatch.setattr("artgan.core.collapse.WARMUP_STEPS", 2)
    monkeypatch.setattr("artgan.core.collapse.STUCK_STEPS", 2)
    warnings = []

    class Callbacks(TrainerCallbacks):
        def on_warning(self, message):
            warnings.append(message)

    trainer = artgan.make_trainer(gen=ConstantGenerator, disc=LinearCritic, data="demo",
                                  resolution=16, batch_size=8, epochs=2, device="cpu",
                                  options={"data": {"size": 16}}, callbacks=Callbacks(),
                                  out=tmp_path / "run")
    trainer.fit()
    watch = [r["watch/diversity"] for r in read_stats(tmp_path / "run") if "watch/diversity" in r]
    assert len(watch) == 2 and max(watch) < 1e-4  # 2 steps per epoch
    assert len(warnings) == 2 and "epoch 1:" in warnings[0] and "collapsing" in warnings[0]
