"""Grid units and the two rules that assign boxes to them."""

from __future__ import annotations

import numpy as np
import pytest

from backend.agreement.units import AgreementInputError, UnitRule, box_units, tile_rect


def units_of(
    boxes: list[tuple[float, float, float, float]],
    n: int,
    rule: str,
    width: float = 100.0,
    height: float = 100.0,
) -> list[int]:
    arr = np.asarray(boxes, dtype=float).reshape(-1, 4)
    size = np.ones(len(arr))
    return box_units(
        arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], size * width, size * height, n, rule
    ).tolist()


def reference_units(
    box: tuple[float, float, float, float], width: float, height: float, n: int, rule: str
) -> int:
    """Direct transcription of the rules: area of the box in every tile, tile by tile."""
    x, y, w, h = box
    areas = []
    for unit in range(n * n):
        x0, y0, x1, y1 = tile_rect(width, height, n, unit)
        ox = max(0.0, min(x + w, x1) - max(x, x0))
        oy = max(0.0, min(y + h, y1) - max(y, y0))
        areas.append(ox * oy)
    if rule == "paper":
        hits = [u for u, a in enumerate(areas) if a > 0.5 * w * h]
        return hits[0] if hits else -1
    best = max(areas)
    return areas.index(best)


def test_tile_rect_uses_real_valued_boundaries() -> None:
    assert tile_rect(100, 60, 2, 0) == (0.0, 0.0, 50.0, 30.0)
    assert tile_rect(100, 60, 2, 3) == (50.0, 30.0, 100.0, 60.0)
    # 101 pixels over 4 columns: equal tiles of 25.25 pixels, row-major index j·n + i.
    assert tile_rect(101, 50, 4, 6) == (50.5, 12.5, 75.75, 25.0)
    with pytest.raises(AgreementInputError):
        tile_rect(100, 100, 2, 4)


@pytest.mark.parametrize("rule", ["paper", "largest-share"])
def test_box_inside_one_tile(rule: str) -> None:
    assert units_of([(60, 10, 20, 20), (5, 55, 10, 10)], 2, rule) == [1, 2]
    assert units_of([(60, 10, 20, 20)], 1, rule) == [0]


def test_box_crossing_a_border_goes_to_the_tile_with_most_of_it() -> None:
    # 30 of 40 pixels in the left column: 75 % in unit 0.
    assert units_of([(20, 10, 40, 10)], 2, "paper") == [0]
    assert units_of([(20, 10, 40, 10)], 2, "largest-share") == [0]
    # 60 % right and 60 % bottom: only 36 % in unit 3, so the paper rule marks nothing.
    assert units_of([(46, 46, 10, 10)], 2, "paper") == [-1]
    assert units_of([(46, 46, 10, 10)], 2, "largest-share") == [3]
    # 80 % right, 90 % bottom: 72 % in unit 3.
    assert units_of([(48, 49, 10, 10)], 2, "paper") == [3]


def test_evenly_split_boxes() -> None:
    halves = [(40, 10, 20, 10), (10, 40, 10, 20)]
    quarters = [(40, 40, 20, 20)]
    assert units_of(halves, 2, "paper") == [-1, -1]
    assert units_of(quarters, 2, "paper") == [-1]
    # Ties go to the lowest row-major index.
    assert units_of(halves, 2, "largest-share") == [0, 0]
    assert units_of(quarters, 2, "largest-share") == [0]
    # Over four columns with the two middle ones tied: the lower index wins.
    assert units_of([(20, 0, 60, 10)], 4, "largest-share") == [1]


@pytest.mark.parametrize("rule", ["paper", "largest-share"])
def test_boxes_on_the_image_edge(rule: str) -> None:
    edge_boxes = [(0, 0, 10, 10), (90, 90, 10, 10), (0, 90, 100, 10), (0, 0, 100, 100)]
    expected = {"paper": [0, 15, -1, -1], "largest-share": [0, 15, 12, 0]}
    assert units_of(edge_boxes, 4, rule) == expected[rule]
    # The whole image as one unit is always marked.
    assert units_of(edge_boxes, 1, rule) == [0, 0, 0, 0]


def test_paper_rule_is_strictly_more_than_half() -> None:
    # 50 % in unit 0 is not enough; 50.5 % is.
    assert units_of([(30, 0, 40, 10)], 2, "paper") == [-1]
    assert units_of([(29.8, 0, 40, 10)], 2, "paper") == [0]


def test_uneven_image_sizes() -> None:
    # 101 × 77 image, n = 4: column edges at 25.25, 50.5, 75.75; row edges at 19.25, 38.5, 57.75.
    assert units_of([(25.25, 19.25, 25.25, 19.25)], 4, "paper", 101, 77) == [5]
    assert units_of([(25.0, 19.0, 25.25, 19.25)], 4, "paper", 101, 77) == [5]
    assert units_of([(75.75, 57.75, 25.25, 19.25)], 4, "paper", 101, 77) == [15]


@pytest.mark.parametrize("rule", list(UnitRule))
def test_matches_tile_by_tile_reference(rule: UnitRule) -> None:
    rng = np.random.default_rng(99)
    width, height = 317.0, 211.0
    boxes = []
    for _ in range(400):
        w = float(rng.integers(1, 150))
        h = float(rng.integers(1, 150))
        x = float(rng.integers(0, int(width - w) + 1))
        y = float(rng.integers(0, int(height - h) + 1))
        boxes.append((x, y, w, h))
    for n in (1, 2, 3, 4, 8, 16):
        got = units_of(boxes, n, rule, width, height)
        assert got == [reference_units(b, width, height, n, rule) for b in boxes]


def test_rejects_unknown_rule_and_grid() -> None:
    with pytest.raises(AgreementInputError, match="unknown unit rule"):
        units_of([(0, 0, 1, 1)], 2, "majority")
    with pytest.raises(AgreementInputError, match="grid size"):
        units_of([(0, 0, 1, 1)], 0, "paper")
