"""Who may see which item: a labeler sees only items of batches assigned to her."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from backend.models import Assignment, Batch, BatchItem, Reconstruction, Role, SourceImage, User


@dataclass(frozen=True)
class ItemAccess:
    recon: Reconstruction
    assigned: bool  # in one of the user's own batches
    writable: bool  # in one of her batches that is not locked


def item_for_user(session: Session, user: User, blind_name: str) -> ItemAccess | None:
    """The reconstruction named ``blind_name`` if ``user`` may see it, with whether it is in
    her own batches and whether one of those is still open for writing; else None.

    Not found and not allowed look the same to the caller, so nothing leaks about other
    labelers' items.
    """

    def held(*, unlocked_only: bool):  # type: ignore[no-untyped-def]
        query = (
            select(Assignment.id)
            .join(BatchItem, BatchItem.batch_id == Assignment.batch_id)  # type: ignore[arg-type]
            .where(
                Assignment.labeler_id == user.id,
                BatchItem.reconstruction_id == Reconstruction.id,
            )
        )
        if unlocked_only:
            query = query.join(Batch, Batch.id == Assignment.batch_id).where(  # type: ignore[arg-type]
                col(Batch.locked).is_(False)
            )
        return query.exists()

    row = session.exec(
        select(Reconstruction, held(unlocked_only=False), held(unlocked_only=True)).where(
            Reconstruction.blind_name == blind_name
        )
    ).first()
    if row is None:
        return None
    recon, assigned, writable = row
    if assigned or user.role == Role.admin:
        return ItemAccess(recon, bool(assigned), bool(writable))
    return None


def visible_identifiers(session: Session, user: User) -> frozenset[str] | None:
    """IIIF identifiers a labeler may load; None means every identifier (admins, researchers)."""
    if user.role != Role.labeler:
        return None
    rows = session.exec(
        select(Reconstruction.blind_name, SourceImage.prepared_sha1)
        .join(BatchItem, BatchItem.reconstruction_id == Reconstruction.id)  # type: ignore[arg-type]
        .join(Assignment, Assignment.batch_id == BatchItem.batch_id)  # type: ignore[arg-type]
        .join(SourceImage, SourceImage.id == Reconstruction.source_image_id)  # type: ignore[arg-type]
        .where(Assignment.labeler_id == user.id)
    ).all()
    names: set[str] = set()
    for blind_name, source_sha1 in rows:
        names.update((blind_name, f"{blind_name}-diff", source_sha1))
    return frozenset(names)
