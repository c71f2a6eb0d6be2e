"""Batches as the workspace reads them: a labeler's batches and items, and, for an admin, one
labeler's work on a batch (her annotations, flags, notes and done state), read only.

The admin's review shows exactly what the labeler saved, never a copy of the admin's own, so
an admin checking a batch sees the labeler's boxes and cannot change them by accident.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from backend.models import (
    Annotation,
    Assignment,
    Batch,
    BatchItem,
    Reconstruction,
    Review,
    Role,
    SourceImage,
    SourceStatus,
    User,
)
from backend.schemas import (
    AnnotationOut,
    AssignmentWorkOut,
    BatchOut,
    ItemOut,
    ReviewedItemOut,
    ReviewOut,
)
from backend.services import labeling


def annotation_out(annotation: Annotation) -> AnnotationOut:
    return AnnotationOut(
        id=annotation.public_id,
        x=annotation.x,
        y=annotation.y,
        w=annotation.w,
        h=annotation.h,
        version=annotation.version,
    )


def review_out(review: Review) -> ReviewOut:
    return ReviewOut(
        done=review.done,
        multi=review.multi,
        multi_types=list(review.multi_types or []),
        appearance_note=review.appearance_note,
        note=review.note,
        version=review.version,
    )


def batches_for(session: Session, user: User) -> list[BatchOut]:
    """A labeler's own batches; for an admin every assignment and every unassigned batch."""
    out: list[BatchOut] = []
    is_admin = user.role == Role.admin
    query = (
        select(Assignment, Batch, User)
        .join(Batch, col(Batch.id) == col(Assignment.batch_id))
        .join(User, col(User.id) == col(Assignment.labeler_id))
    )
    if not is_admin:
        query = query.where(Assignment.labeler_id == user.id)
    assigned_batch_ids: set[int] = set()
    for assignment, batch, labeler in session.exec(query.order_by(col(Batch.id))).all():
        n_items, n_done = labeling.batch_progress(session, batch.id, labeler.id)  # type: ignore[arg-type]
        assigned_batch_ids.add(batch.id)  # type: ignore[arg-type]
        out.append(
            BatchOut(
                id=batch.id,  # type: ignore[arg-type]
                name=batch.name,
                n_items=n_items,
                n_done=n_done,
                status=assignment.status,
                annotate_all_instances=batch.annotate_all_instances,
                labeler=labeler.username if is_admin else None,
                assignment_id=assignment.id if is_admin else None,
            )
        )
    if is_admin:
        for batch in session.exec(select(Batch).order_by(col(Batch.id))).all():
            if batch.id not in assigned_batch_ids:
                n_items, _ = labeling.batch_progress(session, batch.id, 0)  # type: ignore[arg-type]
                out.append(
                    BatchOut(
                        id=batch.id,  # type: ignore[arg-type]
                        name=batch.name,
                        n_items=n_items,
                        n_done=0,
                        status=None,
                        annotate_all_instances=batch.annotate_all_instances,
                    )
                )
    return out


def _rows(
    session: Session, batch_id: int
) -> Sequence[tuple[BatchItem, Reconstruction, SourceImage]]:
    return session.exec(
        select(BatchItem, Reconstruction, SourceImage)
        .join(Reconstruction, Reconstruction.id == BatchItem.reconstruction_id)  # type: ignore[arg-type]
        .join(SourceImage, SourceImage.id == Reconstruction.source_image_id)  # type: ignore[arg-type]
        .where(BatchItem.batch_id == batch_id)
        .order_by(col(BatchItem.position))
    ).all()


def _items(session: Session, batch_id: int, labeler_id: int) -> list[ItemOut]:
    """The batch's items in order, each with ``labeler_id``'s review of it."""
    rows = _rows(session, batch_id)
    reviews = {
        r.reconstruction_id: r
        for r in session.exec(
            select(Review).where(
                Review.labeler_id == labeler_id,
                col(Review.reconstruction_id).in_([recon.id for _, recon, _ in rows]),
            )
        ).all()
    }
    items = []
    for item, recon, source in rows:
        review = reviews.get(recon.id) or Review(  # type: ignore[arg-type]
            labeler_id=labeler_id,
            reconstruction_id=recon.id,  # type: ignore[arg-type]
        )
        items.append(
            ItemOut(
                blind_name=recon.blind_name,
                position=item.position,
                width=recon.width,
                height=recon.height,
                reconstruction_info=f"/iiif/3/{recon.blind_name}/info.json",
                original_info=f"/iiif/3/{source.prepared_sha1}/info.json",
                diff_info=f"/iiif/3/{recon.blind_name}-diff/info.json",
                review=review_out(review),
                removed=source.status == SourceStatus.anonymised,
            )
        )
    return items


def batch_items(session: Session, user: User, batch_id: int) -> list[ItemOut] | None:
    """The items of a batch ``user`` may open, with her own reviews; None if she may not."""
    if labeling.batch_for_user(session, user, batch_id) is None:
        return None
    return _items(session, batch_id, user.id)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class AssignmentView:
    """Whose work an assignment is and on which batch: the heading of an admin's review."""

    assignment: Assignment
    batch: Batch
    labeler: User


def find_assignment(session: Session, assignment_id: int) -> AssignmentView | None:
    row = session.exec(
        select(Assignment, Batch, User)
        .join(Batch, col(Batch.id) == col(Assignment.batch_id))
        .join(User, col(User.id) == col(Assignment.labeler_id))
        .where(Assignment.id == assignment_id)
    ).first()
    return None if row is None else AssignmentView(*row)


def assignments_of_batch(session: Session, batch_id: int) -> list[AssignmentView]:
    """Every labeler's assignment on the batch (several for an agreement batch), by name."""
    rows = session.exec(
        select(Assignment, Batch, User)
        .join(Batch, col(Batch.id) == col(Assignment.batch_id))
        .join(User, col(User.id) == col(Assignment.labeler_id))
        .where(Assignment.batch_id == batch_id)
        .order_by(col(User.username))
    ).all()
    return [AssignmentView(*row) for row in rows]


def assignment_work(session: Session, assignment_id: int) -> AssignmentWorkOut | None:
    """One labeler's work on her batch, as she saved it: per item her review and her live
    annotations (those on removed images too: the annotations outlive the pixels)."""
    found = find_assignment(session, assignment_id)
    if found is None:
        return None
    labeler_id: int = found.labeler.id  # type: ignore[assignment]
    items = _items(session, found.batch.id, labeler_id)  # type: ignore[arg-type]
    by_item: dict[str, list[AnnotationOut]] = {item.blind_name: [] for item in items}
    for annotation, blind_name in session.exec(
        select(Annotation, Reconstruction.blind_name)
        .join(Reconstruction, Reconstruction.id == Annotation.reconstruction_id)  # type: ignore[arg-type]
        .join(BatchItem, BatchItem.reconstruction_id == Reconstruction.id)  # type: ignore[arg-type]
        .where(
            BatchItem.batch_id == found.batch.id,
            Annotation.labeler_id == labeler_id,
            col(Annotation.deleted).is_(False),
        )
        .order_by(col(Annotation.id))
    ).all():
        by_item[blind_name].append(annotation_out(annotation))
    return AssignmentWorkOut(
        assignment_id=assignment_id,
        batch_id=found.batch.id,  # type: ignore[arg-type]
        batch_name=found.batch.name,
        labeler=found.labeler.username,
        status=found.assignment.status,
        locked=found.batch.locked,
        annotate_all_instances=found.batch.annotate_all_instances,
        items=[
            ReviewedItemOut(**item.model_dump(), annotations=by_item[item.blind_name])
            for item in items
        ],
    )
