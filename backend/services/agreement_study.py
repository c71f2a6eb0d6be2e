"""Agreement studies: several labelers annotate the same batches, and their boxes are compared.

The paper measured inter-labeler agreement by assigning two batches to each of its three
labelers, who were asked to annotate *all* instances of multi-miscompressions so that the choice
of "the first three" instances would not count as disagreement (section 3.2.4). Here a study
gives each chosen labeler an assignment on each chosen batch and marks those batches
``annotate_all_instances``, which makes the workspace show that instruction.

Annotations belong to a (labeler, reconstruction) pair, so a labeler's copy of a batch is simply
her assignment on it. An image counts for a labeler once her review of it is done; until then
she has no value for it, and the measure treats the pair as missing (``compute_agreement``'s
``missing``) rather than as "nothing marked". Analyses are stored as :class:`AgreementRun` rows
with their parameters and inputs, so a later run never replaces an earlier one.

This module is the one place that writes studies and runs; the admin pages and the JSON API
both call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from backend.agreement import (
    DEFAULT_GRIDS,
    AgreementInputError,
    Box,
    ImageSpec,
    UnitCategory,
    UnitRule,
    box_units,
    compute_agreement,
    unit_markings,
)
from backend.models import (
    AgreementRun,
    AgreementStudy,
    Annotation,
    Assignment,
    AssignmentStatus,
    Batch,
    BatchItem,
    Reconstruction,
    Review,
    Role,
    User,
)

NAME_MAX = 128
MIN_LABELERS = 2
MAX_GRID = 32
"""Largest grid side n accepted for a run (1,024 units per image; the paper stops at 16)."""
MAX_GRIDS = 8
MAX_BOOTSTRAP = 10_000
MAX_SEED = 2**32 - 1
MAX_DRAWS = 500_000_000
"""Upper bound on bootstrap unit draws (resamples × units, summed over grid sizes) of one run.

Runs are computed inside the web request; at a few ten million draws per second this keeps a
run under half a minute. The paper's set-up (two batches, grids up to 16, 1,000 resamples) needs
well under a tenth of it.
"""


class StudyInputError(ValueError):
    """A study or run request that cannot be carried out; the message says why."""


class ImageNotInStudyError(StudyInputError, LookupError):
    """A picture was asked for an image position the study does not have."""


# --- creating a study ----------------------------------------------------------------------


def _ids(values: Sequence[object], what: str) -> list[int]:
    ids: list[int] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise StudyInputError(f"{what} ids must be integers, got {value!r}")
        if value in ids:
            raise StudyInputError(f"{what} {value} is listed twice")
        ids.append(value)
    return ids


def create_study(
    session: Session,
    *,
    name: str,
    batch_ids: Sequence[object],
    labeler_ids: Sequence[object],
    created_by: User | None,
) -> AgreementStudy:
    """Create a study and give every chosen labeler her own copy of every chosen batch.

    A copy is an :class:`Assignment`; existing ones are kept as they are. The batches are set to
    ``annotate_all_instances`` (paper, 3.2.4). Everything is checked before anything is written,
    so refused input (:class:`StudyInputError`) leaves the database untouched.
    """
    if not isinstance(name, str) or not name.strip():
        raise StudyInputError("the study needs a name")
    name = name.strip()
    if len(name) > NAME_MAX:
        raise StudyInputError(f"the name is longer than {NAME_MAX} characters")
    batch_list = _ids(batch_ids, "batch")
    labeler_list = _ids(labeler_ids, "labeler")
    if not batch_list:
        raise StudyInputError("choose at least one batch")
    if len(labeler_list) < MIN_LABELERS:
        raise StudyInputError(
            f"choose at least {MIN_LABELERS} labelers: agreement needs two opinions per image"
        )

    batches = {b.id: b for b in session.exec(select(Batch).where(col(Batch.id).in_(batch_list)))}
    unknown = [i for i in batch_list if i not in batches]
    if unknown:
        raise StudyInputError(f"unknown batch ids: {', '.join(map(str, unknown))}")
    filled = set(
        session.exec(
            select(BatchItem.batch_id).where(col(BatchItem.batch_id).in_(batch_list)).distinct()
        ).all()
    )
    empty = [batches[i].name for i in batch_list if i not in filled]
    if empty:
        raise StudyInputError(f"batches without images: {', '.join(empty)}")

    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(labeler_list)))}
    unknown = [i for i in labeler_list if i not in users]
    if unknown:
        raise StudyInputError(f"unknown user ids: {', '.join(map(str, unknown))}")
    not_labelers = [users[i].username for i in labeler_list if users[i].role != Role.labeler]
    if not_labelers:
        raise StudyInputError(f"not labelers: {', '.join(not_labelers)}")
    inactive = [users[i].username for i in labeler_list if not users[i].is_active]
    if inactive:
        raise StudyInputError(f"deactivated labelers: {', '.join(inactive)}")

    existing = set(
        session.exec(
            select(Assignment.batch_id, Assignment.labeler_id).where(
                col(Assignment.batch_id).in_(batch_list),
                col(Assignment.labeler_id).in_(labeler_list),
            )
        ).all()
    )
    for batch_id in batch_list:
        batch = batches[batch_id]
        batch.annotate_all_instances = True
        session.add(batch)
        for labeler_id in labeler_list:
            if (batch_id, labeler_id) not in existing:
                session.add(Assignment(batch_id=batch_id, labeler_id=labeler_id))
    study = AgreementStudy(
        name=name,
        batch_ids=batch_list,
        labeler_ids=labeler_list,
        created_by=created_by.id if created_by else None,
    )
    session.add(study)
    session.commit()
    session.refresh(study)
    return study


def list_studies(session: Session) -> list[AgreementStudy]:
    return list(session.exec(select(AgreementStudy).order_by(col(AgreementStudy.id).desc())))


# --- status ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopyStatus:
    """One labeler's copy of one batch: how many of its images she has marked done."""

    labeler_id: int
    labeler: str
    batch_id: int
    batch: str
    n_done: int
    n_items: int
    assignment: AssignmentStatus | None

    @property
    def done(self) -> bool:
        return self.n_done >= self.n_items


@dataclass(frozen=True, slots=True)
class StudyStatus:
    """Progress of a study; ``complete`` once every copy is done."""

    copies: tuple[CopyStatus, ...]
    n_images: int
    n_images_complete: int

    @property
    def complete(self) -> bool:
        return all(c.done for c in self.copies)


@dataclass(frozen=True, slots=True)
class _StudyRows:
    batches: dict[int, Batch]
    labelers: dict[int, User]
    items: list[tuple[int, Reconstruction]]  # (batch id, reconstruction) in study order
    done: set[tuple[int, int]]  # (labeler id, reconstruction id) with a done review

    def images(self) -> list[Reconstruction]:
        """The study's distinct reconstructions, in batch then position order."""
        seen: dict[int, Reconstruction] = {}
        for _, recon in self.items:
            seen.setdefault(recon.id, recon)  # type: ignore[arg-type]
        return list(seen.values())


def _rows(session: Session, study: AgreementStudy) -> _StudyRows:
    batch_ids = list(study.batch_ids)
    labeler_ids = list(study.labeler_ids)
    batches = {b.id: b for b in session.exec(select(Batch).where(col(Batch.id).in_(batch_ids)))}
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(labeler_ids)))}
    rows = session.exec(
        select(BatchItem.batch_id, BatchItem.position, Reconstruction)
        .join(Reconstruction, Reconstruction.id == BatchItem.reconstruction_id)  # type: ignore[arg-type]
        .where(col(BatchItem.batch_id).in_(batch_ids))
    ).all()
    order = {batch_id: i for i, batch_id in enumerate(batch_ids)}
    items = [(b, r) for b, _, r in sorted(rows, key=lambda row: (order[row[0]], row[1]))]
    recon_ids = {r.id for _, r in items}
    done = set(
        session.exec(
            select(Review.labeler_id, Review.reconstruction_id).where(
                col(Review.labeler_id).in_(labeler_ids),
                col(Review.reconstruction_id).in_(list(recon_ids)),
                col(Review.done).is_(True),
            )
        ).all()
    )
    return _StudyRows(
        batches={k: v for k, v in batches.items() if k is not None},
        labelers={k: v for k, v in users.items() if k is not None},
        items=items,
        done=done,
    )


