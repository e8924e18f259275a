"""The unpaired data source: two sides through the registry, pairing, random crops and
flips as a pure function of (seed, epoch, index), and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artgan import testing
from artgan.core.data import DataSourceError, InMemoryDataSource
from artgan.core.registry import Entry
from artgan.plugin_host import get_registry
from artgan.plugins.unpaired import UnpairedOptions
from artgan.plugins.unpaired_data import UnpairedDataSource, _side_options, split_sides

R, LOAD = 16, 24  # resolution, and the load size at load_scale 1.5


def noise_folder(folder: Path, count: int, seed: int, size=(LOAD, LOAD)) -> Path:
    """``count`` random-noise PNGs of exactly the load size (loaded pixel for pixel)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        array = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(array).save(folder / f"{i:02d}.png")
    return folder


def solid_folder(folder: Path, colours, size=(30, 20)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, colour in enumerate(colours):
        Image.new("RGB", size, colour).save(folder / f"{i:02d}.png")
    return folder


def unpaired(a, b, *, resolution=R, channels=3, seed=0, **options):
    options = {"load_scale": 1.5, **options}
    return get_registry().build("data", "unpaired", options, f"folder:{a},folder:{b}",
                                resolution=resolution, channels=channels, seed=seed)


@pytest.fixture
def sides(tmp_path):
    return noise_folder(tmp_path / "photos", 3, seed=1), noise_folder(tmp_path / "monet", 5,
                                                                       seed=2)


def test_batches_hold_b_as_images_and_a_as_the_condition(sides):
    data = unpaired(*sides)
    assert isinstance(data, UnpairedDataSource)
    assert (len(data), data.condition_channels, data.load_size) == (5, 3, LOAD)
    assert data.class_names == [] and data.skipped.count == 0
    batch = data.load(torch.arange(5))
    assert batch.images.shape == batch.condition.shape == (5, 3, R, R)
    assert batch.labels is None
    assert batch.images.min() >= -1 and batch.images.max() <= 1
    testing.check_data_source("unpaired", f"folder:{sides[0]},folder:{sides[1]}",
                              {"load_scale": 1.5})


def test_pairing_cycles_a_and_permutes_b_every_epoch(sides):
    data = unpaired(*sides)
    everything = torch.arange(5)
    orders = set()
    for epoch in range(4):
        data.set_epoch(epoch)
        a, b = data.pairs(everything)
        assert a.tolist() == [0, 1, 2, 0, 1]  # A image i % len(A)
        assert sorted(b.tolist()) == [0, 1, 2, 3, 4]  # each B image once per epoch
        orders.add(tuple(b.tolist()))
    assert len(orders) > 1  # a new permutation of B per epoch


def find_window(crop: torch.Tensor, full: torch.Tensor) -> tuple[int, int, bool]:
    """Where ``crop`` (C, R, R) lies in ``full`` (C, L, L), and whether it is flipped."""
    room = full.shape[-1] - crop.shape[-1]
    for flipped in (False, True):
        candidate = crop.flip(-1) if flipped else crop
        for top in range(room + 1):
            for left in range(room + 1):
                if torch.equal(full[:, top:top + R, left:left + R], candidate):
                    return top, left, flipped
    raise AssertionError("the crop is no window of the loaded image")


def test_crops_and_flips_are_windows_of_the_loaded_images(sides):
    data = unpaired(*sides)
    seen = set()
    for epoch in range(3):
        data.set_epoch(epoch)
        batch = data.load(torch.arange(5))
        a, b = data.pairs(torch.arange(5))
        full_a = data.sides[0].load(a).images
        full_b = data.sides[1].load(b).images
        for k in range(5):
            seen.add(find_window(batch.condition[k], full_a[k]))
            seen.add(find_window(batch.images[k], full_b[k]))
    assert {flipped for *_, flipped in seen} == {False, True}
    assert len({(top, left) for top, left, _ in seen}) > 10
    fixed = data.preview(7)
    assert fixed.images.shape == fixed.condition.shape == (7, 3, R, R)
    data.set_epoch(9)
    assert torch.equal(data.preview(7).condition, fixed.condition)  # the same every epoch
    centre = data.sides[0].load(torch.tensor([2])).images[..., 4:4 + R, 4:4 + R]
    assert torch.equal(fixed.condition[2:3], centre) and torch.equal(fixed.condition[5:6],
                                                                     centre)
    plain = unpaired(*sides, load_scale=1.0, flip=False)
    assert plain.load_size == R
    a, b = plain.pairs(torch.arange(5))
    assert torch.equal(plain.load(torch.arange(5)).condition, plain.sides[0].load(a).images)


def test_randomness_is_a_pure_function_of_seed_epoch_and_index(sides):
    first, second = unpaired(*sides, seed=3), unpaired(*sides, seed=3)
    first.set_epoch(2)
    second.set_epoch(5)
    second.set_epoch(2)  # whatever came before: epoch 2 is epoch 2
    whole = first.load(torch.arange(5))
    picked = second.load(torch.tensor([4, 1]))
    assert torch.equal(picked.images, whole.images[[4, 1]])
    assert torch.equal(picked.condition, whole.condition[[4, 1]])
    first.set_epoch(3)
    assert not torch.equal(first.load(torch.arange(5)).images, whole.images)
    other_seed = unpaired(*sides, seed=4)
    other_seed.set_epoch(2)
    assert not torch.equal(other_seed.load(torch.arange(5)).images, whole.images)


def test_sides_keep_the_folder_sources_skipping_and_ignore_subfolder_classes(tmp_path):
    a = solid_folder(tmp_path / "a", [(200, 0, 0), (0, 200, 0)])
    solid_folder(a / "old", [(0, 0, 200)] * 3)  # subfolders hold most: no classes here
    (a / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    b = solid_folder(tmp_path / "b", [(9, 9, 9)], size=(12, 40))
    data = unpaired(a, b)
    assert len(data) == 5 and not data.labelled
    assert data.skipped.count == 1
    assert data.skipped.examples[0][0] == "A: broken.jpg"
    assert UnpairedDataSource.count_images(f"folder:{a},folder:{b}") == 6  # files of A


def test_a_comma_in_a_path_belongs_to_the_path(tmp_path):
    a = solid_folder(tmp_path / "sea,sky", [(10, 20, 30)] * 2)
    b = solid_folder(tmp_path / "ink", [(0, 0, 0)] * 3)
    assert split_sides(f"folder:{a},folder:{b}", ["folder", "demo"]) == (f"folder:{a}",
                                                                         f"folder:{b}")
    data = unpaired(a, b)
    assert Path(data.sides[0].root) == a and len(data) == 3
    assert split_sides("FOLDER:x, demo:waves", ["folder", "demo"]) == ("FOLDER:x", "demo:waves")


def test_no_argument_is_the_demo_pair_stripes_to_waves():
    data = get_registry().build("data", "unpaired", {}, None, resolution=R, channels=3, seed=0)
    assert data.specs == ("demo:stripes", "demo:waves") and len(data) == 256
    assert data.sides[0].styles == ("stripes",) and data.sides[1].styles == ("waves",)
    testing.check_data_source("unpaired")


def test_grey_sides_and_demo_sides_with_forwarded_options():
    data = get_registry().build("data", "unpaired", {"size": 6}, "demo:stripes,demo:waves",
                                resolution=R, channels=1, seed=0)
    assert len(data) == 6 and data.condition_channels == 1
    batch = data.load(torch.arange(3))
    assert batch.images.shape == batch.condition.shape == (3, 1, R, R)
    assert not torch.equal(batch.images, batch.condition)
    assert UnpairedDataSource.count_images("demo:stripes,demo:waves") is None  # demo: no count
    folder, demo = (get_registry().get("data", n) for n in ("folder", "demo"))
    options = UnpairedOptions(min_side=4, cache=False, size=6)
    assert _side_options(folder, options) == {"min_side": 4, "cache": False, "labels": "none"}
    assert _side_options(demo, options) == {"size": 6}
    assert _side_options(folder, UnpairedOptions()) == {"labels": "none"}


@pytest.mark.parametrize("argument,message", [
    ("folder:./a", "expected exactly two data sources, got 1 source;"),
    ("folder:./a,./b", "each side needs its source name"),
    ("folder:./a,folder:./b,folder:./c", "got 3 sources"),
    ("./a,folder:./b", r"side A \(./a\): .*did you mean --data folder:./a"),
    ("folder:./a,paintings:./b", "unknown data source 'paintings' for side B; known data "
                                 "sources: .*folder"),
    ("unpaired:folder:a,folder:b", r"side A \(unpaired:folder:a\): .*not another unpaired"),
])
def test_bad_specs_are_clear_errors(argument, message):
    with pytest.raises(DataSourceError, match=message):
        get_registry().build("data", "unpaired", {}, argument, resolution=R, channels=3,
                             seed=0)


def test_an_empty_or_unusable_side_is_a_clear_error(tmp_path, sides):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataSourceError, match=r"side B \(folder:.*empty\): no images found"):
        unpaired(sides[0], empty)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "x.png").write_bytes(b"not a png")
    with pytest.raises(DataSourceError, match=r"side A \(folder:.*junk\): none of the 1"):
        unpaired(junk, sides[1])
    with pytest.raises(DataSourceError, match=r"side A .*folder not found"):
        unpaired(tmp_path / "missing", sides[1])


