"""The PNG files sclic writes (prepared sources, reconstructions, cached difference maps):
deflated and inflated in strips on every core.

A PNG's pixels are one zlib stream, but that stream may be built from independent pieces. Rows
go in strips of :data:`STRIP_ROWS`; a strip's first row uses PNG's Sub filter (each byte minus
its left neighbour) and the others the Up filter (each byte minus the one above), so a strip
depends on no other strip and both filters undo as running sums over whole rows or columns,
which numpy does without a per-pixel loop. Each strip is deflated alone and ends in a full
flush, which empties the compressor's window, so the pieces inflate independently; they join
into one valid zlib stream. A private chunk, ``scLS``, records the strip height and each
piece's length. Its name marks it ancillary (decoders that do not know it skip it), private and
unsafe to copy: it describes the pixel data, so an editor that rewrites the pixels must drop
it.

Any PNG decoder reads these files. :func:`decode` reads them strip by strip on every core (at
2304 × 1536 on two cores, 13 ms against 33 ms through libvips) and hands every other PNG, and
any file whose chunks, checksums or lengths do not add up, to libvips.

Strips are a fixed number of rows, never one per core, so the same pixels give the same bytes
whatever the number of cores; across zlib-ng versions or CPU architectures the bytes may differ
(zlib-ng does not promise otherwise), so its version is recorded with every reconstruction.
"""

from __future__ import annotations

import struct
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import pyvips
from zlib_ng import zlib_ng

from backend.imaging.cores import usable_cores

STRIP_ROWS = 64
# Huffman coding alone, without LZ77 matching: filtered photographs and reconstructions hold
# few long repeats, so on them this measured within a few per cent of zlib level 2's size
# (smaller on some reconstructions) in half the time or less. Flat areas cost at least a bit
# per byte.
STRATEGY = zlib_ng.Z_HUFFMAN_ONLY
STRIPS_CHUNK = b"scLS"
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SUB, _UP = 1, 2  # PNG filter types
# zlib header: a 32 KiB window, compression marked fast; CMF·256 + FLG is a multiple of 31.
_ZLIB_HEADER = b"\x78\x5e"
_CHUNK_HEAD = struct.Struct(">I4s")
_IHDR = struct.Struct(">IIBBBBB")
# IHDR after the size: 8 bits, truecolour, deflate, adaptive filtering, no interlace.
_RGB8 = (8, 2, 0, 0, 0)
_STRIPS_HEAD = struct.Struct(">II")
_LAYOUT = (b"IHDR", STRIPS_CHUNK, b"IDAT", b"IEND")
# An empty stored block (what a full flush writes) ends in these bytes ...
_FULL_FLUSH_END = b"\x00\x00\xff\xff"
# ... and this is an empty final block with fixed codes.
_EMPTY_FINAL_BLOCK = b"\x03\x00"
# Files with more pixel bytes (a 9 458 px square) are left to libvips and its limits: a few
# megabytes of crafted deflate data must not claim gigabytes here.
_MAX_FAST_BYTES = 1 << 28


class PngError(ValueError):
    """The bytes are not a PNG that libvips can read as 8-bit RGB."""


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(usable_cores(), thread_name_prefix="sclic-png")


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib_ng.crc32(data, zlib_ng.crc32(kind))
    return _CHUNK_HEAD.pack(len(data), kind) + data + struct.pack(">I", crc)


def _filtered(rows: np.ndarray, start: int, stop: int) -> bytes:
    """Rows ``start:stop`` of ``[H, W·3]`` bytes, filtered: Sub for the strip's first row, Up
    for the others; each row led by its filter-type byte."""
    current = rows[start:stop]
    out = np.empty((current.shape[0], current.shape[1] + 1), np.uint8)
    out[0, 0] = _SUB
    out[1:, 0] = _UP
    out[0, 1:4] = current[0, :3]
    np.subtract(current[0, 3:], current[0, :-3], out=out[0, 4:])
    np.subtract(current[1:], current[:-1], out=out[1:, 1:])
    return out.tobytes()


def _deflated(rows: np.ndarray, start: int, stop: int, last: bool) -> tuple[bytes, bytes]:
    raw = _filtered(rows, start, stop)
    deflate = zlib_ng.compressobj(1, zlib_ng.DEFLATED, -15, 8, STRATEGY)
    packed = deflate.compress(raw) + deflate.flush(
        zlib_ng.Z_FINISH if last else zlib_ng.Z_FULL_FLUSH
    )
    return raw, packed


