"""Image folders: decode once, cache keyed by files and mtimes, skip what is not an image."""

from __future__ import annotations

import os
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import kdbench.data.imagefolder as imagefolder
from kdbench.config import DataConfig
from kdbench.data import load_data
from kdbench.data.cifar10_jpeg import unpack, verify_archive
from kdbench.errors import KdbenchError
from kdbench.fileio import sha256_file

CLASSES = ("cat", "dog", "emu")


def write_tree(root: Path, per_class: int = 4, size: int = 10) -> dict[str, np.ndarray]:
    """train/ and test/ with PNG and JPEG files of constant colour per class; returns colours."""
    colours = {
        c: np.array([40 * (i + 1), 250 - 60 * i, 20 * i], dtype=np.uint8)
        for i, c in enumerate(CLASSES)
    }
    for split in ("train", "test"):
        for c in CLASSES:
            folder = root / split / c
            folder.mkdir(parents=True)
            for k in range(per_class):
                img = Image.fromarray(np.tile(colours[c], (size, size, 1)))
                img.save(folder / (f"{k}.png" if k % 2 else f"{k}.jpg"), quality=95)
    return colours


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KDBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def decode_calls(monkeypatch):
    calls = []
    real = imagefolder.decode_image

    def counting(path, size, channels):
        calls.append(path)
        return real(path, size, channels)

    monkeypatch.setattr(imagefolder, "decode_image", counting)
    return calls


def cfg(root: Path, **kw) -> DataConfig:
    base = dict(
        name="imagefolder",
        root=str(root),
        num_classes=None,
        channels=3,
        image_size=8,
        val_fraction=0.25,
    )
    return DataConfig(**{**base, **kw})


def test_imagefolder_decodes_resizes_and_labels(tmp_path, cache):
    colours = write_tree(tmp_path / "d")
    data = load_data(cfg(tmp_path / "d"))
    assert data.num_classes == 3 and data.display_name == "image folder d"
    assert data.train[0].dtype == torch.uint8 and data.train[0].shape[1:] == (3, 8, 8)
    assert len(data.train[1]) + len(data.val[1]) == 12 and len(data.test[1]) == 12
    for x, y in zip(data.test[0], data.test[1]):
        expected = torch.from_numpy(colours[CLASSES[int(y)]].astype(np.int16))
        assert (x.view(3, -1).to(torch.int16) - expected[:, None]).abs().max() <= 3  # JPEG


def test_val_folder_is_used_when_present(tmp_path, cache):
    write_tree(tmp_path / "d")
    (tmp_path / "d" / "val").mkdir()
    for c in CLASSES:
        (tmp_path / "d" / "val" / c).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / "d" / "val" / c / "v.png")
    data = load_data(cfg(tmp_path / "d"))
    assert len(data.val[1]) == 3 and len(data.train[1]) == 12


def test_cache_is_reused_and_invalidated_by_mtime(tmp_path, cache, decode_calls):
    write_tree(tmp_path / "d")
    first = load_data(cfg(tmp_path / "d"))
    assert len(decode_calls) == 24
    second = load_data(cfg(tmp_path / "d"))
    assert len(decode_calls) == 24  # read from the cache, nothing decoded
    assert torch.equal(first.train[0], second.train[0])
    touched = tmp_path / "d" / "train" / "cat" / "0.jpg"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    load_data(cfg(tmp_path / "d"))
    assert len(decode_calls) == 48  # the key changed: decoded again
    load_data(cfg(tmp_path / "d", image_size=6))
    assert len(decode_calls) == 72  # another size is another cache entry
    assert len(list((cache / "imagefolder").glob("*.npz"))) == 3


def test_corrupt_and_non_image_files_are_skipped_with_a_count(tmp_path, cache):
    write_tree(tmp_path / "d")
    (tmp_path / "d" / "train" / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "d" / "train" / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    with pytest.warns(UserWarning, match=r"2 files under .* were skipped"):
        data = load_data(cfg(tmp_path / "d"))
    assert len(data.train[1]) + len(data.val[1]) == 12


def test_folder_without_usable_images_is_an_error(tmp_path, cache):
    for split in ("train", "test"):
        (tmp_path / "d" / split / "a").mkdir(parents=True)
        (tmp_path / "d" / split / "a" / "x.txt").write_text("no")
    with pytest.raises(KdbenchError, match=r"train has no readable images \(1 files skipped\)"):
        load_data(cfg(tmp_path / "d"))


def test_error_messages_name_the_path_and_the_fix(tmp_path, cache):
    with pytest.raises(KdbenchError, match="data.root is not set for imagefolder; set data.root="):
        load_data(DataConfig(name="imagefolder"))
    with pytest.raises(KdbenchError, match=rf"data.root={tmp_path / 'nope'} does not exist; point"):
        load_data(cfg(tmp_path / "nope"))
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(KdbenchError, match=r"empty/train is missing or has no class folders"):
        load_data(cfg(tmp_path / "empty"))
    (tmp_path / "empty" / "train" / "a").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "empty" / "train" / "a" / "x.png")
    with pytest.raises(KdbenchError, match=r"empty/test is missing or has no class folders"):
        load_data(cfg(tmp_path / "empty"))
    write_tree(tmp_path / "d")
    with pytest.raises(
        KdbenchError, match=r"has 3 classes but data.num_classes=10; set data.num_classes=3"
    ):
        load_data(cfg(tmp_path / "d", num_classes=10))


def test_cifar10_jpeg_refuses_a_wrong_archive(tmp_path):
    fake = tmp_path / "cifar10-jpeg.tar.xz"
    with tarfile.open(fake, "w:xz") as tar:
        tar.add(__file__, arcname="train/a/x.jpg")
    with pytest.raises(
        KdbenchError,
        match=r"has sha256 .*expected 6254f53a1bc70afc.*copy cifar10-jpeg.tar.xz again",
    ):
        verify_archive(fake)
    with pytest.raises(KdbenchError, match="has sha256"):
        unpack(fake, cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
    with pytest.raises(KdbenchError, match="archive .*missing.tar.xz not found; set data.root="):
        verify_archive(tmp_path / "missing.tar.xz")


def test_unpack_verifies_then_extracts_once(tmp_path):
    tree = tmp_path / "tree"
    write_tree(tree, per_class=1)
    archive = tmp_path / "a.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        for split in ("train", "test"):
            tar.add(tree / split, arcname=split)
    digest = sha256_file(archive)
    folder = unpack(archive, digest, cache=tmp_path / "cache")
    assert (folder / "train" / "cat" / "0.jpg").is_file()
    marker = (folder / "train" / "cat" / "0.jpg").stat().st_mtime_ns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert unpack(archive, digest, cache=tmp_path / "cache") == folder
    assert (folder / "train" / "cat" / "0.jpg").stat().st_mtime_ns == marker  # not re-extracted
