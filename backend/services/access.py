"""Who may see which item: a labeler sees only items of batches assigned to her."""

from __future__ import annotations

from sqlmodel import Session, select

from backend.models import Assignment, BatchItem, Reconstruction, Role, SourceImage, User


def item_for_user(
    session: Session, user: User, blind_name: str
) -> tuple[Reconstruction, bool] | None:
    """The reconstruction named ``blind_name`` if ``user`` may see it, and whether it is in one
    of her own batches (only then may she write to it); else None.

    Not found and not allowed look the same to the caller, so nothing leaks about other
    labelers' items.
    """
    assigned = (
        select(Assignment.id)
        .join(BatchItem, BatchItem.batch_id == Assignment.batch_id)  # type: ignore[arg-type]
        .where(
            Assignment.labeler_id == user.id,
            BatchItem.reconstruction_id == Reconstruction.id,
        )
        .exists()
    )
    row = session.exec(
        select(Reconstruction, assigned).where(Reconstruction.blind_name == blind_name)
    ).first()
    if row is None:
        return None
    recon, is_own = row
    if is_own or user.role == Role.admin:
        return recon, bool(is_own)
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
