"""Reconstruction PNGs deflated in strips: valid files, exact pixels, the same bytes always."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import pyvips
from PIL import Image

from workers import png
from workers.png import STRIP_ROWS, png_bytes


def noisy(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, width, dtype=np.float64)[None, :, None]
    image = ramp + rng.normal(0, 20, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("height", "width"),
    [(1, 1), (1, 7), (9, 1), (STRIP_ROWS, 33), (STRIP_ROWS + 1, 33), (3 * STRIP_ROWS - 1, 130)],
)
def test_pixels_come_back_exactly_in_pillow_and_libvips(height: int, width: int) -> None:
    rgb = noisy(height, width)
    data = png_bytes(rgb)
    with Image.open(io.BytesIO(data)) as decoded:
        decoded.load()  # checks every chunk's CRC and the zlib stream's Adler-32
        assert decoded.mode == "RGB" and decoded.size == (width, height)
        assert np.array_equal(np.asarray(decoded), rgb)
    assert np.array_equal(pyvips.Image.new_from_buffer(data, "", fail=True).numpy(), rgb)


def test_extreme_values_survive_the_filter() -> None:
    rgb = np.zeros((2 * STRIP_ROWS + 3, 41, 3), np.uint8)
    rgb[::2] = 255
    rgb[:, ::3, 1] = 255
    with Image.open(io.BytesIO(png_bytes(rgb))) as decoded:
        assert np.array_equal(np.asarray(decoded), rgb)


def test_same_bytes_whatever_the_number_of_threads(monkeypatch) -> None:
    rgb = noisy(5 * STRIP_ROWS + 17, 97, seed=3)
    many = png_bytes(rgb)
    assert png_bytes(rgb.copy()) == many
    monkeypatch.setattr(png, "_pool", lambda: ThreadPoolExecutor(1))
    assert png_bytes(rgb) == many


def test_a_non_contiguous_view_is_written_as_its_pixels() -> None:
    rgb = noisy(70, 90)
    view = rgb[5:60:2, 10:80]
    with Image.open(io.BytesIO(png_bytes(view))) as decoded:
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
        png_bytes(bad)
