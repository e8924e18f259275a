"""CycleGAN's image pool (its behaviour and state) and a bit-for-bit resume of the loss and
networks with a minimal stand-in for the trainer."""

import pytest
import torch

from artgan.plugin_host import get_registry
from artgan.plugins.cyclegan_loss import ImagePool

from .cyclegan_helpers import SMALL_D, SMALL_G, build, build_loss, images, roundtrip


# -- the image pool --------------------------------------------------------------------------
def tagged(values):
    """Images (N, 1, 2, 2) whose pixels all equal their tag, to follow them through the pool."""
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()


def tags(batch):
    return batch[:, 0, 0, 0].tolist()


def test_pool_stores_and_returns_every_image_until_full():
    torch.manual_seed(0)
    pool = ImagePool(5)
    assert tags(pool.query(tagged([1, 2]))) == [1, 2]
    assert tags(pool.query(tagged([3, 4]))) == [3, 4]
    assert tags(pool.query(tagged([5]))) == [5]
    assert pool.count == 5 and tags(pool.images) == [1, 2, 3, 4, 5]
    assert tags(ImagePool(0).query(tagged([7, 8]))) == [7, 8]  # size 0: no history


def test_full_pool_returns_a_stored_image_with_probability_one_half():
    torch.manual_seed(1234)
    pool = ImagePool(10)
    pool.query(tagged(range(10)))
    stored_returned, queries = 0, 4000
    for step in range(queries):
        new = 100 + step
        before = tags(pool.images)
        (got,) = tags(pool.query(tagged([new])))
        after = tags(pool.images)
        if got == new:  # returned as it is: the history is unchanged
            assert after == before
        else:  # swapped: a stored image came back and the new one took its slot
            stored_returned += 1
            assert got in before
            slot = before.index(got)
            assert after[slot] == new and after[:slot] + after[slot + 1:] == \
                before[:slot] + before[slot + 1:]
    assert abs(stored_returned / queries - 0.5) < 0.03
    assert pool.count == 10


def test_pool_state_round_trips_and_continues_identically():
    torch.manual_seed(7)
    pool = ImagePool(4)
    for step in range(6):
        pool.query(tagged([10 * step + i for i in range(3)]))
    state = roundtrip(pool.state_dict())
    rng = torch.get_rng_state()
    assert set(state) == {"count", "images"} and state["count"] == 4
    first = [tags(pool.query(tagged([200 + i, 300 + i]))) for i in range(20)]
    torch.set_rng_state(rng)
    resumed = ImagePool(4)
    resumed.load_state_dict(state)
    assert [tags(resumed.query(tagged([200 + i, 300 + i]))) for i in range(20)] == first
    empty = ImagePool(4)
    empty.load_state_dict(roundtrip(ImagePool(4).state_dict()))
    assert empty.count == 0
    with pytest.raises(ValueError, match="at most 2"):
        ImagePool(2).load_state_dict(state)


def test_loss_state_holds_both_pools_and_resumes_identically():
    G, D = build("generator", options=SMALL_G), build("discriminator", options=SMALL_D)
    loss = build_loss(pool_size=3)
    torch.manual_seed(3)
    A, B = images(2, seed=4), images(2, seed=5)

    def d_losses(loss, steps):
        return [float(loss.discriminator_loss(G, D, B * (1 - 0.1 * i), G(G.sample_z(2), None,
                                                                           A * 0.9 ** i).detach(),
                                              None, condition=A)["loss"])
                for i in range(steps)]

    with torch.no_grad():
        d_losses(loss, 3)  # fills both pools (3 images each) and overflows them
        state, rng = roundtrip(loss.state_dict()), torch.get_rng_state()
        assert state["pool_a"]["count"] == state["pool_b"]["count"] == 3
        ahead = d_losses(loss, 6)
        torch.set_rng_state(rng)
        resumed = build_loss(pool_size=3)
        resumed.load_state_dict(state)
        assert d_losses(resumed, 6) == ahead


# -- resume, with a minimal stand-in for the trainer -----------------------------------------
def mini_run(tmp_path, steps, state=None):
    """``steps`` CycleGAN steps on the demo pair (D phase, then G phase, as the trainer
    orders them); returns the state a checkpoint would hold (weights, optimisers, loss
    state, CPU RNG) after them. ``state``: resume from it."""
    data = get_registry().build("data", "unpaired", {"size": 4}, None, resolution=16,
                                channels=3, seed=0)
    torch.manual_seed(0)
    G, D = build("generator", options={**SMALL_G, "blocks": 1}), build("discriminator",
                                                                       options=SMALL_D)
    loss = build_loss(pool_size=3)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    start = 0
    if state is not None:
        state = roundtrip(state)
        G.load_state_dict(state["generator"])
        D.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        loss.load_state_dict(state["loss"])
        torch.set_rng_state(state["rng"])
        start = state["step"]
    per_epoch = 2  # 4 examples, batch 2
    for step in range(start, start + steps):
        epoch, b = divmod(step, per_epoch)
        data.set_epoch(epoch)
        batch = data.load(data.epoch_indices(epoch, 0)[2 * b:2 * b + 2])
        fake = G(G.sample_z(2), None, batch.condition)
        out = loss.discriminator_loss(G, D, batch.images, fake.detach(), None,
                                      condition=batch.condition)
        opt_d.zero_grad()
        out["loss"].backward()
        opt_d.step()
        D.requires_grad_(False)
        out = loss.generator_loss(G, D, batch.images, fake, None, condition=batch.condition)
        opt_g.zero_grad()
        out["loss"].backward()
        opt_g.step()
        D.requires_grad_(True)
    return {"generator": G.state_dict(), "discriminator": D.state_dict(),
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
            "loss": loss.state_dict(), "rng": torch.get_rng_state(), "step": start + steps}


def test_resuming_continues_bit_for_bit_on_the_cpu(tmp_path):
    straight = mini_run(tmp_path, 5)
    resumed = mini_run(tmp_path, 2, state=mini_run(tmp_path, 3))
    for key in ("generator", "discriminator"):
        for name, value in straight[key].items():
            assert torch.equal(value, resumed[key][name]), f"{key}.{name}"
    for pool in ("pool_a", "pool_b"):
        assert torch.equal(straight["loss"][pool]["images"], resumed["loss"][pool]["images"])
