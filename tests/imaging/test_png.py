"""The PNGs sclic writes: standard files other tools read, exact pixels, the same bytes for the
same pixels, no metadata; and a clear error for what is not 8-bit RGB."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import pyvips
from PIL import Image

from backend.imaging.png import PngError, decode, encode


def noisy(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, width, dtype=np.float64)[None, :, None]
    image = ramp + rng.normal(0, 20, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def chunk_kinds(data: bytes) -> list[bytes]:
    kinds, at = [], 8
    while at < len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        kinds.append(kind)
        at += 12 + length
    return kinds


@pytest.mark.parametrize(("height", "width"), [(1, 1), (1, 7), (9, 1), (64, 33), (191, 130)])
def test_pixels_come_back_exactly_in_pillow_and_libvips(height: int, width: int) -> None:
    rgb = noisy(height, width)
    data = encode(rgb)
    with Image.open(io.BytesIO(data)) as decoded:
        decoded.load()  # checks every chunk's CRC and the zlib stream's Adler-32
        assert decoded.mode == "RGB" and decoded.size == (width, height)
        assert np.array_equal(np.asarray(decoded), rgb)
    assert np.array_equal(decode(data), rgb)


def test_only_the_chunks_a_plain_png_needs() -> None:
    """No text, time, profile or private chunks: nothing that varies between two writes of the
    same pixels goes into the blind name's hash (libvips' fixed pixel size, pHYs, may stay)."""
    kinds = chunk_kinds(encode(noisy(40, 30)))
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert set(kinds) <= {b"IHDR", b"pHYs", b"IDAT", b"IEND"}


def test_extreme_values_survive_the_filter() -> None:
    rgb = np.zeros((131, 41, 3), np.uint8)
    rgb[::2] = 255
    rgb[:, ::3, 1] = 255
    assert np.array_equal(decode(encode(rgb)), rgb)


def test_same_pixels_same_bytes() -> None:
    rgb = noisy(200, 97, seed=3)
    assert encode(rgb.copy()) == encode(rgb)
    assert encode(rgb) != encode(noisy(200, 97, seed=4))


def test_a_non_contiguous_view_is_written_as_its_pixels() -> None:
    rgb = noisy(70, 90)
    view = rgb[5:60:2, 10:80]
    with Image.open(io.BytesIO(encode(view))) as decoded:
        assert np.array_equal(np.asarray(decoded), view)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4), np.uint8),
        np.zeros((4, 4, 4), np.uint8),
        np.zeros((4, 4, 3), np.float32),
        np.zeros((0, 4, 3), np.uint8),
    ],
)
def test_refuses_what_is_not_8_bit_rgb(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8"):
        encode(bad)


def test_pngs_other_tools_wrote_are_read() -> None:
    rgb = noisy(150, 61, seed=1)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    assert np.array_equal(decode(buffer.getvalue()), rgb)


@pytest.mark.parametrize("damage", ["flipped pixel byte", "truncated", "not a png", "empty"])
def test_damaged_files_get_a_clear_error(damage: str) -> None:
    data = encode(noisy(100, 50))
    idat_at = data.index(b"IDAT") + 4
    broken = {
        "flipped pixel byte": data[: idat_at + 40]
        + bytes([data[idat_at + 40] ^ 0xFF])
        + data[idat_at + 41 :],
        "truncated": data[: len(data) // 2],
        "not a png": b"GIF89a" + bytes(100),
        "empty": b"",
    }[damage]
    with pytest.raises(PngError, match="not a readable PNG"):
        decode(broken)


def test_grey_and_16_bit_pngs_are_refused() -> None:
    grey = pyvips.Image.new_from_array(np.zeros((20, 20), np.uint8)).pngsave_buffer()
    with pytest.raises(PngError, match="1 band"):
        decode(grey)
    deep = pyvips.Image.new_from_array(np.zeros((20, 20, 3), np.uint16)).copy(
        interpretation="rgb16"
    )
    with pytest.raises(PngError, match="expected 8-bit RGB"):
        decode(deep.pngsave_buffer())
