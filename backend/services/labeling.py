"""Boxes and reviews: the one place that writes them.

Every write is a compare-and-set on the row's version, so two tabs editing the same box get a
conflict instead of a lost update, and every state of a box is kept as a revision.
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
    User,
    utcnow,
)
from backend.schemas import BoxIn, ReviewIn
from backend.services.access import ItemAccess

# Gaps longer than this between two actions count as a break, not as time spent labeling.
ACTIVE_GAP_CAP_S = 300.0


class BoxOutsideImageError(ValueError):
    pass


@dataclass
class Conflict(Exception):
    current: Annotation | Review | None


def clip_box(box: BoxIn, width: int, height: int) -> tuple[int, int, int, int]:
    """Clip to the image; a box that does not overlap the image at all is refused."""
    if box.x >= width or box.y >= height:
        raise BoxOutsideImageError(
            f"box starts at ({box.x}, {box.y}), outside the {width}×{height} image"
        )
    w = min(box.w, width - box.x)
    h = min(box.h, height - box.y)
    return box.x, box.y, w, h


def list_boxes(session: Session, user: User, recon: Reconstruction) -> list[Annotation]:
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


def _revision(ann: Annotation, user: User) -> AnnotationRevision:
    return AnnotationRevision(
        annotation_id=ann.id,  # type: ignore[arg-type]
        version=ann.version,
        x=ann.x,
        y=ann.y,
        w=ann.w,
        h=ann.h,
        deleted=ann.deleted,
        changed_by=user.id,  # type: ignore[arg-type]
        changed_at=ann.updated_at,
    )


def create_box(session: Session, user: User, item: ItemAccess, box: BoxIn) -> Annotation:
    recon = item.recon
    x, y, w, h = clip_box(box, recon.width, recon.height)
    ann = Annotation(
        reconstruction_id=recon.id,  # type: ignore[arg-type]
        labeler_id=user.id,  # type: ignore[arg-type]
        x=x,
        y=y,
        w=w,
        h=h,
    )
    session.add(ann)
    session.flush()
    session.add(_revision(ann, user))
    _record_activity(session, user, item)
    session.commit()
    return ann


def change_box(
    session: Session,
    user: User,
    ann: Annotation,
    item: ItemAccess,
    *,
    expected_version: int,
    box: BoxIn | None,
) -> Annotation:
    """Move/resize (``box`` given) or delete (``box`` None) if the version still matches."""
    recon = item.recon
    now = utcnow()
    values: dict[str, object] = {"version": expected_version + 1, "updated_at": now}
    if box is None:
        values["deleted"] = True
    else:
        values.update(zip("xywh", clip_box(box, recon.width, recon.height), strict=True))
    result = session.execute(
        update(Annotation)
        .where(
            col(Annotation.id) == ann.id,
            col(Annotation.version) == expected_version,
            col(Annotation.deleted).is_(False),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        current = session.get(Annotation, ann.id, populate_existing=True)
        raise Conflict(current if current is not None and not current.deleted else None)
    for key, value in values.items():
        setattr(ann, key, value)
    session.add(_revision(ann, user))
    _record_activity(session, user, item)
    session.commit()
    return ann


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


def batch_progress(session: Session, batch_id: int, labeler_id: int) -> tuple[int, int]:
    n_items = session.exec(
        select(func.count()).select_from(BatchItem).where(BatchItem.batch_id == batch_id)
    ).one()
    n_done = session.exec(
        select(func.count())
        .select_from(BatchItem)
        .join(
            Review,
            (Review.reconstruction_id == BatchItem.reconstruction_id)  # type: ignore[arg-type]
            & (Review.labeler_id == labeler_id),
        )
        .where(BatchItem.batch_id == batch_id, col(Review.done).is_(True))
    ).one()
    return int(n_items), int(n_done)


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
