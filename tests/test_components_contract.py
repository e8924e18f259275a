"""Contract tests over every registered component (the checks in artgan.testing)."""

import pytest
import torch

from artgan import testing
from artgan.core.metric import Metric
from artgan.plugin_host import get_registry


def names(kind):
    return get_registry().names(kind)


@pytest.mark.parametrize("name", names("generator"))
@pytest.mark.parametrize("resolution,channels", [(16, 3), (32, 1)])
def test_generator_contract(name, resolution, channels):
    testing.check_generator(name, resolution=resolution, channels=channels, num_classes=3)


@pytest.mark.parametrize("name", names("discriminator"))
@pytest.mark.parametrize("resolution,channels", [(16, 3), (32, 1)])
def test_discriminator_contract(name, resolution, channels):
    testing.check_discriminator(name, resolution=resolution, channels=channels, num_classes=3)


@pytest.mark.parametrize("name", names("loss"))
@pytest.mark.parametrize("num_classes", [0, 3])
def test_loss_contract(name, num_classes):
    testing.check_loss(name, num_classes=num_classes)


def test_loss_check_refuses_a_batchnorm_critic_for_a_loss_that_forbids_it():
    with pytest.raises(ValueError, match="forbids BatchNorm"):
        testing.check_loss("wgan-gp", disc_options={"norm": "batch"})


class RandomFeatures(torch.nn.Module):
    """A small randomly initialised stand-in for the FID Inception (no weights here)."""

    identity = "random-init"  # never cached on disk

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 2, 1), torch.nn.ReLU(),
                                        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        self.head = torch.nn.Linear(8, 10)

    def forward(self, x):
        pool = self.body(x)
        return {"pool": pool, "logits_unbiased": self.head(pool)}


@pytest.fixture
def random_inception(monkeypatch):
    """fid, kid and is build and score with :class:`RandomFeatures` instead of weights."""
    from artgan.metrics import scores

    monkeypatch.setattr(scores, "find_inception_weights", lambda path: "random-init")
    monkeypatch.setattr(scores, "verify_weights", lambda path: None)
    monkeypatch.setattr(scores, "load_inception", lambda path, device="cpu": RandomFeatures())


@pytest.mark.parametrize("name", names("metric"))
def test_metric_contract(name, random_inception):
    testing.check_metric(name, resolution=16, channels=3)


@pytest.mark.parametrize("name", names("data"))
def test_data_source_contract(name, tmp_path):
    argument, options = None, None
    if name == "folder":
        from PIL import Image
        for i in range(3):
            Image.new("RGB", (20, 20), (40 * i, 0, 0)).save(tmp_path / f"{i}.png")
        argument = str(tmp_path)
    elif name == "damage":  # damage wraps another source: the demo art, 8 images
        argument, options = "demo", {"inner": "size=8"}
    testing.check_data_source(name, argument, options)


def test_contract_check_catches_a_generator_that_leaves_the_range():
    from artgan.core.networks import Generator

    class Loud(Generator):
        def __init__(self, options, *, resolution, channels, num_classes):
            super().__init__(z_dim=4, resolution=resolution, channels=channels)
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, z, y=None):
            return self.w * 3 * torch.ones(z.shape[0], self.channels, self.resolution,
                                           self.resolution)

    get_registry().build  # registry is loaded
    from artgan.core.registry import Entry
    get_registry().add(Entry("generator", "loud", Loud, plugin="test"))
    with pytest.raises(AssertionError, match="leaves"):
        testing.check_generator("loud")


class _Plain(Metric):
    key = "plain"
    higher_is_better = True
    requires_real = False

    def __init__(self, value=1.0):
        self.value = value

    def compute(self, fake, real=None, device="cpu", **kwargs):
        return {"plain": self.value, "num_fake": sum(len(x) for x in fake)}


class _Undeclared(Metric):
    """Inherits ``higher_is_better`` from Metric instead of declaring its direction."""

    key = "plain"
    requires_real = False

    def compute(self, fake, real=None, device="cpu", **kwargs):
        return {"plain": 1.0}


def test_metric_check_passes_a_plain_metric_and_catches_broken_ones():
    testing.check_metric(_Plain())
    with pytest.raises(AssertionError, match="is nan"):
        testing.check_metric(_Plain(float("nan")))
    with pytest.raises(AssertionError, match="must be a number"):
        testing.check_metric(_Plain(torch.tensor(1.0)))
    with pytest.raises(AssertionError, match="declare `higher_is_better"):
        testing.check_metric(_Undeclared())


def test_metric_check_catches_a_metric_that_reads_the_images_twice():
    class Twice(_Plain):
        def compute(self, fake, real=None, device="cpu", **kwargs):
            n = sum(len(x) for x in fake)
            return {"plain": float(sum(len(x) for x in fake) == n)}

    with pytest.raises(AssertionError, match="iterates the generated images twice"):
        testing.check_metric(Twice())
