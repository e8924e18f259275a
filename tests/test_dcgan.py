import pytest
import torch

from artgan.core.networks import ComponentShapeError
from artgan.plugins.dcgan import DiscriminatorOptions, GeneratorOptions
from artgan.plugins.dcgan_nets import DCGANDiscriminator, DCGANGenerator


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_match_the_pytorch_dcgan_example():
    assert n_params(DCGANGenerator(resolution=64, channels=3)) == 3_576_704
    assert n_params(DCGANDiscriminator(resolution=64, channels=3)) == 2_765_568


@pytest.mark.parametrize("resolution", [16, 32, 64, 128, 256])
@pytest.mark.parametrize("channels", [1, 3])
def test_any_power_of_two_resolution(resolution, channels):
    G = DCGANGenerator(GeneratorOptions(ngf=8), resolution=resolution, channels=channels)
    D = DCGANDiscriminator(DiscriminatorOptions(ndf=8), resolution=resolution, channels=channels)
    x = G(torch.randn(2, 100))
    assert x.shape == (2, channels, resolution, resolution)
    assert D(x).shape == (2,)


@pytest.mark.parametrize("resolution", [8, 48, 512])
def test_unsupported_resolution_is_a_clear_error(resolution):
    with pytest.raises(ValueError, match="power-of-two resolutions from 16 to 256"):
        DCGANGenerator(resolution=resolution, channels=3)


def test_canonical_layers_and_init():
    G, D = DCGANGenerator(resolution=64, channels=3), DCGANDiscriminator(resolution=64, channels=3)
    kinds = [type(m).__name__ for m in G.main]
    assert kinds[-1] == "Tanh" and kinds.count("BatchNorm2d") == 4 and "ReLU" in kinds
    assert isinstance(D.main[1], torch.nn.LeakyReLU) and D.main[1].negative_slope == 0.2
    assert not isinstance(D.main[1], torch.nn.BatchNorm2d)  # no BN on D's first layer
    conv = torch.cat([m.weight.flatten() for m in G.modules()
                      if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(conv.std().item() - 0.02) < 0.002 and abs(conv.mean().item()) < 0.001


def test_shape_errors_name_the_component():
    G = DCGANGenerator(resolution=16, channels=3)
    G.component_name = "dcgan"
    with pytest.raises(ComponentShapeError, match="generator 'dcgan'.*z of shape"):
        G(torch.randn(2, 7))
    D = DCGANDiscriminator(resolution=16, channels=3)
    D.component_name = "dcgan"
    with pytest.raises(ComponentShapeError, match="discriminator 'dcgan'.*images of shape"):
        D(torch.randn(2, 3, 32, 32))
