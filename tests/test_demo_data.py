"""The demo data source: shapes, determinism, balanced classes, and styles that differ."""

from __future__ import annotations

import pytest
import torch

from artgan.core.data import DataSourceError
from artgan.plugins.data import DemoOptions
from artgan.plugins import demo as demo_module
from artgan.plugins.demo import STYLES, DemoDataSource
from artgan.testing import check_data_source


def demo(argument=None, size=40, seed=0, resolution=16, channels=3, train_seed=0):
    return DemoDataSource.from_spec(argument, DemoOptions(size=size, seed=seed),
                                    resolution=resolution, channels=channels, seed=train_seed)


def features(images: torch.Tensor) -> torch.Tensor:
    """Per-image mean colour and per-channel pixel std: (N, 2C)."""
    return torch.cat([images.mean((2, 3)), images.std((2, 3))], 1)


@pytest.mark.parametrize("resolution", [16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_dtype_and_range(resolution, channels):
    data = demo(size=10, resolution=resolution, channels=channels)
    assert len(data) == 10 and data.resolution == resolution and data.channels == channels
    assert data.images.dtype == torch.uint8
    images, labels = data.load_batch(torch.arange(10))
    assert images.shape == (10, channels, resolution, resolution)
    assert images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    assert images.std() > 0.2  # not blank
    assert labels.dtype == torch.int64 and labels.shape == (10,)


@pytest.mark.parametrize("resolution", [8, 24, 100])
def test_resolutions_that_are_not_powers_of_two(resolution):
    assert demo(size=5, resolution=resolution).images.shape == (5, 3, resolution, resolution)


def test_defaults_and_registry():
    data = DemoDataSource.from_spec(None, None, resolution=None, channels=3, seed=0)
    assert len(data) == DemoOptions().size and data.resolution == DemoDataSource.default_resolution
    built = check_data_source("demo", options={"size": 12}, resolution=16)
    assert isinstance(built, DemoDataSource) and built.class_names == list(STYLES)
    assert check_data_source("demo", "waves", {"size": 3}).labels is None


def test_grayscale_is_bt601_luma_of_rgb():
    rgb = demo(size=10, channels=3).images.float()
    gray = demo(size=10, channels=1).images.float()
    luma = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]).unsqueeze(1)
    assert (gray - luma).abs().max() <= 1.0


def test_deterministic_and_seed_dependent():
    a, b = demo(seed=3), demo(seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, demo(seed=4).images)
    # The training seed does not change the data set; only options.seed does.
    assert torch.equal(a.images, demo(seed=3, train_seed=99).images)


def test_images_do_not_depend_on_the_data_set_size():
    small, large = demo(size=10), demo(size=200)
    assert torch.equal(small.images, large.images[:10])


def test_global_rng_state_untouched():
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    demo(size=30)
    assert torch.equal(before, torch.get_rng_state())


def test_balanced_labels_in_round_robin_order():
    data = demo(size=len(STYLES) * 7)
    assert data.class_names == list(STYLES) and data.num_classes == len(STYLES)
    assert torch.equal(data.labels, torch.arange(len(data)) % len(STYLES))
    assert torch.bincount(data.labels).tolist() == [7] * len(STYLES)


def test_single_style_is_unlabelled_and_only_that_style():
    n = len(STYLES)
    k = STYLES.index("kandinsky")
    one = demo("kandinsky", size=8)
    assert one.class_names == [] and not one.labelled and one.labels is None
    assert len(one) == 8
    _, labels = one.load_batch(torch.arange(4))
    assert labels is None
    # The same pictures as the kandinsky class of the full data set.
    full = demo(size=8 * n)
    assert torch.equal(one.images, full.images[k::n])


def test_unknown_style_lists_styles_and_close_match():
    with pytest.raises(DataSourceError) as err:
        demo("mondrain")
    message = str(err.value)
    assert "Did you mean 'mondrian'" in message
    for style in STYLES:
        assert style in message
    with pytest.raises(DataSourceError, match="Known styles"):
        demo("zzzz")


@pytest.mark.parametrize("bad", [dict(resolution=4), dict(channels=2)])
def test_bad_arguments(bad):
    with pytest.raises(DataSourceError):
        demo(**bad)


@pytest.mark.parametrize("resolution", [16, 32])
def test_styles_separable_by_mean_colour_and_std(resolution):
    """A nearest-centroid classifier on (mean RGB, std RGB) tells styles apart."""
    n = len(STYLES)
    train = demo(size=60 * n, seed=1, resolution=resolution)
    test = demo(size=40 * n, seed=2, resolution=resolution)
    f_train = features(train.load_batch(torch.arange(len(train)))[0])
    f_test = features(test.load_batch(torch.arange(len(test)))[0])
    centroids = torch.stack([f_train[train.labels == k].mean(0) for k in range(n)])
    predicted = torch.cdist(f_test, centroids).argmin(1)
    for k in range(n):  # every style, not just on average
        mask = test.labels == k
        accuracy = (predicted[mask] == k).float().mean().item()
        assert accuracy > 0.9, f"style {STYLES[k]}: nearest-centroid accuracy {accuracy:.2f}"


def test_variety_within_each_style():
    n = len(STYLES)
    data = demo(size=12 * n, resolution=32)
    images = data.images.float() / 255
    for k in range(n):
        style = images[k::n].flatten(1)
        diff = (style[:, None] - style[None]).abs().mean(-1)  # pairwise mean abs difference
        off_diagonal = diff[~torch.eye(len(style), dtype=torch.bool)]
        assert off_diagonal.min() > 0.02, f"style {STYLES[k]}: near-duplicate images"
        assert off_diagonal.mean() > 0.08, f"style {STYLES[k]}: too little variety"


def test_rendering_batches_do_not_change_the_images(monkeypatch):
    whole = demo(size=30, resolution=32).images
    monkeypatch.setattr(demo_module, "_PIXELS_PER_BATCH", 32 * 32 * 4)  # 4 images a batch
    assert torch.equal(whole, demo(size=30, resolution=32).images)