class FixedSize(InMemoryDataSource):
    """A source that ignores the resolution it is asked for (8 px images only)."""

    @classmethod
    def from_spec(cls, argument, options, *, resolution, channels, seed=0):
        return cls(torch.zeros(4, channels, 8, 8, dtype=torch.uint8))


class Paired(InMemoryDataSource):
    @classmethod
    def from_spec(cls, argument, options, *, resolution, channels, seed=0):
        images = torch.zeros(4, channels, resolution, resolution, dtype=torch.uint8)
        return cls(images, conditions=images.clone())


def test_sides_that_are_no_plain_sets_of_images_are_refused(sides):
    registry = get_registry()
    registry.add(Entry("data", "fixed-size", FixedSize.from_spec, plugin="test"))
    registry.add(Entry("data", "paired", Paired.from_spec, plugin="test"))
    with pytest.raises(DataSourceError, match=r"side B \(fixed-size\) gives 3-channel 8 px "
                                              r"images, expected 3-channel 24 px"):
        registry.build("data", "unpaired", {"load_scale": 1.5},
                       f"folder:{sides[0]},fixed-size", resolution=R, channels=3, seed=0)
    with pytest.raises(DataSourceError, match=r"side A \(paired:x\) is paired data"):
        registry.build("data", "unpaired", {}, f"paired:x,folder:{sides[1]}", resolution=R,
                       channels=3, seed=0)
