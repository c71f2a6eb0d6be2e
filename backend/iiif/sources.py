"""Decoded source images held in memory, with lazily built half-resolution levels.

Workers pre-render every pyramid (difference maps included), but a labeler can open a pair
before that has finished, or after the tile folder was cleared (a new difference-map gain
clears those). That first view must still be on screen within the
target of ``benchmarks/first_view_bench.py`` (400 ms for a 2304² pair with nothing cached). It
needs a few dozen tiles of each image, and PNG has no shrink-on-load: decoding the file once
per tile would take seconds. So the decoded pixels are kept in one small byte-bounded LRU
(:class:`SourceCache`, the only in-memory image cache) and every tile is cut from them.
Levels at 1/2, 1/4, ... are built once per source by repeated halving; a tile at scale factor
2^k is then a plain crop of level k, with no per-tile resampling and no seams at tile borders.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pyvips

from backend.iiif.colormap import lut_image
from backend.iiif.models import IIIFError

log = logging.getLogger(__name__)

MAX_LEVEL_FACTOR = 64


def open_header(path: Path) -> pyvips.Image:
    """Open lazily (header only); a missing or unreadable file is a 404 without its name."""
    try:
        return pyvips.Image.new_from_file(str(path))
    except pyvips.Error as exc:
        raise IIIFError(404, "image not available") from exc


def normalise(image: pyvips.Image) -> pyvips.Image:
    """8-bit sRGB (or 8-bit grey), alpha flattened onto white.

    Sources are photographs and codec outputs; flattening once here keeps every later step
    (levels, difference, encoders) free of alpha handling.
    """
    if image.hasalpha():
        white = 65535 if image.format == "ushort" else 255
        image = image.flatten(background=[white] * (image.bands - 1))
    if image.bands >= 3:
        if image.interpretation != "srgb" or image.format != "uchar":
            image = image.colourspace("srgb")
        if image.bands > 3:
            image = image.extract_band(0, n=3)
    else:
        if image.interpretation != "b-w" or image.format != "uchar":
            image = image.colourspace("b-w")
    return image.cast("uchar") if image.format != "uchar" else image


def load_pixels(path: Path) -> pyvips.Image:
    """Decode ``path`` fully into memory, normalised.

    The file is read afresh each time (never through libvips' file cache): decoded pixels are
    cached here, with eviction, and a cache file rebuilt under the same name must never come
    back stale.
    """
    try:
        image = pyvips.Image.new_from_buffer(path.read_bytes(), "", access="sequential")
        return normalise(image).copy_memory()
    except (OSError, pyvips.Error) as exc:
        log.warning("cannot decode %s: %s", path, exc)  # for operators; clients see a 404
        raise IIIFError(404, "image not available") from exc


def difference_map(
    original: pyvips.Image, reconstruction: pyvips.Image, gain: float
) -> pyvips.Image:
    """Colour-mapped difference: max over RGB of |a - b|, times ``gain``, through viridis.

    The maximum rather than the mean over channels keeps a hue change that lives in one channel
    (a purple bag turning blue) at full strength instead of a third of it. If the two images
    differ in size, only their common top-left area is compared.
    """
    width = min(original.width, reconstruction.width)
    height = min(original.height, reconstruction.height)
    a = _rgb(original.crop(0, 0, width, height))
    b = _rgb(reconstruction.crop(0, 0, width, height))
    delta = (a - b).abs().cast("uchar")  # uchar - uchar is signed 16-bit; |.| fits 8 bits
    largest = delta[0].maxpair(delta[1]).maxpair(delta[2])
    return largest.maplut(lut_image(gain)).copy(interpretation="srgb").copy_memory()


def _rgb(image: pyvips.Image) -> pyvips.Image:
    return image if image.bands == 3 else image.colourspace("srgb")


class Source:
    """One decoded image and its power-of-two levels, safe to share between threads."""

    def __init__(self, image: pyvips.Image) -> None:
        self.image = image
        self.width: int = image.width
        self.height: int = image.height
        self.bands: int = image.bands
        self._levels: dict[int, pyvips.Image] = {1: image}
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Base pixels plus the levels that may be built (a third more)."""
        return self.width * self.height * self.bands * 4 // 3

    def has_exact_level(self, factor: int) -> bool:
        return factor <= MAX_LEVEL_FACTOR and self.width % factor == 0 and self.height % factor == 0

    def level(self, factor: int) -> pyvips.Image:
        """The image at 1/``factor`` size, ``factor`` a power of two with exact division."""
        level = self._levels.get(factor)
        if level is not None:
            return level
        parent = self.level(factor // 2)
        with self._lock:
            level = self._levels.get(factor)
            if level is None:
                # A 2 x 2 box average, as image pyramids usually are: fast, and the viewer
                # resamples for display anyway; full-resolution tiles stay exact pixels.
                level = parent.shrink(2, 2).copy_memory()
                self._levels[factor] = level
        return level


class SourceCache:
    """Byte-bounded LRU of ``Source`` objects; each key is loaded once even under concurrency
    (a viewer asks for six tiles of one image at once: one decode, not six).

    Each key being loaded has a lock of its own. A loader may get other keys (a difference map
    loads its two images), so locks shared between keys could make a thread wait on itself.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, Source] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, key: str, loader: Callable[[], pyvips.Image]) -> Source:
        found = self._lookup(key)
        if found is not None:
            return found
        with self._lock:
            load_lock = self._loading.setdefault(key, threading.Lock())
        try:
            with load_lock:
                found = self._lookup(key)
                if found is not None:
                    return found
                source = Source(loader())
                self._store(key, source)
                return source
        finally:
            with self._lock:
                if self._loading.get(key) is load_lock:
                    del self._loading[key]

    def discard(self, predicate: Callable[[str], bool]) -> None:
        with self._lock:
            for key in [k for k in self._items if predicate(k)]:
                self._bytes -= self._items.pop(key).nbytes

    def _lookup(self, key: str) -> Source | None:
        with self._lock:
            source = self._items.get(key)
            if source is not None:
                self._items.move_to_end(key)
            return source

    def _store(self, key: str, source: Source) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = source
            self._bytes += source.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes
