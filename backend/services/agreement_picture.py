"""The picture view of an agreement study (paper, appendix Figure 5): one image cut into an
n × n grid, each unit shaded by its category, with every finished labeler's boxes drawn in her
colour, so an admin sees where and why labelers disagree before reading the numbers.

It draws only what a run counts (boxes of labelers who finished the image), with the same unit
rule; the numbers themselves come from :mod:`backend.agreement`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlmodel import Session, col, select

from backend.agreement import (
    AgreementInputError,
    Box,
    ImageSpec,
    UnitCategory,
    UnitRule,
    box_units,
    unit_markings,
)
from backend.models import AgreementStudy, Annotation
from backend.services.agreement_study import (
    MAX_GRID,
    ImageNotInStudyError,
    StudyInputError,
    labeler_names,
    study_rows,
)

LABELER_COLOURS = (
    "#e03131",
    "#2f9e44",
    "#1c7ed6",
    "#f08c00",
    "#ae3ec9",
    "#0c8599",
    "#66a80f",
    "#d6336c",
)
"""Box colours; the first three are the red, green and blue of the paper's Figure 5."""


@dataclass(frozen=True, slots=True)
class CategoryStyle:
    key: str
    label: str
    colour: str
    meaning: str


CATEGORY_STYLES: tuple[CategoryStyle, ...] = (
    CategoryStyle(
        UnitCategory.C_NEG.value, "complete negative", "#868e96", "no labeler marked the unit"
    ),
    CategoryStyle(
        UnitCategory.C_POS.value, "complete positive", "#fcc419", "every labeler marked it"
    ),
    CategoryStyle(
        UnitCategory.P_POS.value, "partial positive", "#f76707", "more than half marked it"
    ),
    CategoryStyle(
        UnitCategory.P_NEG.value, "partial negative", "#15aabf", "half or fewer marked it"
    ),
    CategoryStyle("none", "not counted", "#495057", "fewer than two labelers finished the image"),
)
"""Unit shading of the picture view: grey for complete negatives as in Figure 5, one distinct
colour for each other category, hatching for units outside the measure."""


@dataclass(frozen=True, slots=True)
class PictureLabeler:
    name: str
    colour: str
    present: bool
    n_boxes: int


@dataclass(frozen=True, slots=True)
class PictureBox:
    labeler: str
    colour: str
    x: int
    y: int
    w: int
    h: int
    unit: int | None


@dataclass(frozen=True, slots=True)
class PictureUnit:
    index: int
    x: float
    y: float
    w: float
    h: float
    category: str
    marked_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Picture:
    """One study image cut into an n × n grid, with every finished labeler's boxes."""

    index: int
    count: int
    blind_name: str
    width: int
    height: int
    n: int
    rule: UnitRule
    labelers: tuple[PictureLabeler, ...]
    units: tuple[PictureUnit, ...]
    boxes: tuple[PictureBox, ...]

    def counts(self) -> dict[str, int]:
        """Units per category on this image, in legend order."""
        found = {style.key: 0 for style in CATEGORY_STYLES}
        for unit in self.units:
            found[unit.category] += 1
        return found


def study_picture(
    session: Session, study: AgreementStudy, index: int, n: int, rule: UnitRule | str
) -> Picture:
    """The grid of image ``index`` at size ``n``, for the picture view of appendix Figure 5.

    Only boxes of labelers who finished the image are drawn, matching what a run counts.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_GRID:
        raise StudyInputError(f"grid size must lie between 1 and {MAX_GRID}")
    try:
        unit_rule = UnitRule(rule)
    except ValueError:
        raise StudyInputError(f"unknown unit rule {rule!r}") from None
    rows = study_rows(session, study)
    images = rows.images()
    if not 0 <= index < len(images):
        raise ImageNotInStudyError(f"the study has no image number {index + 1}")
    recon = images[index]
    names = labeler_names(study, rows)
    present = {i for i in study.labeler_ids if (i, recon.id) in rows.done}
    annotations = session.exec(
        select(Annotation)
        .where(
            Annotation.reconstruction_id == recon.id,
            col(Annotation.labeler_id).in_(list(present)),
            col(Annotation.deleted).is_(False),
        )
        .order_by(col(Annotation.id))
    ).all()
    spec = ImageSpec(recon.blind_name, recon.width, recon.height)
    boxes = [Box(spec.image, names[a.labeler_id], a.x, a.y, a.w, a.h) for a in annotations]
    order = [names[i] for i in study.labeler_ids]
    missing = [names[i] for i in study.labeler_ids if i not in present]
    try:
        markings = unit_markings(spec, boxes, order, n, unit_rule, missing)
    except AgreementInputError as exc:
        raise StudyInputError(str(exc)) from None
    colour = {name: LABELER_COLOURS[i % len(LABELER_COLOURS)] for i, name in enumerate(order)}
    box_unit = _box_units(boxes, spec, n, unit_rule)
    units = []
    for unit, category in enumerate(markings.categories):
        x0, y0, x1, y1 = markings.tile(unit)
        units.append(
            PictureUnit(
                index=unit,
                x=x0,
                y=y0,
                w=x1 - x0,
                h=y1 - y0,
                category=category.value if category is not None else "none",
                marked_by=tuple(
                    name for row, name in enumerate(order) if markings.marks[row, unit]
                ),
            )
        )
    per_labeler = {name: 0 for name in order}
    for box in boxes:
        per_labeler[box.labeler] += 1
    return Picture(
        index=index,
        count=len(images),
        blind_name=recon.blind_name,
        width=recon.width,
        height=recon.height,
        n=n,
        rule=unit_rule,
        labelers=tuple(
            PictureLabeler(name, colour[name], name not in missing, per_labeler[name])
            for name in order
        ),
        units=tuple(units),
        boxes=tuple(
            PictureBox(b.labeler, colour[b.labeler], int(b.x), int(b.y), int(b.w), int(b.h), u)
            for b, u in zip(boxes, box_unit, strict=True)
        ),
    )


def _box_units(boxes: Sequence[Box], spec: ImageSpec, n: int, rule: UnitRule) -> list[int | None]:
    """The unit each box marks (``None`` when, under the paper's rule, it marks none)."""
    coords = np.asarray([(b.x, b.y, b.w, b.h) for b in boxes], dtype=np.float64).reshape(-1, 4)
    found = box_units(
        coords[:, 0],
        coords[:, 1],
        coords[:, 2],
        coords[:, 3],
        np.full(len(boxes), float(spec.width)),
        np.full(len(boxes), float(spec.height)),
        n,
        rule,
    )
    return [int(u) if u >= 0 else None for u in found]


def iiif_url(blind_name: str, width: int, max_width: int = 1600) -> str:
    """IIIF 3 URL of the reconstruction at most ``max_width`` pixels wide."""
    w = max(1, min(width, max_width))
    return f"/iiif/3/{blind_name}/full/{w},/0/default.jpg"
