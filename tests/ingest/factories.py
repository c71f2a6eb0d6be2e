"""Small synthetic source files for ingest tests, built in memory."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import numpy as np
import pyvips
import tifffile
from PIL import Image


def pixels(width: int, height: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """Random 8-bit pixels: every position differs, so crops and shifts are detectable."""
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def encode(array: np.ndarray, fmt: str, mode: str | None = None, **options: Any) -> bytes:
    """Pillow-encoded bytes of ``array`` in ``fmt`` (PNG, JPEG, TIFF, GIF)."""
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, fmt, **options)
    return buffer.getvalue()


def png16(array16: np.ndarray) -> bytes:
    """A 16-bit PNG (RGB or grayscale), which Pillow cannot write."""
    interpretation = "rgb16" if array16.ndim == 3 else "grey16"
    return pyvips.Image.new_from_array(array16, interpretation=interpretation).pngsave_buffer()


def tiff(array: np.ndarray, **options: Any) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **options)
    return buffer.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid-looking PNG whose header claims ``width``×``height`` RGB pixels, in a few KiB."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * (1 + 3 * width) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """``data`` (a baseline JPEG) with its frame header rewritten to claim another size."""
    start = data.index(b"\xff\xc0")
    return data[: start + 5] + struct.pack(">HH", height, width) + data[start + 9 :]


def damage_middle(data: bytes, length: int = 200) -> bytes:
    """Flip bits in ``length`` bytes in the middle of the file (keeps its size)."""
    damaged = bytearray(data)
    middle = len(data) // 2
    for i in range(middle, middle + length):
        damaged[i] ^= 0x5A
    return bytes(damaged)
