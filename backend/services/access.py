"""Who may see which item: a labeler sees only items of batches assigned to her."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from backend.models import (
    Annotation,
    Assignment,
    Batch,
    BatchItem,
    Reconstruction,
    Role,
    SourceImage,
    User,
)


@dataclass(frozen=True)
class ItemAccess:
    recon: Reconstruction
    assignments: tuple[Assignment, ...]  # the user's own assignments whose batch holds the item
    writable: bool  # one of those batches is not locked

    @property
    def assigned(self) -> bool:
        return bool(self.assignments)


def _join_holdings(query, user: User):  # type: ignore[no-untyped-def]
    """Outer-join, to a query over ``Reconstruction`` that selects ``Assignment, Batch.locked``
    last, each of ``user``'s assignments whose batch holds the item and whether that batch is
    locked: one row per batch holding the item, the assignment NULL where the batch is not hers."""
    return (
        query.outerjoin(BatchItem, BatchItem.reconstruction_id == Reconstruction.id)  # type: ignore[arg-type]
        .outerjoin(
            Assignment,
            (Assignment.batch_id == BatchItem.batch_id) & (Assignment.labeler_id == user.id),  # type: ignore[arg-type]
        )
        .outerjoin(Batch, Batch.id == Assignment.batch_id)  # type: ignore[arg-type]
    )


def _access(recon: Reconstruction, rows: list[tuple[Any, ...]]) -> ItemAccess:
    held = [(row[-2], row[-1]) for row in rows if row[-2] is not None]
    unique = {assignment.id: assignment for assignment, _ in held}
    return ItemAccess(recon, tuple(unique.values()), any(not locked for _, locked in held))


def item_for_user(session: Session, user: User, blind_name: str) -> ItemAccess | None:
    """The reconstruction named ``blind_name`` if ``user`` may see it, with her assignments
    that hold it and whether one of those is still open for writing; else None. One query, so
    a write needs no second trip to learn where to count the labeler's activity.

    Not found and not allowed look the same to the caller, so nothing leaks about other
    labelers' items.
    """
    rows = session.exec(
        _join_holdings(select(Reconstruction, Assignment, Batch.locked), user).where(
            Reconstruction.blind_name == blind_name
        )
    ).all()
    if not rows:
        return None
    found = _access(rows[0][0], list(rows))
    return found if found.assigned or user.role == Role.admin else None


def annotation_for_user(
    session: Session, user: User, public_id: str
) -> tuple[Annotation, ItemAccess] | None:
    """The user's own live box ``public_id`` with her hold on its item, in one query (her own
    box stays hers to see even when its batch has gone to someone else)."""
    rows = session.exec(
        _join_holdings(
            select(Annotation, Reconstruction, Assignment, Batch.locked).join(
                Reconstruction,
                Reconstruction.id == Annotation.reconstruction_id,  # type: ignore[arg-type]
            ),
            user,
        ).where(
            Annotation.public_id == public_id,
            Annotation.labeler_id == user.id,
            col(Annotation.deleted).is_(False),
        )
    ).all()
    if not rows:
        return None
    return rows[0][0], _access(rows[0][1], list(rows))


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
