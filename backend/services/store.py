"""Where image files live under the store folder, and the one way files are written there.

Prepared sources and reconstructions are named by the SHA-1 of their PNG bytes and kept in 256
sub-folders named by the first two hex characters (paper, appendix 1.3). Database rows hold
paths relative to the store, so a data folder can move.

Every file sclic writes (sources, reconstructions, bitstreams, tiles) goes through
:func:`write_atomic`, and every scratch folder an external codec works in comes from
:func:`scratch_folder`: so no reader, nginx included, ever sees half a file under a real name.
Both use one temporary-name scheme, ``.sclic-<random>.tmp``, and the process that made one
holds an exclusive ``flock`` on it while it is in use. The kernel drops that lock when the
process ends, however it ends (a worker killed by the OOM killer or ``kill -9`` included), so
:func:`sweep_temporaries` removes exactly the temporaries nobody holds any more, without
guessing from process ids or ages.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
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


TEMP_PREFIX = ".sclic-"
TEMP_SUFFIX = ".tmp"


def _held_temporary(parent: Path, *, folder: bool) -> tuple[Path, int]:
    """A new temporary file or folder in ``parent`` and a descriptor holding its lock.

    A sweep can find the name between its creation and the lock and remove it; the lock taken
    after that sweep is then on something without a name, so that one is given up for another.
    """
    while True:
        path = parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
        if folder:
            path.mkdir(mode=0o700)
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        else:
            # 0o644 (less umask), not mkstemp's 0o600: a front web server may serve the tiles.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if _names(path, fd):
            return path, fd
        os.close(fd)


def _names(path: Path, fd: int) -> bool:
    """Whether ``path`` is still the name of what ``fd`` has open."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def write_atomic(path: Path, data: bytes, *, durable: bool = True, exclusive: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename, so readers never see
    half a file and a killed writer leaves only a temporary that :func:`sweep_temporaries`
    removes.

    ``durable`` (the default) flushes the file to disk before the rename: the store's files are
    the dataset, and a database row will point at them. Tiles, which can be rendered again,
    pass ``durable=False``. ``exclusive`` never replaces a file at ``path`` (``FileExistsError``
    instead), even one that another writer puts there at the same moment: a file that a row
    may point at is never overwritten by another job's bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary, fd = _held_temporary(path.parent, folder=False)
    try:
        with os.fdopen(fd, "wb") as fh:  # closing it, after the rename, drops the lock
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
            if exclusive:
                _publish_new(temporary, path)
            else:
                os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _publish_new(temporary: Path, path: Path) -> None:
    """Give ``temporary`` the name ``path`` unless that name exists (``FileExistsError``)."""
    try:
        os.link(temporary, path)  # a hard link never replaces: the check and the naming are one
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links: check, then rename (two steps there).
        if path.exists():
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        os.replace(temporary, path)
    else:
        temporary.unlink()


@contextlib.contextmanager
def scratch_folder(parent: Path | None = None) -> Iterator[Path]:
    """A fresh private folder (in the system's temporary folder by default), removed on exit;
    one a killed process leaves behind is removed by :func:`sweep_temporaries`."""
    folder, fd = _held_temporary(Path(parent or tempfile.gettempdir()), folder=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)


def sweep_temporaries(folder: Path, *, recursive: bool = False) -> int:
    """Remove the temporary files and folders in ``folder`` (and below it, if ``recursive``)
    that no living process holds: those of writers that were killed. Returns how many."""
    pattern = f"{TEMP_PREFIX}*{TEMP_SUFFIX}"
    found = Path(folder).rglob(pattern) if recursive else Path(folder).glob(pattern)
    removed = 0
    for path in list(found):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # renamed into place or removed meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _names(path, fd):
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed += 1
        except BlockingIOError:  # its writer is alive and holds it
            continue
        except FileNotFoundError:
            continue
        finally:
            os.close(fd)
    return removed
