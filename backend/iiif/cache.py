"""The two caches behind every response: encoded bytes in memory, and files on disk.

Disk layout: ``<root>/<identifier[:2]>/<identifier>/<region>_<size>_<rotation>_<quality>.<fmt>``
with the normalised names from ``params``. Files are written to a temporary name in the same
folder and renamed into place, so a reader (or nginx, or another worker process) never sees a
half-written tile, and a crash leaves at most a stray temporary file. The folder survives
restarts; a missing file is simply rendered again.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path

from backend.iiif.models import IIIFError, RenderedImage

_SAFE_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9,._-]{0,200}")


def check_identifier(identifier: str) -> str:
    """Refuse anything that could leave its cache folder: no dots, no slashes, bounded length.

    The routes apply the application's stricter identifier pattern first; this is the last line
    of defence for callers that reach the service directly.
    """
    if _SAFE_IDENTIFIER.fullmatch(identifier) is None:
        raise IIIFError(404, "image not available")
    return identifier


class MemoryCache:
    """Byte-bounded LRU of rendered responses, shared by the event loop and worker threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, RenderedImage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> RenderedImage | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: Hashable, item: RenderedImage) -> None:
        size = len(item.data)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old.data)
            self._items[key] = item
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= len(evicted.data)

    def discard_identifier(self, identifier: str) -> None:
        """Drop every entry whose key starts with ``identifier``."""
        with self._lock:
            for key in [k for k in self._items if isinstance(k, tuple) and k[0] == identifier]:
                self._bytes -= len(self._items.pop(key).data)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


class DiskCache:
    """Rendered files under ``root``, one folder per identifier."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def folder(self, identifier: str) -> Path:
        check_identifier(identifier)
        return self.root / identifier[:2] / identifier

    def path(self, identifier: str, name: str) -> Path:
        if _SAFE_NAME.fullmatch(name) is None:
            raise ValueError("unsafe cache file name")
        return self.folder(identifier) / name

    def read(self, identifier: str, name: str) -> bytes | None:
        """The file's bytes, or ``None`` when absent or empty (an interrupted write)."""
        try:
            data = self.path(identifier, name).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return data or None

    def write(self, identifier: str, name: str, data: bytes) -> Path:
        """Write atomically: temporary file in the same folder, then ``os.replace``."""
        target = self.path(identifier, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{name}.{secrets.token_hex(6)}.tmp")
        # 0o644 (less umask) rather than mkstemp's 0o600, so a front web server may read tiles.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise
        return target

    def exists(self, identifier: str, name: str) -> bool:
        return self.path(identifier, name).is_file()

    def remove(self, identifier: str) -> None:
        shutil.rmtree(self.folder(identifier), ignore_errors=True)
