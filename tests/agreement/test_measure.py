"""The agreement measure: categories, intervals, missing values and the picture view."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest

from backend.agreement.measure import (
    GridResult,
    UnitCategory,
    compute_agreement,
    proportion_interval,
    unit_markings,
)
from backend.agreement.units import AgreementInputError, Box, ImageSpec

LABELERS = ["R", "G", "B"]
IMAGE = ImageSpec("fig5", 200, 100)


def figure5_boxes() -> list[Box]:
    """Appendix Figure 5 at n = 2: R, G, B in the top-right unit, R and B in the bottom-left."""
    boxes = [Box("fig5", name, 120 + 10 * k, 10, 30, 20) for k, name in enumerate(LABELERS)]
    boxes += [Box("fig5", "R", 10, 60, 40, 30), Box("fig5", "B", 50, 70, 20, 20)]
    # A second box of R in the same unit does not count twice.
    boxes.append(Box("fig5", "R", 20, 55, 10, 10))
    return boxes


def by_n(results: list[GridResult]) -> dict[int, GridResult]:
    return {r.n: r for r in results}


def test_worked_example_figure5() -> None:
    result = compute_agreement([IMAGE], figure5_boxes(), LABELERS, grids=[2], bootstrap=200)[0]
    assert result.units == 4
    assert result.n_units == 4
    assert result.c_neg.value == pytest.approx(50.0)
    assert result.c_pos.value == pytest.approx(25.0)
    assert result.p_pos.value == pytest.approx(25.0)
    assert result.p_neg.value == pytest.approx(0.0)
    assert result.c_total.value == pytest.approx(75.0)
    assert round(result.alpha.value, 3) == 0.686
    data = result.to_dict()
    assert data["alpha"]["value"] == pytest.approx(0.6857142857)
    assert data["c_neg"]["value"] == pytest.approx(50.0)
    assert data["seed"] == 0 and data["bootstrap"] == 200


def test_worked_example_picture_view() -> None:
    view = unit_markings(IMAGE, figure5_boxes(), LABELERS, n=2)
    assert view.marks.tolist() == [
        [False, True, True, False],
        [False, True, False, False],
        [False, True, True, False],
    ]
    assert view.categories == (
        UnitCategory.C_NEG,
        UnitCategory.C_POS,
        UnitCategory.P_POS,
        UnitCategory.C_NEG,
    )
    assert view.tile(2) == (0.0, 50.0, 100.0, 100.0)
    assert view.present.tolist() == [True, True, True]


def test_interval_formula() -> None:
    interval = proportion_interval(30, 120)
    half = 1.96 * math.sqrt(0.25 * 0.75 / 120)
    assert interval.value == pytest.approx(25.0)
    assert interval.low == pytest.approx(100 * (0.25 - half))
    assert interval.high == pytest.approx(100 * (0.25 + half))
    # Clipped to [0, 100] for small samples.
    assert proportion_interval(1, 4).low == 0.0
    assert proportion_interval(3, 4).high == 100.0
    assert proportion_interval(0, 10).high == 0.0
    assert math.isnan(proportion_interval(0, 0).value)


def test_categories_and_intervals_on_the_grid() -> None:
    result = compute_agreement([IMAGE], figure5_boxes(), LABELERS, grids=[2], bootstrap=0)[0]
    expected = proportion_interval(3, 4)
    assert (result.c_total.low, result.c_total.high) == (expected.low, expected.high)
    assert result.c_neg.low == pytest.approx(100 * (0.5 - 1.96 * math.sqrt(0.25 / 4)))
    assert math.isnan(result.alpha.low) and result.to_dict()["alpha"]["low"] is None


def test_empty_images_count_as_complete_negatives() -> None:
    images = [IMAGE, ImageSpec("empty", 64, 64)]
    result = compute_agreement(images, figure5_boxes(), LABELERS, grids=[2], bootstrap=0)[0]
    assert result.n_units == 8
    assert result.c_neg.value == pytest.approx(75.0)
    assert result.c_pos.value == pytest.approx(12.5)
    only_empty = compute_agreement([images[1]], [], LABELERS, grids=[1, 4], bootstrap=50)
    for r in only_empty:
        assert r.c_neg.value == 100.0 and r.c_total.value == 100.0
        assert math.isnan(r.alpha.value)


def test_partial_negative_and_two_labelers() -> None:
    boxes = [Box("fig5", "R", 10, 10, 20, 20)]
    result = compute_agreement([IMAGE], boxes, ["R", "G", "B"], grids=[1], bootstrap=0)[0]
    assert result.p_neg.value == 100.0 and result.p_pos.value == 0.0
    # With k = 2, one mark of two is a partial negative (m ≤ k/2).
    result = compute_agreement([IMAGE], boxes, ["R", "G"], grids=[1], bootstrap=0)[0]
    assert result.p_neg.value == 100.0


def test_rules_differ_on_evenly_split_boxes() -> None:
    image = ImageSpec("a", 100, 100)
    boxes = [Box("a", name, 40, 40, 20, 20) for name in LABELERS]
    paper = compute_agreement([image], boxes, LABELERS, grids=[1, 2], bootstrap=0)
    share = compute_agreement(
        [image], boxes, LABELERS, grids=[1, 2], rule="largest-share", bootstrap=0
    )
    assert by_n(paper)[1].c_pos.value == 100.0
    assert by_n(paper)[2].c_neg.value == 100.0
    assert by_n(share)[2].c_pos.value == 25.0 and by_n(share)[2].c_neg.value == 75.0
    assert by_n(share)[2].rule.value == "largest-share"


def random_study(
    rng: np.random.Generator, n_images: int, labelers: list[str]
) -> tuple[list[ImageSpec], list[Box]]:
    images = [ImageSpec(f"img{i}", 256, 192) for i in range(n_images)]
    boxes = []
    for spec in images:
        for name in labelers:
            for _ in range(int(rng.integers(0, 4))):
                w, h = (float(v) for v in rng.integers(4, 80, 2))
                x = float(rng.integers(0, int(spec.width - w)))
                y = float(rng.integers(0, int(spec.height - h)))
                boxes.append(Box(spec.image, name, x, y, w, h))
    return images, boxes


def test_alpha_matches_krippendorff_on_the_unit_matrix_with_missing_values() -> None:
    rng = np.random.default_rng(2024)
    labelers = ["A", "B", "C", "D"]
    images, boxes = random_study(rng, 12, labelers)
    missing = {("img0", "A"), ("img3", "B"), ("img3", "C"), ("img3", "D"), ("img7", "D")}
    boxes = [b for b in boxes if (b.image, b.labeler) not in missing]
    n = 4
    rows = []
    for name in labelers:
        row = []
        for spec in images:
            gone = [who for img, who in missing if img == spec.image]
            view = unit_markings(spec, boxes, labelers, n, missing=gone)
            idx = view.labelers.index(name)
            values = view.marks[idx].astype(float)
            if not view.present[idx]:
                values[:] = np.nan
            row.append(values)
        rows.append(np.concatenate(row))
    data = np.vstack(rows)
    result = compute_agreement(images, boxes, labelers, grids=[n], bootstrap=0, missing=missing)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert result[0].alpha.value == pytest.approx(expected, rel=1e-9)
    # img3 has one labeler left: its 16 units are not counted.
    assert result[0].n_units == (len(images) - 1) * n * n


def test_missing_values_change_k() -> None:
    image = ImageSpec("a", 100, 100)
    boxes = [Box("a", "R", 0, 0, 10, 10), Box("a", "G", 0, 0, 10, 10)]
    result = compute_agreement(
        [image], boxes, LABELERS, grids=[1], bootstrap=0, missing={("a", "B")}
    )[0]
    assert result.c_pos.value == 100.0
    view = unit_markings(image, boxes, LABELERS, 1, missing=["B"])
    assert view.present.tolist() == [True, True, False]
    assert view.categories == (UnitCategory.C_POS,)
    only_one = unit_markings(image, boxes[:1], LABELERS, 1, missing=["B", "G"])
    assert only_one.categories == (None,)
    with pytest.raises(AgreementInputError, match="no unit"):
        compute_agreement([image], [], ["R", "G"], grids=[1], missing={("a", "G")})


def test_bootstrap_interval_is_recorded_and_reproducible() -> None:
    rng = np.random.default_rng(8)
    images, boxes = random_study(rng, 30, LABELERS)
    first = compute_agreement(images, boxes, LABELERS, grids=[1, 4], bootstrap=300, seed=5)
    again = compute_agreement(images, boxes, LABELERS, grids=[4], bootstrap=300, seed=5)
    other = compute_agreement(images, boxes, LABELERS, grids=[4], bootstrap=300, seed=6)
    assert by_n(first)[4].alpha == again[0].alpha
    assert by_n(first)[4].alpha != other[0].alpha
    for r in first:
        assert r.seed == 5 and r.bootstrap == 300
        assert r.alpha.low <= r.alpha.value <= r.alpha.high


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"images": []}, "no images"),
        ({"labelers": ["R"]}, "two labelers"),
        ({"boxes": [Box("other", "R", 0, 0, 1, 1)]}, "unknown image"),
        ({"boxes": [Box("fig5", "Z", 0, 0, 1, 1)]}, "not among the labelers"),
        ({"boxes": [Box("fig5", "R", 190, 0, 20, 10)]}, "outside the image"),
        ({"boxes": [Box("fig5", "R", 0, 0, 0, 10)]}, "positive"),
        ({"images": [IMAGE, IMAGE]}, "listed twice"),
        ({"images": [ImageSpec("fig5", 0, 10)]}, "positive"),
        ({"grids": [0]}, "grid size"),
        ({"grids": []}, "no grid"),
        ({"rule": "any"}, "unknown unit rule"),
        ({"bootstrap": -1}, "bootstrap"),
        ({"missing": {("fig5", "R")}}, "marked missing"),
        ({"missing": {("nope", "R")}}, "unknown"),
    ],
)
def test_invalid_input(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "images": [IMAGE],
        "boxes": figure5_boxes(),
        "labelers": LABELERS,
        "bootstrap": 0,
    }
    args.update(kwargs)
    with pytest.raises(AgreementInputError, match=message):
        compute_agreement(**args)  # type: ignore[arg-type]
