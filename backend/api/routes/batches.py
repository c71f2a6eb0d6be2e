from fastapi import APIRouter, HTTPException, status
from sqlmodel import Session, col, select

from backend.api.deps import LabelerUser, SessionDep
from backend.models import (
    Assignment,
    Batch,
    BatchItem,
    Reconstruction,
    Review,
    Role,
    SourceImage,
    User,
)
from backend.schemas import BatchOut, ItemOut, ListOf, ReviewOut
from backend.services import labeling

router = APIRouter(tags=["batches"])


def batches_for(session: Session, user: User) -> list[BatchOut]:
    """A labeler's own batches; for an admin every assignment and every unassigned batch."""
    out: list[BatchOut] = []
    query = (
        select(Assignment, Batch, User)
        .join(Batch, col(Batch.id) == col(Assignment.batch_id))
        .join(User, col(User.id) == col(Assignment.labeler_id))
    )
    if user.role != Role.admin:
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
                labeler=labeler.username if user.role == Role.admin else None,
            )
        )
    if user.role == Role.admin:
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


@router.get("/batches", response_model=ListOf[BatchOut])
def list_batches(session: SessionDep, user: LabelerUser) -> ListOf[BatchOut]:
    data = batches_for(session, user)
    return ListOf(data=data, count=len(data))


def review_out(review: Review) -> ReviewOut:
    return ReviewOut(
        done=review.done,
        multi=review.multi,
        multi_types=list(review.multi_types or []),
        appearance_note=review.appearance_note,
        note=review.note,
        version=review.version,
    )


def batch_items(session: Session, user: User, batch_id: int) -> list[ItemOut]:
    found = labeling.batch_for_user(session, user, batch_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such batch")
    rows = session.exec(
        select(BatchItem, Reconstruction, SourceImage)
        .join(Reconstruction, Reconstruction.id == BatchItem.reconstruction_id)  # type: ignore[arg-type]
        .join(SourceImage, SourceImage.id == Reconstruction.source_image_id)  # type: ignore[arg-type]
        .where(BatchItem.batch_id == batch_id)
        .order_by(col(BatchItem.position))
    ).all()
    reviews = {
        r.reconstruction_id: r
        for r in session.exec(
            select(Review).where(
                Review.labeler_id == user.id,
                col(Review.reconstruction_id).in_([recon.id for _, recon, _ in rows]),
            )
        ).all()
    }
    items = []
    for item, recon, source in rows:
        review = reviews.get(recon.id) or Review(labeler_id=user.id, reconstruction_id=recon.id)  # type: ignore[arg-type]
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
            )
        )
    return items


@router.get("/batches/{batch_id}/items", response_model=ListOf[ItemOut])
def list_items(batch_id: int, session: SessionDep, user: LabelerUser) -> ListOf[ItemOut]:
    data = batch_items(session, user, batch_id)
    return ListOf(data=data, count=len(data))
