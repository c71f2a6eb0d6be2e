"""The inter-labeler agreement measure of the paper (section 3.2.4, Table 1; appendix 2.4).

Every image is cut into n × n grid units (see :mod:`backend.agreement.units`). For each unit
with k labelers holding a value and m of them marking it, the unit is

* a complete negative (``c_neg``) when m = 0,
* a complete positive (``c_pos``) when m = k,
* a partial positive (``p_pos``) when k/2 < m < k,
* a partial negative (``p_neg``) when 0 < m ≤ k/2,

and each category is reported as a share of all units with a normal-approximation 95 % interval
p ± 1.96·√(p(1−p)/N), in percent and clipped to [0, 100]. ``c_total`` = ``c_neg`` + ``c_pos`` is
the paper's "Total" column, ``c_pos`` its "Positive only" column. Krippendorff's α for the same
binary decisions comes with a percentile bootstrap interval over units.

Missing values: a labeler who did not finish an image has no value for any of its units (pass the
pair in ``missing``). k is then the number of labelers with a value, and units with fewer than
two values are left out entirely: they are not among the N units of the percentages, and they are
not pairable for α, since agreement needs at least two opinions.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from backend.agreement.alpha import alpha_from_counts, bootstrap_interval
from backend.agreement.units import (
    DEFAULT_GRIDS,
    AgreementInputError,
    Box,
    ImageSpec,
    UnitRule,
    box_problem,
    box_units,
    check_grid,
    image_problem,
    parse_rule,
    tile_rect,
)

Z_95 = 1.96
"""Normal quantile of the two-sided 95 % interval used for the category shares."""


class UnitCategory(StrEnum):
    """The four agreement scenarios of appendix 2.4.1 (Figure 5)."""

    C_NEG = "c_neg"
    C_POS = "c_pos"
    P_POS = "p_pos"
    P_NEG = "p_neg"


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with the bounds of its 95 % interval; NaN where undefined."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready form; undefined numbers (NaN) become ``None``."""
        return {
            "value": _finite_or_none(self.value),
            "low": _finite_or_none(self.low),
            "high": _finite_or_none(self.high),
        }


@dataclass(frozen=True, slots=True)
class GridResult:
    """Agreement on one grid size: one row of the paper's Table 1, plus the partial categories.

    ``units`` is the number of units per image (n²), ``n_units`` the number N of units that
    entered the measure (those with at least two values). Category shares are in percent, α is a
    plain number. ``bootstrap`` and ``seed`` record how α's interval was drawn.
    """

    n: int
    units: int
    n_units: int
    rule: UnitRule
    c_neg: Interval
    c_pos: Interval
    p_pos: Interval
    p_neg: Interval
    c_total: Interval
    alpha: Interval
    bootstrap: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``sclic agreement compute --format json`` for this grid size."""
        return {
            "n": self.n,
            "units": self.units,
            "n_units": self.n_units,
            "rule": self.rule.value,
            "c_neg": self.c_neg.to_dict(),
            "c_pos": self.c_pos.to_dict(),
            "p_pos": self.p_pos.to_dict(),
            "p_neg": self.p_neg.to_dict(),
            "c_total": self.c_total.to_dict(),
            "alpha": self.alpha.to_dict(),
            "bootstrap": self.bootstrap,
            "seed": self.seed,
        }


@dataclass(frozen=True, slots=True)
class UnitMarkings:
    """Who marked which unit of one image, for the picture view of appendix Figure 5.

    ``marks`` is a (labelers × n²) boolean matrix in the order of ``labelers``; rows of labelers
    without a value for this image (``present`` false) are all false. ``categories`` holds each
    unit's :class:`UnitCategory`, or ``None`` where fewer than two labelers have a value.
    """

    image: ImageSpec
    n: int
    rule: UnitRule
    labelers: tuple[str, ...]
    marks: NDArray[np.bool_]
    present: NDArray[np.bool_]
    categories: tuple[UnitCategory | None, ...]

    def tile(self, unit: int) -> tuple[float, float, float, float]:
        """Bounds ``(x0, y0, x1, y1)`` of ``unit`` in image pixels."""
        return tile_rect(self.image.width, self.image.height, self.n, unit)


def proportion_interval(count: int, total: int) -> Interval:
    """Share ``count / total`` in percent with its normal-approximation 95 % interval.

    p ± 1.96·√(p(1−p)/N), clipped to [0, 100] because the approximation can leave the range
    for shares near 0 or 1. NaN throughout when ``total`` is 0.
    """
    if total <= 0:
        return Interval(math.nan, math.nan, math.nan)
    p = count / total
    half = Z_95 * math.sqrt(p * (1.0 - p) / total)
    return Interval(100.0 * p, 100.0 * max(0.0, p - half), 100.0 * min(1.0, p + half))


def unit_categories(
    marked: NDArray[np.integer[Any]], values: NDArray[np.integer[Any]]
) -> dict[UnitCategory, NDArray[np.bool_]]:
    """Masks of the four categories for units with ``values`` labelers and ``marked`` marks.

    Units with fewer than two values belong to no category.
    """
    m = np.asarray(marked)
    k = np.asarray(values)
    valid = k >= 2
    return {
        UnitCategory.C_NEG: valid & (m == 0),
        UnitCategory.C_POS: valid & (m == k),
        UnitCategory.P_POS: valid & (2 * m > k) & (m < k),
        UnitCategory.P_NEG: valid & (m > 0) & (2 * m <= k),
    }


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Validated inputs as arrays: boxes refer to images and labelers by position."""

    images: tuple[ImageSpec, ...]
    labelers: tuple[str, ...]
    present: NDArray[np.bool_]
    box_image: NDArray[np.int64]
    box_labeler: NDArray[np.int64]
    coords: NDArray[np.float64]