def study_status(session: Session, study: AgreementStudy) -> StudyStatus:
    """Per labeler and batch, images done out of the batch's images."""
    rows = _rows(session, study)
    assignments = {
        (a.batch_id, a.labeler_id): a.status
        for a in session.exec(
            select(Assignment).where(
                col(Assignment.batch_id).in_(study.batch_ids),
                col(Assignment.labeler_id).in_(study.labeler_ids),
            )
        )
    }
    copies: list[CopyStatus] = []
    for labeler_id in study.labeler_ids:
        user = rows.labelers.get(labeler_id)
        for batch_id in study.batch_ids:
            batch = rows.batches.get(batch_id)
            recons = [r.id for b, r in rows.items if b == batch_id]
            copies.append(
                CopyStatus(
                    labeler_id=labeler_id,
                    labeler=user.username if user else f"user {labeler_id}",
                    batch_id=batch_id,
                    batch=batch.name if batch else f"batch {batch_id}",
                    n_done=sum((labeler_id, r) in rows.done for r in recons),
                    n_items=len(recons),
                    assignment=assignments.get((batch_id, labeler_id)),
                )
            )
    images = rows.images()
    complete = sum(all((lab, r.id) in rows.done for lab in study.labeler_ids) for r in images)
    return StudyStatus(copies=tuple(copies), n_images=len(images), n_images_complete=complete)


# --- analysis -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StudyInput:
    """What the measure sees: images by blind name, labelers by username, finished boxes only."""

    images: tuple[ImageSpec, ...]
    labelers: tuple[str, ...]
    boxes: tuple[Box, ...]
    missing: frozenset[tuple[str, str]]


def _labeler_names(study: AgreementStudy, rows: _StudyRows) -> dict[int, str]:
    return {
        i: rows.labelers[i].username if i in rows.labelers else f"user {i}"
        for i in study.labeler_ids
    }


def study_input(session: Session, study: AgreementStudy) -> StudyInput:
    """The study's images, labelers, boxes and missing pairs, ready for ``compute_agreement``.

    Boxes of an image whose review is not done are left out together with the image's value:
    unfinished work is missing, not negative.
    """
    rows = _rows(session, study)
    names = _labeler_names(study, rows)
    images = rows.images()
    by_id = {r.id: r for r in images}
    annotations = session.exec(
        select(Annotation)
        .where(
            col(Annotation.reconstruction_id).in_(list(by_id)),
            col(Annotation.labeler_id).in_(list(names)),
            col(Annotation.deleted).is_(False),
        )
        .order_by(col(Annotation.id))
    ).all()
    boxes = tuple(
        Box(
            image=by_id[a.reconstruction_id].blind_name,
            labeler=names[a.labeler_id],
            x=a.x,
            y=a.y,
            w=a.w,
            h=a.h,
        )
        for a in annotations
        if (a.labeler_id, a.reconstruction_id) in rows.done
    )
    missing = frozenset(
        (r.blind_name, names[i])
        for r in images
        for i in study.labeler_ids
        if (i, r.id) not in rows.done
    )
    return StudyInput(
        images=tuple(ImageSpec(r.blind_name, r.width, r.height) for r in images),
        labelers=tuple(names[i] for i in study.labeler_ids),
        boxes=boxes,
        missing=missing,
    )


@dataclass(frozen=True, slots=True)
class RunParams:
    """Parameters of one analysis; stored with its result."""

    grids: tuple[int, ...] = DEFAULT_GRIDS
    rule: UnitRule = UnitRule.PAPER
    bootstrap: int = 1000
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "grids": list(self.grids),
            "rule": self.rule.value,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
        }


