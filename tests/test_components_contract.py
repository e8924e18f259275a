"""Contract tests over every registered component (the checks in artgan.testing)."""

import pytest
import torch

from artgan import testing
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
def test_loss_contract(name):
    testing.check_loss(name)


@pytest.mark.parametrize("name", names("data"))
def test_data_source_contract(name, tmp_path):
    argument = None
    if name == "folder":
        from PIL import Image
        for i in range(3):
            Image.new("RGB", (20, 20), (40 * i, 0, 0)).save(tmp_path / f"{i}.png")
        argument = str(tmp_path)
    testing.check_data_source(name, argument)


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
