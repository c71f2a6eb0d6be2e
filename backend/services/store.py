"""Where image files live under the store folder.

Prepared sources and reconstructions are named by the SHA-1 of their PNG bytes and kept in 256
sub-folders named by the first two hex characters (paper, appendix 1.3). Database rows hold
paths relative to the store, so a data folder can move.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from backend.core.config import get_settings

SHA1_RE = re.compile(r"^[0-9a-f]{40}$")


def store_root() -> Path:
    return get_settings().store_dir


def sha1_file(path: Path, chunk: int = 8192) -> str:
    """SHA-1 of a file read in 8 KB chunks, as the paper's renaming did."""
    digest = hashlib.sha1()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha1_bytes(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def blind_relpath(kind: str, name: str, suffix: str = ".png") -> str:
    if not SHA1_RE.match(name):
        raise ValueError(f"not a SHA-1 name: {name!r}")
    return f"{kind}/{name[:2]}/{name}{suffix}"


def absolute(relpath: str) -> Path:
    root = store_root().resolve()
    path = (root / relpath).resolve()
    if root not in path.parents:
        raise ValueError("path outside the store")
    return path


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