def _bounded_int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StudyInputError(f"{what} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise StudyInputError(f"{what} must lie between {low:,} and {high:,}, got {value:,}")
    return value


def run_params(
    grids: Sequence[object] = DEFAULT_GRIDS,
    rule: object = UnitRule.PAPER,
    bootstrap: object = 1000,
    seed: object = 0,
) -> RunParams:
    """Checked run parameters; grid sizes are sorted so the table reads like the paper's."""
    sizes = [_bounded_int(n, "grid size", 1, MAX_GRID) for n in grids]
    if not sizes:
        raise StudyInputError("choose at least one grid size")
    if len(set(sizes)) != len(sizes):
        raise StudyInputError("a grid size is listed twice")
    if len(sizes) > MAX_GRIDS:
        raise StudyInputError(f"at most {MAX_GRIDS} grid sizes per run")
    try:
        unit_rule = UnitRule(rule)  # type: ignore[arg-type]
    except ValueError:
        names = ", ".join(r.value for r in UnitRule)
        raise StudyInputError(f"unknown unit rule {rule!r}; use one of {names}") from None
    return RunParams(
        grids=tuple(sorted(sizes)),
        rule=unit_rule,
        bootstrap=_bounded_int(bootstrap, "bootstrap resamples", 0, MAX_BOOTSTRAP),
        seed=_bounded_int(seed, "seed", 0, MAX_SEED),
    )


def run_analysis(
    session: Session, study: AgreementStudy, params: RunParams, created_by: User | None
) -> AgreementRun:
    """Measure agreement on the study as it stands now and keep the result as a new run.

    The result is exactly ``compute_agreement(...)`` as JSON (``GridResult.to_dict``), the same
    numbers as ``sclic agreement compute``. The run also records which labelers, how many boxes
    and which (image, labeler) pairs were missing, since a run made before the copies are done
    differs from a later one.
    """
    data = study_input(session, study)
    draws = params.bootstrap * len(data.images) * sum(n * n for n in params.grids)
    if draws > MAX_DRAWS:
        raise StudyInputError(
            f"this run would draw {draws:,} bootstrap units (limit {MAX_DRAWS:,}); "
            "use fewer resamples or smaller grids"
        )
    try:
        results = compute_agreement(
            data.images,
            data.boxes,
            data.labelers,
            grids=params.grids,
            rule=params.rule,
            bootstrap=params.bootstrap,
            seed=params.seed,
            missing=data.missing,
        )
    except AgreementInputError as exc:
        raise StudyInputError(f"cannot measure agreement yet: {exc}") from None
    run = AgreementRun(
        study_id=study.id,  # type: ignore[arg-type]
        params={
            **params.to_dict(),
            "inputs": {
                "images": len(data.images),
                "labelers": list(data.labelers),
                "boxes": len(data.boxes),
                "missing": sorted([image, labeler] for image, labeler in data.missing),
            },
        },
        result=[r.to_dict() for r in results],
        created_by=created_by.id if created_by else None,
    )
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def list_runs(session: Session, study: AgreementStudy) -> list[AgreementRun]:
    """The study's runs, newest first."""
    return list(
        session.exec(
            select(AgreementRun)
            .where(AgreementRun.study_id == study.id)
            .order_by(col(AgreementRun.id).desc())
        )
    )


def get_run(session: Session, study: AgreementStudy, run_id: int) -> AgreementRun | None:
    run = session.get(AgreementRun, run_id)
    return run if run is not None and run.study_id == study.id else None


# --- pictures (appendix, Figure 5) --------------------------------------------------------

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
    rows = _rows(session, study)
    images = rows.images()
    if not 0 <= index < len(images):
        raise ImageNotInStudyError(f"the study has no image number {index + 1}")
    recon = images[index]
    names = _labeler_names(study, rows)
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
