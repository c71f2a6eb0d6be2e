"""Finding candidate files in a source folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.ingest.scan import scan_folder


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    for name in (
        "b.png",
        "a.JPG",
        "c.tiff",
        "readme.txt",
        ".DS_Store",
        "._a.JPG",
        "sub/d.jpeg",
        "sub/deeper/e.tif",
        ".hidden/f.png",
    ):
        (root / name).write_bytes(b"x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"x")
    os.symlink(outside / "secret.png", root / "escape.png")
    os.symlink(outside, root / "escape_dir")
    os.symlink(root / "sub" / "d.jpeg", root / "link_inside.jpeg")
    os.symlink(root, root / "sub" / "loop")
    os.symlink(root / "missing.png", root / "dangling.png")
    return root


def names(paths, root: Path) -> list[str]:
    return [path.relative_to(root).as_posix() for path in paths]


def test_recursive_scan_is_sorted_and_skips_hidden_and_outside_links(tree: Path):
    assert names(scan_folder(tree), tree) == [
        "a.JPG",
        "b.png",
        "c.tiff",
        "link_inside.jpeg",
        "sub/d.jpeg",
        "sub/deeper/e.tif",
    ]


def test_flat_scan(tree: Path):
    assert names(scan_folder(tree, recursive=False), tree) == [
        "a.JPG",
        "b.png",
        "c.tiff",
        "link_inside.jpeg",
    ]


def test_every_suffix(tree: Path):
    assert "readme.txt" in names(scan_folder(tree, suffixes=None), tree)


def test_not_a_folder(tree: Path):
    with pytest.raises(NotADirectoryError):
        list(scan_folder(tree / "b.png"))
    with pytest.raises(FileNotFoundError):
        list(scan_folder(tree / "nope"))
