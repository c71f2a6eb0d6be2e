"""The perceptual colour map for difference images, and its legend.

Labelers in the paper could show the pixelwise difference "in a color map on half of the
screen" (appendix 2.1, Figure 1). We use viridis: perceptually uniform, readable by most
colour-blind people, and dark at zero so that unchanged areas recede.

The 256-entry table is computed here from 33 published viridis control points (every eighth
entry of the reference table, plus the last) by cubic Hermite interpolation in sRGB; it matches
the reference table to within one unit per channel, with no plotting library at run time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import pyvips

_ANCHOR_POSITIONS = (*range(0, 256, 8), 255)
_ANCHORS = (
    "440154 470d60 48186a 482374 472d7b 453781 424086 3e4989 3b528b 375b8d 33638d 2f6b8e "
    "2c728e 297a8e 26828e 23898e 21918c 1f988b 1fa088 22a785 28ae80 32b67a 3fbc73 4ec36b "
    "5ec962 70cf57 84d44b 98d83e addc30 c2df23 d8e219 ece51b fde725"
)

COLORMAP_NAME = "viridis"
DEFAULT_DIFF_GAIN = 2.0
"""Codec errors are mostly small; doubling them spreads typical differences (5 to 60 levels)
over most of the colour map while changes of 128 levels or more saturate at yellow."""


@lru_cache(maxsize=1)
def viridis_lut() -> np.ndarray:
    """The 256 x 3 ``uint8`` colour table: index = scaled difference, row = sRGB colour."""
    xs = np.asarray(_ANCHOR_POSITIONS, dtype=np.float64)
    ys = np.asarray([[int(h[i : i + 2], 16) for i in (0, 2, 4)] for h in _ANCHORS.split()], float)
    slopes = np.empty_like(ys)
    slopes[0] = (ys[1] - ys[0]) / (xs[1] - xs[0])
    slopes[-1] = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    slopes[1:-1] = (ys[2:] - ys[:-2]) / (xs[2:] - xs[:-2])[:, None]
    x = np.arange(256, dtype=np.float64)
    k = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 2)
    h = (xs[k + 1] - xs[k])[:, None]
    t = ((x - xs[k]) / (xs[k + 1] - xs[k]))[:, None]
    t2, t3 = t * t, t * t * t
    values = (
        (2 * t3 - 3 * t2 + 1) * ys[k]
        + (t3 - 2 * t2 + t) * h * slopes[k]
        + (-2 * t3 + 3 * t2) * ys[k + 1]
        + (t3 - t2) * h * slopes[k + 1]
    )
    lut = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    lut.setflags(write=False)
    return lut


def lut_image(gain: float = 1.0) -> pyvips.Image:
    """A 256 x 1 three-band table from raw difference (0..255) straight to colour.

    Folding the gain into the table (entry ``v`` holds colour ``min(255, round(v * gain))``)
    lets the difference map be one ``maplut`` on 8-bit data instead of float arithmetic.
    """
    index = np.minimum(255, np.floor(np.arange(256) * gain + 0.5)).astype(np.intp)
    table = np.ascontiguousarray(viridis_lut()[index].reshape(1, 256, 3))
    return pyvips.Image.new_from_array(table).copy(interpretation="srgb")


@dataclass(frozen=True, slots=True)
class DiffScale:
    """What a legend needs to label the colour bar of a difference image.

    A pixel's value is the largest absolute difference over its R, G and B channels (0 to 255),
    multiplied by ``gain`` and clipped at 255 before colouring. The bottom of the bar is 0; the
    top is ``max_value`` = 255 / gain, and anything larger shows the top colour.
    """

    gain: float
    max_value: float
    colormap: str = COLORMAP_NAME
    reduction: str = "max over RGB of |original - reconstruction|"

    @classmethod
    def for_gain(cls, gain: float) -> DiffScale:
        if gain <= 0:
            raise ValueError("gain must be positive")
        return cls(gain=gain, max_value=round(255 / gain, 2))

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)


def legend_png(height: int = 256, width: int = 16) -> bytes:
    """A vertical colour bar, highest difference at the top, as PNG bytes."""
    if height < 2 or width < 1:
        raise ValueError("legend must be at least 2 pixels high and 1 wide")
    index = np.rint(np.linspace(255, 0, height)).astype(np.intp)
    bar = np.repeat(viridis_lut()[index][:, None, :], width, axis=1)
    image = pyvips.Image.new_from_array(np.ascontiguousarray(bar)).copy(interpretation="srgb")
    return image.pngsave_buffer(compression=9, keep="none")
