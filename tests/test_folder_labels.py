"""The folder source's labels: class subfolders, loose images, labels=none."""

from __future__ import annotations

import torch

from artgan.plugins.folder import FolderDataSource

from .test_folder_data import BLUE, GREEN, RED, close, load, pixels, solid



# --- labels ------------------------------------------------------------------------------

def make_class_folder(root):
    for i in range(2):
        (root / "red").mkdir(exist_ok=True)
        solid(RED).save(root / "red" / f"r{i}.png")
    (root / "blue" / "nested").mkdir(parents=True)
    solid(BLUE).save(root / "blue" / "b0.png")
    solid(BLUE).save(root / "blue" / "nested" / "b1.png")
    solid(BLUE).save(root / "blue" / "nested" / "b2.png")
    (root / "empty_class").mkdir()
    (root / "empty_class" / "readme.txt").write_text("no images")
    solid(GREEN).save(root / "stray.png")


def test_mostly_loose_images_with_a_subfolder_stay_one_unlabelled_set(tmp_path):
    for i in range(3):
        solid(RED).save(tmp_path / f"r{i}.png")
    (tmp_path / "old").mkdir()
    solid(BLUE).save(tmp_path / "old" / "b.png")
    data = load(tmp_path)
    assert data.labels is None and len(data) == 4 and data.skipped.count == 0
    data = load(tmp_path, labels="subfolders")
    assert data.class_names == ["old"] and len(data) == 1
    assert data.skipped.count == 3


def test_class_subfolders_become_labels(tmp_path):
    make_class_folder(tmp_path)
    data = load(tmp_path)
    assert data.class_names == ["blue", "red"] and data.num_classes == 2
    assert data.labels.dtype == torch.int64 and data.labels.shape == (5,)
    assert data.labels.tolist() == [0, 0, 0, 1, 1]
    assert data.skipped.examples == [("stray.png", "not in a class subfolder")]
    out = pixels(data)
    _, labels = data.load_batch(torch.arange(len(data)))
    assert close(out[labels == 1][:, 8, 8], [RED] * 2) and close(out[labels == 0][:, 8, 8],
                                                                 [BLUE] * 3)


def test_labels_none_ignores_subfolders(tmp_path):
    make_class_folder(tmp_path)
    data = load(tmp_path, labels="none")
    assert data.labels is None and data.num_classes == 0 and len(data) == 6
    assert data.skipped.count == 0


def test_flat_folder_is_unlabelled(tmp_path):
    solid(RED).save(tmp_path / "a.png")
    solid(BLUE).save(tmp_path / "b.png")
    data = load(tmp_path)
    assert data.labels is None and data.num_classes == 0 and not data.labelled
    assert data.load_batch(torch.arange(2))[1] is None


def test_registered_as_folder_data_source(tmp_path):
    from artgan.testing import check_data_source
    make_class_folder(tmp_path)
    data = check_data_source("folder", str(tmp_path), {"labels": "auto"})
    assert isinstance(data, FolderDataSource) and data.source_name == "folder"
