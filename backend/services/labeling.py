"""Annotations and reviews: the one place that writes them, and the one rule for a box.

Every write is a compare-and-set on the row's version, so two tabs editing the same annotation
get a conflict instead of a lost update, and every state of an annotation is kept as a revision.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from backend.models import (
    Annotation,
    AnnotationRevision,
    Assignment,
    AssignmentStatus,
    Batch,
    BatchItem,
    Reconstruction,
    Review,
    SourceImage,
    SourceStatus,
    User,
    utcnow,
)
from backend.schemas import BoxIn, ReviewIn
from backend.services.access import ItemAccess

# Gaps longer than this between two actions count as a break, not as time spent labeling.
ACTIVE_GAP_CAP_S = 300.0

# The smallest side, in reconstruction pixels, of a box that marks something: a narrower drag
# is a slip of the mouse. The workspace reads this same number from its page.
MIN_ANNOTATION_SIDE = 2

REMOVED = (
    "This image was removed on request (a data-subject removal); its annotations are kept, "
    "but it can no longer be shown or labeled."
)


class AnnotationRefused(ValueError):
    """A box that breaks the rule; the message says why, in words for the labeler."""


class ImageRemoved(Exception):
    """The item's pixels were removed on a data-subject request."""


@dataclass
class Conflict(Exception):
    current: Annotation | Review | None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a box is stored, and whether it had to be cut at the image's edge to get there."""

    x: int
    y: int
    w: int
    h: int
    clipped: bool

    @property
    def message(self) -> str | None:
        if not self.clipped:
            return None
        return f"The box ran past the edge of the image and was cut to {self.w}×{self.h} px."


def place_annotation(box: BoxIn, width: int, height: int) -> Placement:
    """The one rule for a box on a ``width``×``height`` image: the part inside the image is
    kept (a box that runs past the edge is clipped, and the placement says so), and that part
    must be at least ``MIN_ANNOTATION_SIDE`` pixels on each side, else it is refused."""
    if box.x >= width or box.y >= height:
        raise AnnotationRefused(
            f"The box starts at ({box.x}, {box.y}), outside the {width}×{height} image."
        )
    w = min(box.w, width - box.x)
    h = min(box.h, height - box.y)
    if w < MIN_ANNOTATION_SIDE or h < MIN_ANNOTATION_SIDE:
        inside = " inside the image" if (w, h) != (box.w, box.h) else ""
        raise AnnotationRefused(
            f"The box is {w}×{h} px{inside}; a box must be at least {MIN_ANNOTATION_SIDE} px "
            "on each side."
        )
    return Placement(box.x, box.y, w, h, clipped=(w, h) != (box.w, box.h))


def ensure_not_removed(session: Session, recon: Reconstruction) -> None:
    """Raise :class:`ImageRemoved` if the item's source was anonymised."""
    status = session.exec(
        select(SourceImage.status).where(SourceImage.id == recon.source_image_id)
    ).first()
    if status == SourceStatus.anonymised:
        raise ImageRemoved(REMOVED)


def list_annotations(session: Session, user: User, recon: Reconstruction) -> list[Annotation]:
    return list(
        session.exec(
            select(Annotation)
            .where(
                Annotation.reconstruction_id == recon.id,
                Annotation.labeler_id == user.id,
                col(Annotation.deleted).is_(False),
            )
            .order_by(col(Annotation.id))
        ).all()
    )


def _revision(annotation: Annotation, user: User) -> AnnotationRevision:
    return AnnotationRevision(
        annotation_id=annotation.id,  # type: ignore[arg-type]
        version=annotation.version,
        x=annotation.x,
        y=annotation.y,
        w=annotation.w,
        h=annotation.h,
        deleted=annotation.deleted,
        changed_by=user.id,  # type: ignore[arg-type]
        changed_at=annotation.updated_at,
    )


@dataclass(frozen=True, slots=True)
class Saved:
    """An annotation as stored, with the placement that said whether it was clipped."""

    annotation: Annotation
    placement: Placement | None  # None for a delete


def create_annotation(session: Session, user: User, item: ItemAccess, box: BoxIn) -> Saved:
    recon = item.recon
    placement = place_annotation(box, recon.width, recon.height)
    annotation = Annotation(
        reconstruction_id=recon.id,  # type: ignore[arg-type]
        labeler_id=user.id,  # type: ignore[arg-type]
        x=placement.x,
        y=placement.y,
        w=placement.w,
        h=placement.h,
    )
    session.add(annotation)
    session.flush()
    session.add(_revision(annotation, user))
    _record_activity(session, user, item)
    session.commit()
    return Saved(annotation, placement)


