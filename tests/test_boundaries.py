"""Safety at the edges: atomic checkpoints, weights-only loading, shape and label checks
at component boundaries, D frozen during the generator phase, devices, option help."""

from __future__ import annotations

import pytest
import torch

import artgan
from artgan.core.checkpoint import CheckpointError, load_checkpoint, save_atomic
from artgan.core.data import DataSourceError, InMemoryDataSource
from artgan.core.device import DeviceError, resolve_device, resolve_precision
from artgan.core.networks import ComponentShapeError, Discriminator, Generator
from artgan.core.options import describe
from artgan.plugin_host import get_registry

from .helpers import TINY, artgan as cli


# -- checkpoints ------------------------------------------------------------------------
def test_a_failed_save_leaves_the_previous_checkpoint_and_no_temporary_file(tmp_path,
                                                                              monkeypatch):
    path = save_atomic({"generator": {}, "config": {}, "step": 1}, tmp_path / "last.pt")

    def crash(obj, fh):
        fh.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="No space"):
        save_atomic({"generator": {}, "config": {}, "step": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


class RunsCode:
    """Unpickling this calls print: what a malicious checkpoint would do with os.system."""

    def __reduce__(self):
        return (print, ("code ran",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"generator": RunsCode(), "config": {}}, path)
    with pytest.raises(CheckpointError, match="evil.pt: the file holds pickled Python objects"):
        load_checkpoint(path)
    assert "code ran" not in capsys.readouterr().out


# -- shape, dtype and label checks --------------------------------------------------------
class WrongShapeG(Generator):
    def __init__(self, out):
        super().__init__(z_dim=4, resolution=16, channels=3)
        self.out = out
        self.component_name = "wrong"

    def forward(self, z, y=None):
        return self.out(z.shape[0])


@pytest.mark.parametrize("out, message", [
    (lambda n: torch.zeros(n, 3, 8, 8), r"generator 'wrong': returned \(2, 3, 8, 8\), "
                                        r"expected \(2, 3, 16, 16\)"),
    (lambda n: torch.zeros(n, 3, 16, 16, dtype=torch.int64), "returned dtype torch.int64"),
    (lambda n: [0] * n, "returned list"),
])
def test_generator_output_is_checked(out, message):
    with pytest.raises(ComponentShapeError, match=message):
        WrongShapeG(out)(torch.randn(2, 4))


class ScoresD(Discriminator):
    def __init__(self, shape, num_classes=0):
        super().__init__(resolution=16, channels=3, num_classes=num_classes)
        self.shape = shape
        self.component_name = "scores"

    def forward(self, x, y=None):
        return torch.zeros(self.shape)


def test_discriminator_output_and_labels_are_checked():
    x = torch.zeros(2, 3, 16, 16)
    assert ScoresD((2, 1))(x).shape == (2,)  # (N, 1) is accepted and flattened
    with pytest.raises(ComponentShapeError, match=r"discriminator 'scores': returned \(2, 2\)"):
        ScoresD((2, 2))(x)
    conditional = ScoresD((2,), num_classes=3)
    with pytest.raises(ComponentShapeError, match="conditional .3 classes. but got no labels"):
        conditional(x)
    with pytest.raises(ComponentShapeError, match=r"labels of shape \(2,\) and an integer"):
        conditional(x, torch.zeros(2))


def test_registry_stamps_the_registered_name_used_in_messages():
    G = artgan.create("generator", "dcgan", resolution=16, channels=3, ngf=8)
    assert G.component_name == "dcgan"
    with pytest.raises(ComponentShapeError, match="generator 'dcgan'"):
        G(torch.randn(2, 7))


class BadBatches(InMemoryDataSource):
    source_name = "bad"

    def get_batch(self, indices):
        return torch.zeros(len(indices), 3, 8, 8), None


def test_data_source_batches_are_checked():
    data = BadBatches(torch.zeros(4, 3, 16, 16, dtype=torch.uint8))
    with pytest.raises(DataSourceError, match=r"'bad' returned images \(2, 3, 8, 8\)"):
        data.load_batch(torch.arange(2))


# -- the generator phase leaves D alone ----------------------------------------------------
def test_discriminator_is_frozen_during_the_generator_update(tmp_path):
    trainer = artgan.make_trainer(data="demo", resolution=16, batch_size=8, max_steps=2,
                                  device="cpu", options={"gen": {"ngf": 8}, "disc": {"ndf": 8},
                                                         "data": {"size": 16}},
                                  out=tmp_path / "run")
    seen = []
    generator_loss = trainer.loss.generator_loss

    def spy(*args, **kwargs):
        seen.append([p.requires_grad for p in trainer.D.parameters()])
        return generator_loss(*args, **kwargs)

    trainer.loss.generator_loss = spy
    before = [p.detach().clone() for p in trainer.D.parameters()]
    trainer.fit()
    assert seen and not any(any(flags) for flags in seen)  # no D gradient in the G phase
    assert all(p.requires_grad for p in trainer.D.parameters())  # unfrozen for the D phase
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.D.parameters()))


# -- devices --------------------------------------------------------------------------------
def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    mps = torch.backends.mps
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(mps, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    monkeypatch.setattr(mps, "is_available", lambda: True)
    assert resolve_device("auto").type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"


def test_unavailable_devices_and_precisions_say_what_to_use(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="--device mps"):
        resolve_device("mps")
    with pytest.raises(DeviceError, match="--device cuda"):
        resolve_device("cuda:1")
    with pytest.raises(DeviceError, match="fp16 needs a CUDA device"):
        resolve_precision("fp16", torch.device("cpu"))
    result = cli("run", *TINY, "--device", "mps", "--max-steps", "1", expect=2)
    assert "Error: --device mps" in result.output


# -- option help ---------------------------------------------------------------------------
def test_every_option_of_every_component_has_help_and_is_listed(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # no wrapped names in the table
    listing = cli("list", "--options").output
    entries = get_registry().entries()
    assert entries
    for entry in entries:
        for opt in describe(entry.options):
            assert opt.help.strip(), f"{entry.kind} {entry.name!r}: option {opt.name!r} has no help"
            assert opt.name in listing


# -- progress display -----------------------------------------------------------------------
def test_progress_line_shows_epoch_losses_rate_and_eta():
    from types import SimpleNamespace

    from rich.console import Console

    from artgan.cli.progress import RichProgress

    progress = RichProgress(Console(force_terminal=True, width=200))  # the live bar
    screen = Console(width=200, record=True, force_terminal=False)
    trainer = SimpleNamespace(config=SimpleNamespace(schedule=SimpleNamespace(epochs=3)), total_steps=30, step=0, epoch=0)
    progress.on_start(trainer)
    progress.on_log({"step": 12, "epoch": 1, "d/loss": 0.5, "g/loss": 1.25, "d/real": 0.1,
                     "images_per_s": 123.4})
    screen.print(progress.progress.get_renderable())
    line = screen.export_text()
    for part in ("epoch 2/3", "12/30", "d/loss=0.500", "g/loss=1.250", "123 img/s", "eta"):
        assert part in line, f"{part!r} not in {line!r}"
    assert "d/real" not in line  # only the losses, to keep the line short


def test_every_cli_option_has_help():
    from artgan.cli import cli as group

    missing = [f"{name} {param.opts[0]}" for name, command in group.commands.items()
               for param in command.params
               if param.param_type_name == "option" and not (param.help or "").strip()]
    missing += [f"artgan {p.opts[0]}" for p in group.params if not (p.help or "").strip()]
    assert not missing, f"options without help: {missing}"
