"""artgan.restoration.restorer.restore_with_network: any size, tiles, the keep rule."""

from __future__ import annotations

import pytest
import torch

import artgan.components as components
from artgan.restoration.restorer import restore_with_network


@pytest.fixture
def G():
    torch.manual_seed(0)
    net = components.build("generator", "unet", {"ngf": 4}, resolution=16, channels=3,
                           condition_channels=4)
    net.train()
    return net


def image(h, w, seed=0):
    return torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_output_has_the_input_size_at_odd_sizes(G):
    for h, w in [(37, 23), (16, 16), (5, 9)]:
        out = restore_with_network(G, image(h, w))
        assert out.shape == (3, h, w) and out.abs().max() <= 1
    batch = torch.stack([image(21, 19, s) for s in range(2)])
    assert restore_with_network(G, batch).shape == (2, 3, 21, 19)
    assert G.training  # its mode is restored


def test_large_images_go_through_overlapping_tiles(G):
    sizes = []
    hook = G.register_forward_hook(lambda m, args, out: sizes.append(tuple(out.shape[-2:])))
    try:
        out = restore_with_network(G, image(100, 70), tile=32, overlap=8)
    finally:
        hook.remove()
    assert out.shape == (3, 100, 70)
    assert len(sizes) > 4 and all(h <= 32 and w <= 32 for h, w in sizes)
    assert all(h % G.size_multiple == 0 and w % G.size_multiple == 0 for h, w in sizes)


def test_without_a_mask_the_whole_output_is_the_networks(G):
    x = image(32, 32)
    out = restore_with_network(G, x)
    G.eval()
    with torch.no_grad():
        direct = G(G.sample_z(1), None, torch.cat([x, -torch.ones(1, 32, 32)])[None])[0]
    assert torch.allclose(out, direct, atol=1e-6)


def test_with_a_mask_unmasked_pixels_are_kept_exactly(G):
    x = image(29, 41)
    mask = torch.zeros(29, 41, dtype=torch.bool)
    mask[5:15, 10:30] = True
    out = restore_with_network(G, x, mask)
    assert torch.equal(out[:, ~mask], x[:, ~mask])
    everywhere = restore_with_network(G, x, mask, keep_unmasked=False)
    assert torch.equal(out[:, mask], everywhere[:, mask])  # the network fills the hole
    assert not torch.equal(everywhere[:, ~mask], x[:, ~mask])
    # the same mask as {-1, +1} floats (the condition's convention) or (1, H, W)
    signed = mask.float()[None] * 2 - 1
    assert torch.equal(restore_with_network(G, x, signed), out)


def test_refuses_a_network_that_is_not_a_restorer_for_the_image(G):
    with pytest.raises(ValueError, match="takes 4 input channels; a restorer for 1-channel"):
        restore_with_network(G, torch.zeros(1, 16, 16))
    with pytest.raises(ValueError, match="the mask must be"):
        restore_with_network(G, image(16, 16), torch.zeros(8, 8, dtype=torch.bool))
