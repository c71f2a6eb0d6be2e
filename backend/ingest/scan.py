"""Candidate source files in a folder, in a stable order.

Source datasets arrive as folders (CLIC, DIV2K, RAISE; paper, appendix 1.1). The scan is
deterministic (names sorted at every level) so that two ingests of the same folder report the
same lines in the same order. Hidden files and folders are skipped (editor and OS droppings such
as ``.DS_Store`` or ``._IMG_0001.JPG``), and a symbolic link is followed only when its target
lies inside the scanned root, so a link cannot pull files from elsewhere on the server.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})


def scan_folder(
    path: Path,
    recursive: bool = True,
    suffixes: Collection[str] | None = IMAGE_SUFFIXES,
) -> Iterator[Path]:
    """Files under ``path`` whose suffix (any case) is in ``suffixes``; None yields every file.

    The suffix only selects candidates: the content decides acceptance later, so a text file
    named ``.png`` is yielded and then refused as not an image. Paths are yielded as found
    under ``path`` (links not resolved), so reports can name them relative to the root.
    """
    root = path.resolve(strict=True)
    if not root.is_dir():
        raise NotADirectoryError(str(path))
    wanted = None if suffixes is None else frozenset(s.lower() for s in suffixes)
    yield from _walk(path, root, recursive, wanted, {root})


def _walk(
    directory: Path,
    root: Path,
    recursive: bool,
    wanted: frozenset[str] | None,
    visited: set[Path],
) -> Iterator[Path]:
    try:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        candidate = directory / entry.name
        try:
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if entry.is_symlink() and not resolved.is_relative_to(root):
            continue
        if resolved.is_dir():
            if recursive and resolved not in visited:
                visited.add(resolved)
                yield from _walk(candidate, root, recursive, wanted, visited)
        elif resolved.is_file() and (wanted is None or candidate.suffix.lower() in wanted):
            yield candidate
