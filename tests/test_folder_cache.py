"""The folder data source's disk cache and parallel decoding: decodes are counted, not timed."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from artgan.core import image_files as folder_decode
from artgan.plugins.data import FolderOptions
from artgan.plugins.folder import FolderDataSource
from artgan.plugins.folder_cache import FolderCache, cache_root


def load(path, resolution=16, channels=3, **options):
    return FolderDataSource(str(path), resolution=resolution, channels=channels,
                            options=FolderOptions(**options))


@pytest.fixture
def decodes(monkeypatch):
    """The paths decode_image was called with (the real decoder still runs)."""
    calls = []
    real = folder_decode.decode_image

    def counting(path, *args):
        calls.append(os.path.basename(path))
        return real(path, *args)

    monkeypatch.setattr(folder_decode, "decode_image", counting)
    return calls


def picture(seed, size=(40, 30)):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), np.uint8))


def make_folder(root, n=4):
    root.mkdir(exist_ok=True)
    for i in range(n):
        picture(i).save(root / f"img{i}.png")
    return root


def cache_files():
    root = cache_root()
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def the_cache(folder, resolution=16, channels=3, draft=True):
    return FolderCache(str(folder), resolution=resolution, channels=channels,
                       settings={"draft": draft})


def test_second_build_reads_the_cache(tmp_path, decodes):
    folder = make_folder(tmp_path / "art")
    first = load(folder)
    assert len(decodes) == 4 and first.load_counts == {"cached": 0, "decoded": 4}
    assert len(cache_files()) == 1 and os.environ["ARTGAN_CACHE_DIR"] in str(cache_root())
    decodes.clear()
    second = load(folder)
    assert decodes == [] and second.load_counts == {"cached": 4, "decoded": 0}
    assert second.files == first.files and torch.equal(second.images, first.images)


def test_changed_new_and_deleted_files(tmp_path, decodes):
    folder = make_folder(tmp_path / "art")
    first = load(folder)
    decodes.clear()
    stat = os.stat(folder / "img1.png")
    os.utime(folder / "img1.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched
    picture(99, (50, 30)).save(folder / "img2.png")  # rewritten: other size, other pixels
    (folder / "img3.png").unlink()
    picture(7).save(folder / "img4.png")
    data = load(folder)
    assert sorted(decodes) == ["img1.png", "img2.png", "img4.png"]
    assert data.files == ["img0.png", "img1.png", "img2.png", "img4.png"]
    assert torch.equal(data.images[:2], first.images[:2])
    assert not torch.equal(data.images[2], first.images[2])
    assert the_cache(folder).load().files == data.files  # the deleted file is dropped
    decodes.clear()
    assert torch.equal(load(folder).images, data.images) and decodes == []


@pytest.mark.parametrize("change", [{"resolution": 32}, {"channels": 1}, {"draft": False}])
def test_pixel_settings_have_their_own_cache(tmp_path, decodes, change):
    folder = make_folder(tmp_path / "art")
    load(folder)
    decodes.clear()
    data = load(folder, **change)
    assert len(decodes) == 4 and len(cache_files()) == 2
    assert data.images.shape[1:] == (change.get("channels", 3),) + (change.get("resolution",
                                                                                16),) * 2


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "other-key"])
def test_a_damaged_cache_file_is_ignored_and_rebuilt(tmp_path, decodes, damage):
    folder = make_folder(tmp_path / "art")
    reference = load(folder).images
    path = the_cache(folder).path
    content = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"\x80\x04 this is not a cache file" * 10)
    elif damage == "truncated":
        path.write_bytes(content[:len(content) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a valid file holding another key (say, a digest collision)
        torch.save({"key": "{}", "files": [], "stamps": torch.zeros(0, 2, dtype=torch.int64),
                    "dims": torch.zeros(0, 2, dtype=torch.int64),
                    "images": torch.zeros(0, 3, 16, 16, dtype=torch.uint8)}, path)
    decodes.clear()
    data = load(folder)
    assert len(decodes) == 4 and torch.equal(data.images, reference)
    decodes.clear()
    assert torch.equal(load(folder).images, reference) and decodes == []  # rewritten


def test_cache_false_writes_and_reads_nothing(tmp_path, decodes):
    folder = make_folder(tmp_path / "art")
    load(folder, cache=False)
    assert cache_files() == [] and len(decodes) == 4
    load(folder)
    decodes.clear()
    data = load(folder, cache=False)  # a cache exists, but is not read
    assert len(decodes) == 4 and data.load_counts == {"cached": 0, "decoded": 4}


def test_cli_option_data_cache_false(tmp_path):
    from tests.helpers import artgan
    folder = make_folder(tmp_path / "art", n=8)
    tiny = ["--data", f"folder:{folder}", "--resolution", "16", "--batch-size", "8",
            "-o", "gen.ngf=8", "-o", "disc.ndf=8", "--max-steps", "1", "--device", "cpu"]
    result = artgan("run", *tiny, "-o", "data.cache=false", "--out", tmp_path / "run1")
    assert "Data: 8 images" in result.output and cache_files() == []
    artgan("run", *tiny, "--out", tmp_path / "run2")
    assert len(cache_files()) == 1  # the default writes it


def test_options_are_listed():
    from tests.helpers import artgan
    out = " ".join(artgan("list", "data", "--options").output.split())
    for text in ("cache", "draft", "bool"):
        assert text in out


def test_size_limits_apply_to_cached_images(tmp_path, decodes):
    folder = make_folder(tmp_path / "art", n=2)
    picture(5, (20, 20)).save(folder / "small.png")
    assert len(load(folder)) == 3
    decodes.clear()
    data = load(folder, min_side=25)
    assert decodes == [] and data.files == ["img0.png", "img1.png"]
    assert data.skipped.examples == [("small.png", "too small (20x20)")]
    data = load(folder, max_megapixels=0.0005)  # 500 px: 20 x 20 passes, 40 x 30 does not
    assert decodes == [] and data.files == ["small.png"]


def test_labels_change_keeps_the_unused_entries(tmp_path, decodes):
    folder = make_folder(tmp_path / "art", n=2)
    (folder / "cls").mkdir()
    picture(3).save(folder / "cls" / "x.png")
    classes = load(folder, labels="subfolders")
    assert classes.files == ["cls/x.png"]  # the two loose files skipped
    decodes.clear()
    assert len(load(folder, labels="none")) == 3 and len(decodes) == 2
    decodes.clear()
    classes = load(folder, labels="subfolders")
    assert classes.files == ["cls/x.png"] and decodes == []  # x.png still cached


def test_unwritable_cache_warns_and_trains_on(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "art", n=2)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("ARTGAN_CACHE_DIR", str(blocker))
    with pytest.warns(UserWarning, match="not cached"):
        assert len(load(folder)) == 2


# --- parallel decoding ---------------------------------------------------------------------

def make_mixed_folder(root):
    """Slow big JPEGs between fast tiny PNGs, so threads finish out of order."""
    root.mkdir()
    for i in range(12):
        if i % 3 == 0:
            picture(i, (600, 400)).save(root / f"{i:02d}.jpg", quality=95)
        else:
            picture(i, (24, 24)).save(root / f"{i:02d}.png")
    return root


def test_parallel_decode_gives_the_serial_order_and_pixels(tmp_path):
    folder = make_mixed_folder(tmp_path / "mixed")
    serial = load(folder, workers=1, cache=False)
    parallel = load(folder, workers=4, cache=False)
    assert serial.files == parallel.files == [f"{i:02d}.{'jpg' if i % 3 == 0 else 'png'}"
                                              for i in range(12)]
    assert torch.equal(serial.images, parallel.images)


def test_partly_cached_folder_keeps_file_order(tmp_path, decodes):
    folder = make_mixed_folder(tmp_path / "mixed")
    full = load(folder, workers=4, cache=False)
    for name in ("03.jpg", "05.png", "10.png"):  # touched: decoded again, the rest cached
        os.utime(folder / name, ns=(0, 10**9))
    load(folder, workers=4)
    for name in ("00.jpg", "07.png"):
        os.utime(folder / name, ns=(0, 2 * 10**9))
    decodes.clear()
    data = load(folder, workers=4)
    assert sorted(decodes) == ["00.jpg", "07.png"]
    assert data.files == full.files and torch.equal(data.images, full.images)