def change_annotation(
    session: Session,
    user: User,
    annotation: Annotation,
    item: ItemAccess,
    *,
    expected_version: int,
    box: BoxIn | None,
) -> Saved:
    """Move/resize (``box`` given) or delete (``box`` None) if the version still matches."""
    recon = item.recon
    now = utcnow()
    values: dict[str, object] = {"version": expected_version + 1, "updated_at": now}
    placement = None
    if box is None:
        values["deleted"] = True
    else:
        placement = place_annotation(box, recon.width, recon.height)
        values.update(x=placement.x, y=placement.y, w=placement.w, h=placement.h)
    result = session.execute(
        update(Annotation)
        .where(
            col(Annotation.id) == annotation.id,
            col(Annotation.version) == expected_version,
            col(Annotation.deleted).is_(False),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        current = session.get(Annotation, annotation.id, populate_existing=True)
        raise Conflict(current if current is not None and not current.deleted else None)
    for key, value in values.items():
        setattr(annotation, key, value)
    session.add(_revision(annotation, user))
    _record_activity(session, user, item)
    session.commit()
    return Saved(annotation, placement)


def get_review(session: Session, user: User, recon: Reconstruction) -> Review:
    review = session.exec(
        select(Review).where(Review.labeler_id == user.id, Review.reconstruction_id == recon.id)
    ).first()
    return review or Review(labeler_id=user.id, reconstruction_id=recon.id)  # type: ignore[arg-type]


def put_review(session: Session, user: User, item: ItemAccess, data: ReviewIn) -> Review:
    recon = item.recon
    now = utcnow()
    review = get_review(session, user, recon)
    if review.version != data.version:
        raise Conflict(review)
    values = {
        "done": data.done,
        "done_at": (review.done_at or now) if data.done else None,
        "multi": data.multi,
        "multi_types": sorted({t.value for t in data.multi_types}),
        "appearance_note": data.appearance_note,
        "note": data.note,
        "updated_at": now,
    }
    if review.id is None:
        review = Review(
            labeler_id=user.id,  # type: ignore[arg-type]
            reconstruction_id=recon.id,  # type: ignore[arg-type]
            version=1,
            **values,  # type: ignore[arg-type]
        )
        session.add(review)
    else:
        result = session.execute(
            update(Review)
            .where(col(Review.id) == review.id, col(Review.version) == data.version)
            .values(version=Review.version + 1, **values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            raise Conflict(get_review(session, user, recon))
    try:
        session.flush()
    except Exception:
        # Another tab created the first review at the same moment.
        session.rollback()
        raise Conflict(get_review(session, user, recon)) from None
    _record_activity(session, user, item, recount=True)
    session.commit()
    return get_review(session, user, recon)


def _record_activity(
    session: Session, user: User, item: ItemAccess, *, recount: bool = False
) -> None:
    """Start the clock and add active time on the labeler's assignments holding this item;
    with ``recount`` (a review changed) also finish or reopen them."""
    now = utcnow()
    assignments = item.assignments
    for assignment in assignments:
        if assignment.started_at is None:
            assignment.started_at = now
        if assignment.last_activity_at is not None:
            gap = (now - assignment.last_activity_at).total_seconds()
            assignment.active_seconds += max(0.0, min(gap, ACTIVE_GAP_CAP_S))
        assignment.last_activity_at = now
        if assignment.status == AssignmentStatus.assigned:
            assignment.status = AssignmentStatus.in_progress
        if recount:
            session.flush()
            n_items, n_done = batch_progress(session, assignment.batch_id, user.id)  # type: ignore[arg-type]
            if n_items and n_done >= n_items:
                assignment.status = AssignmentStatus.done
                assignment.finished_at = assignment.finished_at or now
            else:
                assignment.status = AssignmentStatus.in_progress
                assignment.finished_at = None
        session.add(assignment)


def _shown_items(batch_id: int):  # type: ignore[no-untyped-def]
    """The batch's items whose pixels still exist: an image removed on request can be neither
    seen nor finished, so it counts neither way."""
    return (
        select(BatchItem.reconstruction_id)
        .join(Reconstruction, Reconstruction.id == BatchItem.reconstruction_id)  # type: ignore[arg-type]
        .join(SourceImage, SourceImage.id == Reconstruction.source_image_id)  # type: ignore[arg-type]
        .where(BatchItem.batch_id == batch_id, SourceImage.status != SourceStatus.anonymised)
    )


def batch_progress(session: Session, batch_id: int, labeler_id: int) -> tuple[int, int]:
    """(items to label, items the labeler marked done) of the batch, removed images left out."""
    shown = _shown_items(batch_id).subquery()
    n_items = session.exec(select(func.count()).select_from(shown)).one()
    n_done = session.exec(
        select(func.count())
        .select_from(Review)
        .where(
            Review.labeler_id == labeler_id,
            col(Review.done).is_(True),
            col(Review.reconstruction_id).in_(select(shown.c.reconstruction_id)),
        )
    ).one()
    return int(n_items), int(n_done)


def finish_complete_assignments(session: Session, batch_ids: list[int]) -> int:
    """Mark done the started assignments of these batches whose every remaining item is done
    (after an image was removed, the last open item may have been the removed one)."""
    finished = 0
    now = utcnow()
    for assignment in session.exec(
        select(Assignment).where(
            col(Assignment.batch_id).in_(batch_ids),
            Assignment.status == AssignmentStatus.in_progress,
        )
    ).all():
        n_items, n_done = batch_progress(session, assignment.batch_id, assignment.labeler_id)
        if n_items and n_done >= n_items:
            assignment.status = AssignmentStatus.done
            assignment.finished_at = assignment.finished_at or now
            session.add(assignment)
            finished += 1
    return finished


def batch_for_user(
    session: Session, user: User, batch_id: int
) -> tuple[Batch, Assignment | None] | None:
    batch = session.get(Batch, batch_id)
    if batch is None:
        return None
    assignment = session.exec(
        select(Assignment).where(Assignment.batch_id == batch_id, Assignment.labeler_id == user.id)
    ).first()
    if assignment is None and user.role.value != "admin":
        return None
    return batch, assignment
