"""A short DCGAN run on one demo style must move its samples toward the data."""

import torch

import artgan
from artgan.core.sampling import sample_images


def colour_stats(images: torch.Tensor) -> torch.Tensor:
    """Per-channel mean and standard deviation over all pixels: a 6-vector for RGB."""
    flat = images.transpose(0, 1).reshape(images.shape[1], -1)
    return torch.cat([flat.mean(1), flat.std(1)])


def test_short_dcgan_run_learns_the_colour_statistics_of_a_demo_style(tmp_path):
    # 600 steps at 16 px: the distance falls to ~0.3x its initial value (seeds 1 and 2).
    trainer = artgan.make_trainer(data="demo:stripes", resolution=16, batch_size=32,
                                  epochs=100, max_steps=600, device="cpu", seed=1,
                                  options={"gen": {"ngf": "32", "z_dim": "32"},
                                           "disc": {"ndf": "32"}, "data": {"size": "512"}},
                                  log_every=50, out=str(tmp_path))
    real = trainer.data.load_batch(torch.arange(len(trainer.data)))[0]
    target = colour_stats(real)

    def distance() -> float:
        trainer.G.eval()
        fake = sample_images(trainer.G, 256, seed=0)
        trainer.G.train()
        return (colour_stats(fake) - target).norm().item()

    before = distance()
    trainer.fit()
    after = distance()
    assert trainer.step == 600
    assert after < 0.5 * before, f"colour-statistics distance {before:.3f} -> {after:.3f}"
