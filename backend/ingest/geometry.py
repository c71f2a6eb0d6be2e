"""Output sizes of prepared images: optional scale, centre crop, bounded downscale.

Paper, section 3.1 and appendix 1.1: images were centre-cropped to the largest multiples of
16 pixels (every codec's input constraint) and downscaled to at most 2304 pixels per side (GPU
memory); RAISE images were first resized to 40 %. The steps run in that order, each one with its
number as a parameter.

Downscaling must keep both sides multiples of ``multiple``, which a single uniform scale factor
can rarely do (4000×2992 has sides 250 and 187 multiples of 16, and no common factor). The rule
chosen: the longer side becomes the largest multiple that fits ``max_side``, and the shorter
side the multiple nearest to its exactly proportional length. This keeps as many pixels as the
limits allow and changes the aspect ratio by at most half a multiple on the shorter side (8 px
of 1728, under 0.5 %), far below what a viewer notices; cropping instead would discard image
content the labelers might need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Geometry:
    """Sizes through the three steps; ``crop`` is (left, top, width, height) after scaling."""

    source: tuple[int, int]
    scaled: tuple[int, int]
    crop: tuple[int, int, int, int]
    output: tuple[int, int]

    @property
    def resized(self) -> bool:
        """True when the final downscale changes the cropped size."""
        return self.output != self.crop[2:]


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def scaled_size(width: int, height: int, scale: float | None) -> tuple[int, int]:
    """Size after the per-dataset scale (RAISE: 0.4), rounded half up, at least one pixel."""
    if scale is None:
        return width, height
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    return max(1, _round_half_up(width * scale)), max(1, _round_half_up(height * scale))


def centre_crop(width: int, height: int, multiple: int) -> tuple[int, int, int, int]:
    """The centred box whose sides are the largest multiples of ``multiple`` that fit.

    An odd surplus leaves the extra pixel on the right or bottom.
    """
    crop_w = width - width % multiple
    crop_h = height - height % multiple
    return (width - crop_w) // 2, (height - crop_h) // 2, crop_w, crop_h


def fit_size(width: int, height: int, multiple: int, max_side: int) -> tuple[int, int]:
    """Downscaled size with both sides multiples of ``multiple`` and at most ``max_side``.

    Sizes that already fit are returned unchanged (no resampling, no upscaling).
    """
    if width <= max_side and height <= max_side:
        return width, height
    limit = max_side - max_side % multiple
    if width >= height:
        short = max(1, _round_half_up(height * limit / width / multiple)) * multiple
        return limit, min(short, limit)
    short = max(1, _round_half_up(width * limit / height / multiple)) * multiple
    return min(short, limit), limit


def plan_geometry(
    width: int,
    height: int,
    *,
    scale: float | None = None,
    multiple: int = 16,
    max_side: int = 2304,
) -> Geometry | None:
    """All sizes for preparing a ``width``×``height`` image, or None when it is too small.

    Too small means a side shorter than ``multiple`` after scaling: nothing would remain
    after the crop.
    """
    if multiple < 1:
        raise ValueError(f"multiple must be positive, got {multiple}")
    if max_side < multiple:
        raise ValueError(f"max_side {max_side} is smaller than multiple {multiple}")
    scaled = scaled_size(width, height, scale)
    crop = centre_crop(*scaled, multiple)
    if crop[2] == 0 or crop[3] == 0:
        return None
    output = fit_size(crop[2], crop[3], multiple, max_side)
    return Geometry(source=(width, height), scaled=scaled, crop=crop, output=output)
