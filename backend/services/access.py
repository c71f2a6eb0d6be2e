"""Who may see which item: a labeler sees only items of batches assigned to her."""

from __future__ import annotations

from sqlmodel import Session, select

from backend.models import Assignment, BatchItem, Reconstruction, Role, SourceImage, User


def item_for_user(session: Session, user: User, blind_name: str) -> Reconstruction | None:
    """The reconstruction named ``blind_name`` if ``user`` may see it, else None.

    Not found and not allowed look the same to the caller, so nothing leaks about other
    labelers' items.
    """
    recon = session.exec(
        select(Reconstruction).where(Reconstruction.blind_name == blind_name)
    ).first()
    if recon is None:
        return None
    if user.role == Role.admin:
        return recon
    if user.role == Role.labeler and is_assigned(session, user, recon.id):  # type: ignore[arg-type]
        return recon
    return None


def is_assigned(session: Session, user: User, reconstruction_id: int) -> bool:
    row = session.exec(
        select(Assignment.id)
        .join(BatchItem, BatchItem.batch_id == Assignment.batch_id)  # type: ignore[arg-type]
        .where(Assignment.labeler_id == user.id, BatchItem.reconstruction_id == reconstruction_id)
        .limit(1)
    ).first()
    return row is not None


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
