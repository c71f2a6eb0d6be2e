"""Inputs of the agreement measure and the grid units they are counted on.

The paper measures agreement on bounding boxes by cutting every image into an n × n grid of
equal tiles and asking, per tile, which labelers marked it (section 3.2.4, Table 1). Tiles have
real-valued boundaries: tile (i, j) covers x in [i·W/n, (i+1)·W/n) and y in [j·H/n, (j+1)·H/n),
and its row-major unit index is j·n + i, so images whose sides are not multiples of n are still
cut into tiles of exactly equal area.

Two rules decide which unit a box marks:

* ``paper``: the unit that holds strictly more than half of the box's area. This is the paper's
  rule ("the tile overlaps with more than 50% of at least one bounding box"). At most one tile
  can hold more than half, so a box marks at most one unit; a box split evenly over two or four
  tiles marks none.
* ``largest-share``: the unit that holds the largest part of the box, ties going to the lowest
  row-major index. Every box then marks exactly one unit, which is what the paper's sentence
  "ensuring that every annotation is assigned to exactly one unit" intends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

DEFAULT_GRIDS: tuple[int, ...] = (1, 2, 4, 8, 16)
"""Grid sizes n of the paper's Table 1 rows (1, 4, 16, 64 and 256 units per image)."""


class AgreementInputError(ValueError):
    """Input that the agreement measure cannot use; the message says where and why."""


class UnitRule(StrEnum):
    """How a box is assigned to a grid unit (see the module docstring)."""

    PAPER = "paper"
    LARGEST_SHARE = "largest-share"


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """One annotated image: its identifier and its size in pixels."""

    image: str
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Box:
    """One bounding box drawn by ``labeler`` on ``image``: top-left corner and size in pixels."""

    image: str
    labeler: str
    x: float
    y: float
    w: float
    h: float


def parse_rule(rule: str | UnitRule) -> UnitRule:
    """The :class:`UnitRule` named by ``rule``; unknown names raise :class:`AgreementInputError`."""
    try:
        return UnitRule(rule)
    except ValueError:
        names = ", ".join(r.value for r in UnitRule)
        raise AgreementInputError(f"unknown unit rule {rule!r}; use one of {names}") from None


def check_grid(n: int) -> int:
    """``n`` if it is a usable grid size (a positive integer), else :class:`AgreementInputError`."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise AgreementInputError(f"grid size must be a positive integer, got {n!r}")
    return int(n)


def image_problem(width: float, height: float) -> str | None:
    """Why an image of this size cannot be measured, or ``None`` if it can."""
    if not (math.isfinite(width) and math.isfinite(height)):
        return "width and height must be finite numbers"
    if width <= 0 or height <= 0:
        return f"width and height must be positive, got {width:g} × {height:g}"
    return None


def box_problem(x: float, y: float, w: float, h: float, width: float, height: float) -> str | None:
    """Why a box cannot be placed on an image of ``width`` × ``height``, or ``None`` if it can.

    Boxes must have a positive area (their share in a tile is relative to it) and lie inside the
    image, edges included: a box reaching outside would put part of its area in no tile.
    """
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return "x, y, w and h must be finite numbers"
    if w <= 0 or h <= 0:
        return f"box width and height must be positive, got w={w:g}, h={h:g}"
    if x < 0 or y < 0 or x + w > width or y + h > height:
        return (
            f"box (x={x:g}, y={y:g}, w={w:g}, h={h:g}) lies partly outside the image "
            f"({width:g} × {height:g})"
        )
    return None


def tile_rect(width: float, height: float, n: int, unit: int) -> tuple[float, float, float, float]:
    """Bounds ``(x0, y0, x1, y1)`` of row-major ``unit`` in an n × n grid over the image."""
    n = check_grid(n)
    if not 0 <= unit < n * n:
        raise AgreementInputError(f"unit {unit} is not in a {n} × {n} grid")
    j, i = divmod(unit, n)
    return (i * width / n, j * height / n, (i + 1) * width / n, (j + 1) * height / n)


def _axis_overlap(
    start: NDArray[np.float64], size: NDArray[np.float64], extent: NDArray[np.float64], n: int
) -> NDArray[np.float64]:
    """Length of each interval [start, start+size) inside each of the n equal cells of extent."""
    edges = np.arange(n + 1, dtype=np.float64)[None, :] * extent[:, None] / n
    low = np.maximum(start[:, None], edges[:, :-1])
    high = np.minimum((start + size)[:, None], edges[:, 1:])
    overlap: NDArray[np.float64] = np.clip(high - low, 0.0, None)
    return overlap


def box_units(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    w: NDArray[np.float64],
    h: NDArray[np.float64],
    width: NDArray[np.float64],
    height: NDArray[np.float64],
    n: int,
    rule: UnitRule | str = UnitRule.PAPER,
) -> NDArray[np.int64]:
    """Row-major unit index marked by each box in an n × n grid, ``-1`` where it marks none.

    All arguments are arrays over boxes (``width``/``height`` are the sizes of each box's image).
    A box's area in tile (i, j) is the product of its overlap with column i and with row j, so
    the tile with the largest share is the column with the largest x-overlap crossed with the row
    with the largest y-overlap. That keeps the work at O(boxes · n) instead of O(boxes · n²), and
    ``argmax`` returning the first maximum gives the lowest row-major index on ties. Under the
    ``paper`` rule that tile is marked only if it holds strictly more than half the box, compared
    as ``2 · overlap > area`` so that evenly split boxes with pixel coordinates compare exactly.
    """
    rule = parse_rule(rule)
    n = check_grid(n)
    arrays = [np.asarray(a, dtype=np.float64) for a in (x, y, w, h, width, height)]
    x, y, w, h, width, height = arrays
    if x.size == 0:
        return np.empty(0, dtype=np.int64)
    ox = _axis_overlap(x, w, width, n)
    oy = _axis_overlap(y, h, height, n)
    col = np.argmax(ox, axis=1)
    row = np.argmax(oy, axis=1)
    unit: NDArray[np.int64] = (row * n + col).astype(np.int64)
    if rule is UnitRule.PAPER:
        rows = np.arange(x.size)
        inside = ox[rows, col] * oy[rows, row]
        unit[~(2.0 * inside > w * h)] = -1
    return unit
