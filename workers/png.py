"""PNG files of reconstructions, deflated on every core.

A PNG's pixels are one zlib stream, but that stream may be built from independent pieces: each
strip of rows is filtered (PNG's filters work on raw bytes, so a strip needs no decoded
neighbour) and deflated on its own, ending in a full flush that empties the compressor's window;
the pieces concatenate into one valid stream that any decoder reads. Strips are a fixed number
of rows, never one per core, so the same pixels give the same bytes whatever the number of
cores; across zlib-ng versions or CPU architectures the bytes may differ (zlib-ng does not
promise otherwise), so its version is recorded with every reconstruction. At 2304 × 1536 on
two cores this takes about half the time of libvips's one-thread encoder at the same level, for
files of the same size.
"""

from __future__ import annotations

import struct
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
from zlib_ng import zlib_ng

from workers.cores import usable_cores

STRIP_ROWS = 64
LEVEL = 2
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_AVERAGE = 3  # PNG filter type 3: each byte minus the mean of its left and upper neighbours
# zlib header for a 32 KiB window at a fast level; CMF·256 + FLG is a multiple of 31.
_ZLIB_HEADER = b"\x78\x5e"


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(usable_cores(), thread_name_prefix="sclic-png")


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib_ng.crc32(data, zlib_ng.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _filtered(rows: np.ndarray, start: int, stop: int) -> bytes:
    """Rows ``start:stop`` of ``[H, W·3]`` bytes under the average filter, each led by its
    filter-type byte."""
    current = rows[start:stop]
    upper = np.zeros_like(current)
    if start > 0:
        upper[:] = rows[start - 1 : stop - 1]
    else:
        upper[1:] = current[:-1]
    left = np.zeros_like(current)
    left[:, 3:] = current[:, :-3]
    # floor((left + upper) / 2) without leaving uint8
    mean = np.bitwise_and(left, upper)
    mean += np.right_shift(np.bitwise_xor(left, upper), 1)
    out = np.empty((current.shape[0], current.shape[1] + 1), np.uint8)
    out[:, 0] = _AVERAGE
    np.subtract(current, mean, out=out[:, 1:])
    return out.tobytes()


def _piece(rows: np.ndarray, start: int, stop: int, last: bool) -> tuple[bytes, bytes]:
    raw = _filtered(rows, start, stop)
    deflate = zlib_ng.compressobj(LEVEL, zlib_ng.DEFLATED, -15)
    packed = deflate.compress(raw) + deflate.flush(
        zlib_ng.Z_FINISH if last else zlib_ng.Z_FULL_FLUSH
    )
    return raw, packed


def png_bytes(rgb: np.ndarray) -> bytes:
    """``uint8 [H, W, 3]`` → PNG bytes without metadata (same pixels, same bytes)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f"expected a non-empty uint8 [H, W, 3] array, got {rgb.dtype} {rgb.shape}")
    height, width = rgb.shape[:2]
    rows = np.ascontiguousarray(rgb).reshape(height, width * 3)
    starts = range(0, height, STRIP_ROWS)
    pieces = list(
        _pool().map(
            lambda start: _piece(rows, start, min(start + STRIP_ROWS, height), start == starts[-1]),
            starts,
        )
    )
    adler = 1
    for raw, _ in pieces:
        adler = zlib_ng.adler32(raw, adler)
    stream = b"".join([_ZLIB_HEADER, *(packed for _, packed in pieces), struct.pack(">I", adler)])
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", stream) + _chunk(b"IEND", b"")
