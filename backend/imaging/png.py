"""The PNG files sclic writes (prepared sources, reconstructions, cached difference maps): plain
8-bit RGB PNGs, written and read by libvips, that any tool reads.

Prepared sources and reconstructions are named by the SHA-1 of these bytes (paper, appendix
1.3), so the writer's settings are fixed here and no metadata (which could hold a date) is
written: the same pixels give the same bytes with the same libvips, libpng and zlib. Other
versions may compress differently, which changes a name but never a pixel.
"""

from __future__ import annotations

import numpy as np
import pyvips

# PNG's Up filter (each byte minus the one above) suits photographs and their reconstructions,
# whose rows are alike: files about a third smaller than unfiltered ones, written as fast.
_FILTER = "up"


class PngError(ValueError):
    """The bytes are not a PNG that libvips can read as 8-bit RGB."""


def encode(rgb: np.ndarray) -> bytes:
    """``uint8 [H, W, 3]`` → PNG bytes without metadata (same pixels, same bytes)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f"expected a non-empty uint8 [H, W, 3] array, got {rgb.dtype} {rgb.shape}")
    height, width = rgb.shape[:2]
    pixels = np.ascontiguousarray(rgb)
    image = pyvips.Image.new_from_memory(pixels.data, width, height, 3, "uchar")
    data: bytes = image.copy(interpretation="srgb").pngsave_buffer(filter=_FILTER, keep="none")
    return data


def decode(data: bytes) -> np.ndarray:
    """PNG bytes → ``uint8 [H, W, 3]``; raises :class:`PngError` for anything libvips cannot
    read, in full, as 8-bit RGB (damaged files included)."""
    try:
        image = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="error")
        if image.bands != 3 or image.format != "uchar":
            raise PngError(f"{image.bands} band(s) of {image.format}, expected 8-bit RGB")
        return np.asarray(image.numpy())
    except pyvips.Error as exc:
        raise PngError(f"not a readable PNG ({exc.message.strip()})") from exc