def _prepare(
    images: Sequence[ImageSpec],
    boxes: Iterable[Box],
    labelers: Sequence[str],
    missing: Collection[tuple[str, str]],
) -> _Prepared:
    image_index: dict[str, int] = {}
    for spec in images:
        if spec.image in image_index:
            raise AgreementInputError(f"image {spec.image!r} is listed twice")
        problem = image_problem(spec.width, spec.height)
        if problem:
            raise AgreementInputError(f"image {spec.image!r}: {problem}")
        image_index[spec.image] = len(image_index)
    if not image_index:
        raise AgreementInputError("no images to measure agreement on")
    labeler_index: dict[str, int] = {}
    for name in labelers:
        labeler_index.setdefault(name, len(labeler_index))
    if len(labeler_index) < 2:
        raise AgreementInputError("agreement needs at least two labelers")

    present = np.ones((len(image_index), len(labeler_index)), dtype=bool)
    for image, labeler in missing:
        if image not in image_index or labeler not in labeler_index:
            raise AgreementInputError(f"missing pair ({image!r}, {labeler!r}) is unknown")
        present[image_index[image], labeler_index[labeler]] = False

    box_image: list[int] = []
    box_labeler: list[int] = []
    coords: list[tuple[float, float, float, float]] = []
    for number, box in enumerate(boxes):
        where = f"box {number} ({box.image!r}, {box.labeler!r})"
        if box.image not in image_index:
            raise AgreementInputError(f"{where}: unknown image")
        if box.labeler not in labeler_index:
            raise AgreementInputError(f"{where}: labeler is not among the labelers")
        i, j = image_index[box.image], labeler_index[box.labeler]
        if not present[i, j]:
            raise AgreementInputError(f"{where}: labeler is marked missing on this image")
        spec = images[i]
        problem = box_problem(box.x, box.y, box.w, box.h, spec.width, spec.height)
        if problem:
            raise AgreementInputError(f"{where}: {problem}")
        box_image.append(i)
        box_labeler.append(j)
        coords.append((box.x, box.y, box.w, box.h))
    return _Prepared(
        images=tuple(images),
        labelers=tuple(labeler_index),
        present=present,
        box_image=np.asarray(box_image, dtype=np.int64),
        box_labeler=np.asarray(box_labeler, dtype=np.int64),
        coords=np.asarray(coords, dtype=np.float64).reshape(-1, 4),
    )


def _marked_units(prep: _Prepared, n: int, rule: UnitRule) -> NDArray[np.int64]:
    """Per (image, unit), flattened image-major, how many labelers marked it."""
    sizes = np.asarray([(s.width, s.height) for s in prep.images], dtype=np.float64)
    units_per_image = n * n
    unit = box_units(
        prep.coords[:, 0],
        prep.coords[:, 1],
        prep.coords[:, 2],
        prep.coords[:, 3],
        sizes[prep.box_image, 0],
        sizes[prep.box_image, 1],
        n,
        rule,
    )
    hit = unit >= 0
    n_labelers = len(prep.labelers)
    # A labeler marks a unit once however many of her boxes fall in it.
    keys = np.unique(
        (prep.box_image[hit] * n_labelers + prep.box_labeler[hit]) * units_per_image + unit[hit]
    )
    image_unit = keys // (n_labelers * units_per_image) * units_per_image + keys % units_per_image
    return np.bincount(image_unit, minlength=len(prep.images) * units_per_image)