def encode(rgb: np.ndarray) -> bytes:
    """``uint8 [H, W, 3]`` → PNG bytes without metadata (same pixels, same bytes)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f"expected a non-empty uint8 [H, W, 3] array, got {rgb.dtype} {rgb.shape}")
    height, width = rgb.shape[:2]
    rows = np.ascontiguousarray(rgb).reshape(height, width * 3)
    starts = range(0, height, STRIP_ROWS)
    pieces = list(
        _pool().map(
            lambda start: _deflated(
                rows, start, min(start + STRIP_ROWS, height), start == starts[-1]
            ),
            starts,
        )
    )
    adler = 1
    for raw, _ in pieces:
        adler = zlib_ng.adler32(raw, adler)
    stream = b"".join([_ZLIB_HEADER, *(packed for _, packed in pieces), struct.pack(">I", adler)])
    strips = _STRIPS_HEAD.pack(STRIP_ROWS, len(pieces)) + b"".join(
        struct.pack(">I", len(packed)) for _, packed in pieces
    )
    return b"".join(
        [
            _SIGNATURE,
            _chunk(b"IHDR", _IHDR.pack(width, height, *_RGB8)),
            _chunk(STRIPS_CHUNK, strips),
            _chunk(b"IDAT", stream),
            _chunk(b"IEND", b""),
        ]
    )


class _NotStrips(Exception):
    """Not a file this module wrote, or not intact: libvips reads it or says what is wrong."""


def _chunks(data: bytes) -> dict[bytes, bytes]:
    """The chunks of a file :func:`encode` wrote, by type: exactly IHDR, scLS, IDAT and IEND in
    that order, CRCs checked."""
    if not data.startswith(_SIGNATURE):
        raise _NotStrips
    found: dict[bytes, bytes] = {}
    at = len(_SIGNATURE)
    for expected_kind in _LAYOUT:
        if at + _CHUNK_HEAD.size > len(data):
            raise _NotStrips
        length, kind = _CHUNK_HEAD.unpack_from(data, at)
        body_at, end = at + _CHUNK_HEAD.size, at + _CHUNK_HEAD.size + length + 4
        if kind != expected_kind or end > len(data):
            raise _NotStrips
        body = data[body_at : body_at + length]
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib_ng.crc32(body, zlib_ng.crc32(kind)) != crc:
            raise _NotStrips
        found[kind] = body
        at = end
    if at != len(data) or found[b"IEND"]:
        raise _NotStrips
    return found


def _decode_strips(data: bytes) -> np.ndarray:
    chunks = _chunks(data)
    if len(chunks[b"IHDR"]) != _IHDR.size:
        raise _NotStrips
    width, height, depth, colour, *methods = _IHDR.unpack(chunks[b"IHDR"])
    row_bytes = width * 3
    if (depth, colour, *methods) != _RGB8 or not 0 < height * row_bytes <= _MAX_FAST_BYTES:
        raise _NotStrips
    strips = chunks[STRIPS_CHUNK]
    if len(strips) < _STRIPS_HEAD.size:
        raise _NotStrips
    strip_rows, count = _STRIPS_HEAD.unpack_from(strips)
    if strip_rows != STRIP_ROWS or count != -(-height // strip_rows):
        raise _NotStrips
    if len(strips) != _STRIPS_HEAD.size + 4 * count:
        raise _NotStrips
    lengths = struct.unpack_from(f">{count}I", strips, _STRIPS_HEAD.size)
    stream = chunks[b"IDAT"]
    if stream[:2] != _ZLIB_HEADER or len(stream) != 2 + sum(lengths) + 4:
        raise _NotStrips
    offsets = np.concatenate([[2], 2 + np.cumsum(lengths)]).tolist()
    pixels = np.empty((height, row_bytes), np.uint8)

    def inflate(index: int) -> bytes:
        start = index * strip_rows
        rows = min(strip_rows, height - start)
        expected = rows * (row_bytes + 1)
        piece = stream[offsets[index] : offsets[index + 1]]
        if index < count - 1:
            # A piece must end where its full flush ended a block; closing it with an empty
            # final block then ends the stream exactly, which a piece cut inside a block cannot.
            if not piece.endswith(_FULL_FLUSH_END):
                raise _NotStrips
            piece += _EMPTY_FINAL_BLOCK
        inflater = zlib_ng.decompressobj(-15)
        try:
            # Never more than one byte past the strip's size, whatever the piece holds.
            raw = inflater.decompress(piece, expected + 1)
        except zlib_ng.error as exc:  # type: ignore[misc]  # (the stub types it as an instance)
            raise _NotStrips from exc
        if len(raw) != expected or inflater.unconsumed_tail or inflater.unused_data:
            raise _NotStrips
        if not inflater.eof:
            raise _NotStrips
        filtered = np.frombuffer(raw, np.uint8).reshape(rows, row_bytes + 1)
        if filtered[0, 0] != _SUB or (filtered[1:, 0] != _UP).any():
            raise _NotStrips
        strip = pixels[start : start + rows]
        np.cumsum(
            filtered[0, 1:].reshape(width, 3),
            axis=0,
            dtype=np.uint8,
            out=strip[0].reshape(width, 3),
        )
        # Row by row: each addition runs along a whole row, where cumsum down the columns
        # strides (measured: 8 times slower on a 64 × 6912 strip).
        for row in range(1, rows):
            np.add(filtered[row, 1:], strip[row - 1], out=strip[row])
        return raw

    adler = 1
    for raw in _pool().map(inflate, range(count)):
        adler = zlib_ng.adler32(raw, adler)
    if struct.pack(">I", adler) != stream[-4:]:
        raise _NotStrips
    return pixels.reshape(height, width, 3)


def decode_strips(data: bytes) -> np.ndarray | None:
    """The pixels of a file :func:`encode` wrote, decoded on every core; None for any other
    PNG or a file whose chunks, checksums or lengths do not add up (let libvips judge it)."""
    try:
        return _decode_strips(data)
    except _NotStrips:
        return None


def decode(data: bytes) -> np.ndarray:
    """PNG bytes → ``uint8 [H, W, 3]``: strip-parallel for files :func:`encode` wrote, through
    libvips for any other image. Raises :class:`PngError` for what libvips cannot read as 8-bit
    RGB."""
    pixels = decode_strips(data)
    if pixels is not None:
        return pixels
    try:
        image = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="error")
        if image.bands != 3 or image.format != "uchar":
            raise PngError(f"{image.bands} band(s) of {image.format}, expected 8-bit RGB")
        return np.asarray(image.numpy())
    except pyvips.Error as exc:
        raise PngError(f"not a readable PNG ({exc.message.strip()})") from exc