def _grid_result(prep: _Prepared, n: int, rule: UnitRule, bootstrap: int, seed: int) -> GridResult:
    units_per_image = n * n
    marked = _marked_units(prep, n, rule)
    values = np.repeat(prep.present.sum(axis=1), units_per_image)
    valid = values >= 2
    total = int(valid.sum())
    if total == 0:
        raise AgreementInputError("no unit has values from at least two labelers")
    masks = unit_categories(marked, values)
    shares = {cat: proportion_interval(int(mask.sum()), total) for cat, mask in masks.items()}
    agreed = int(masks[UnitCategory.C_NEG].sum() + masks[UnitCategory.C_POS].sum())
    ones, counts = marked[valid], values[valid]
    # Each grid size draws from its own stream, so its interval does not depend on which other
    # grid sizes were requested alongside it.
    low, high = bootstrap_interval(ones, counts, resamples=bootstrap, seed=[seed, n])
    return GridResult(
        n=n,
        units=units_per_image,
        n_units=total,
        rule=rule,
        c_neg=shares[UnitCategory.C_NEG],
        c_pos=shares[UnitCategory.C_POS],
        p_pos=shares[UnitCategory.P_POS],
        p_neg=shares[UnitCategory.P_NEG],
        c_total=proportion_interval(agreed, total),
        alpha=Interval(alpha_from_counts(ones, counts), low, high),
        bootstrap=bootstrap,
        seed=seed,
    )


def compute_agreement(
    images: Sequence[ImageSpec],
    boxes: Iterable[Box],
    labelers: Sequence[str],
    grids: Sequence[int] = DEFAULT_GRIDS,
    rule: UnitRule | str = UnitRule.PAPER,
    bootstrap: int = 1000,
    seed: int = 0,
    missing: Collection[tuple[str, str]] = (),
) -> list[GridResult]:
    """Inter-labeler agreement for each grid size in ``grids`` (paper, Table 1).

    Every labeler in ``labelers`` is taken to have annotated every image in ``images``, except
    the (image, labeler) pairs in ``missing``, which must hold no boxes; images without boxes
    are all-negative units, not absent ones. ``bootstrap`` resamples over units (0 to skip)
    give α's percentile interval, reproducible from ``seed``: each grid size draws from its own
    stream seeded with (seed, n). Invalid input raises :class:`AgreementInputError`.
    """
    unit_rule = parse_rule(rule)
    sizes = [check_grid(n) for n in grids]
    if not sizes:
        raise AgreementInputError("no grid sizes given")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 0:
        raise AgreementInputError(f"bootstrap must be a non-negative integer, got {bootstrap!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise AgreementInputError(f"seed must be a non-negative integer, got {seed!r}")
    prep = _prepare(images, boxes, labelers, missing)
    return [_grid_result(prep, n, unit_rule, bootstrap, seed) for n in sizes]


def unit_markings(
    image: ImageSpec,
    boxes: Iterable[Box],
    labelers: Sequence[str],
    n: int,
    rule: UnitRule | str = UnitRule.PAPER,
    missing: Collection[str] = (),
) -> UnitMarkings:
    """The per-unit marking matrix and categories of one image at grid size ``n``.

    ``boxes`` may hold boxes of other images; only those on ``image`` are used. ``missing``
    names the labelers without a value for this image.
    """
    unit_rule = parse_rule(rule)
    n = check_grid(n)
    own = [b for b in boxes if b.image == image.image]
    prep = _prepare([image], own, labelers, [(image.image, name) for name in missing])
    unit = box_units(
        prep.coords[:, 0],
        prep.coords[:, 1],
        prep.coords[:, 2],
        prep.coords[:, 3],
        np.full(len(own), image.width),
        np.full(len(own), image.height),
        n,
        unit_rule,
    )
    marks = np.zeros((len(prep.labelers), n * n), dtype=bool)
    hit = unit >= 0
    marks[prep.box_labeler[hit], unit[hit]] = True
    present = prep.present[0]
    masks = unit_categories(marks.sum(axis=0), np.full(n * n, int(present.sum())))
    categories: list[UnitCategory | None] = [None] * (n * n)
    for category, mask in masks.items():
        for u in np.flatnonzero(mask):
            categories[int(u)] = category
    return UnitMarkings(
        image=image,
        n=n,
        rule=unit_rule,
        labelers=prep.labelers,
        marks=marks,
        present=present,
        categories=tuple(categories),
    )
