"""Handing batches to labelers: assign, split evenly, reassign unstarted ones, lock finished ones.

Paper, appendix 2.1: "Each labeler annotated independently with no overlap in batch
assignments"; "batches were assigned to labelers roughly evenly" so that "each labeler viewed
approximately the same number of images" (section 3.2). A batch therefore has one labeler here
(agreement batches with several labelers are made by the agreement study, not on this page).
Reassigning is allowed only while nobody has worked on the batch, so no annotation ever changes
hands; a finished batch can be locked, after which it cannot be reassigned and its labeler can no
longer change it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    AuditEntry,
    Batch,
    BatchItem,
    Review,
    Role,
    User,
    utcnow,
)


class AssignError(ValueError):
    """A refused change; the message is shown to the admin as it is."""


def labelers(session: Session) -> list[User]:
    return list(
        session.exec(
            select(User)
            .where(User.role == Role.labeler, col(User.is_active).is_(True))
            .order_by(col(User.username))
        ).all()
    )


def _labeler(session: Session, labeler_id: int) -> User:
    user = session.get(User, labeler_id)
    if user is None or user.role != Role.labeler or not user.is_active:
        raise AssignError("choose an active labeler")
    return user


def _batch(session: Session, batch_id: int) -> Batch:
    batch = session.get(Batch, batch_id)
    if batch is None:
        raise AssignError(f"no batch #{batch_id}")
    return batch


def _assignments(session: Session, batch_id: int) -> list[Assignment]:
    return list(session.exec(select(Assignment).where(Assignment.batch_id == batch_id)).all())


def is_started(session: Session, batch_id: int) -> bool:
    """True once a labeler of the batch opened work on it: a box (even a deleted one), a review,
    or recorded activity."""
    assigned = select(Assignment.labeler_id).where(Assignment.batch_id == batch_id)
    items = select(BatchItem.reconstruction_id).where(BatchItem.batch_id == batch_id)
    active = session.exec(
        select(func.count())
        .select_from(Assignment)
        .where(Assignment.batch_id == batch_id, col(Assignment.started_at).is_not(None))
    ).one()
    if active:
        return True
    for model in (Annotation, Review):
        found = session.exec(
            select(model.id)  # type: ignore[attr-defined]
            .where(
                col(model.reconstruction_id).in_(items),  # type: ignore[attr-defined]
                col(model.labeler_id).in_(assigned),  # type: ignore[attr-defined]
            )
            .limit(1)
        ).first()
        if found is not None:
            return True
    return False


def _audit(
    session: Session, actor_id: int | None, action: str, batch: Batch, **detail: object
) -> None:
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            target=f"batch:{batch.id}",
            detail={"batch": batch.name, **detail},
        )
    )


def assign(session: Session, batch_id: int, labeler_id: int, actor_id: int | None) -> str:
    """Give the batch to the labeler, or move it from another labeler if nobody started it."""
    batch = _batch(session, batch_id)
    labeler = _labeler(session, labeler_id)
    if batch.locked:
        raise AssignError(f"{batch.name} is locked; unlock it before changing its labeler")
    current = _assignments(session, batch_id)
    if len(current) > 1:
        raise AssignError(f"{batch.name} has several labelers (an agreement batch)")
    if current and current[0].labeler_id == labeler.id:
        return f"{batch.name} is already assigned to {labeler.username}"
    if current:
        previous = session.get(User, current[0].labeler_id)
        if is_started(session, batch_id):
            raise AssignError(
                f"{batch.name} was started by {previous.username if previous else '?'}; "
                "only unstarted batches can be reassigned"
            )
        row = current[0]
        row.labeler_id = labeler.id  # type: ignore[assignment]
        row.status = AssignmentStatus.assigned
        row.assigned_at = utcnow()
        row.started_at = row.finished_at = row.last_activity_at = None
        row.active_seconds = 0.0
        session.add(row)
        _audit(
            session,
            actor_id,
            "reassign_batch",
            batch,
            from_labeler=previous.username if previous else None,
            to_labeler=labeler.username,
        )
        session.commit()
        return f"{batch.name} moved to {labeler.username}"
    session.add(Assignment(batch_id=batch_id, labeler_id=labeler.id))  # type: ignore[arg-type]
    _audit(session, actor_id, "assign_batch", batch, labeler=labeler.username)
    session.commit()
    return f"{batch.name} assigned to {labeler.username}"


def unassign(session: Session, batch_id: int, actor_id: int | None) -> str:
    """Take an unstarted, unlocked batch back from its labeler."""
    batch = _batch(session, batch_id)
    if batch.locked:
        raise AssignError(f"{batch.name} is locked")
    current = _assignments(session, batch_id)
    if not current:
        return f"{batch.name} was not assigned"
    if is_started(session, batch_id):
        raise AssignError(f"{batch.name} was started; it cannot be taken back")
    for row in current:
        session.delete(row)
    _audit(session, actor_id, "unassign_batch", batch)
    session.commit()
    return f"{batch.name} is unassigned"


def _unassigned_batches(session: Session, bulk_ids: Sequence[int] | None) -> list[tuple[int, int]]:
    """``(batch id, items)`` of unlocked batches in bulks without any labeler, in bulk order."""
    assigned = select(Assignment.batch_id)
    query = (
        select(col(Batch.id), func.count(col(BatchItem.id)))
        .join(BatchItem, col(BatchItem.batch_id) == col(Batch.id), isouter=True)
        .where(
            col(Batch.bulk_id).is_not(None),
            col(Batch.locked).is_(False),
            col(Batch.id).not_in(assigned),
        )
        .group_by(col(Batch.id), col(Batch.bulk_id), col(Batch.number))
        .order_by(col(Batch.bulk_id), col(Batch.number), col(Batch.id))
    )
    if bulk_ids is not None:
        query = query.where(col(Batch.bulk_id).in_(list(bulk_ids)))
    return [(int(i or 0), int(n)) for i, n in session.exec(query).all()]


def assign_bulk(session: Session, bulk_id: int, labeler_id: int, actor_id: int | None) -> int:
    """Give every unassigned, unlocked batch of the bulk to one labeler; returns how many."""
    labeler = _labeler(session, labeler_id)
    batch_ids = [i for i, _ in _unassigned_batches(session, [bulk_id])]
    session.add_all(Assignment(batch_id=i, labeler_id=labeler.id) for i in batch_ids)  # type: ignore[arg-type]
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action="assign_bulk",
            target=f"bulk:{bulk_id}",
            detail={"labeler": labeler.username, "batches": len(batch_ids)},
        )
    )
    session.commit()
    return len(batch_ids)


def images_per_labeler(session: Session, labeler_ids: Sequence[int]) -> dict[int, int]:
    """Images each labeler holds in assigned batches (one query)."""
    rows = session.exec(
        select(col(Assignment.labeler_id), func.count(col(BatchItem.id)))
        .join(BatchItem, col(BatchItem.batch_id) == col(Assignment.batch_id))
        .where(col(Assignment.labeler_id).in_(list(labeler_ids)))
        .group_by(col(Assignment.labeler_id))
    ).all()
    load = {i: 0 for i in labeler_ids}
    load.update({int(i): int(n) for i, n in rows})
    return load


@dataclass(frozen=True, slots=True)
class SplitResult:
    batches: int
    images_per_labeler: dict[str, int]


def even_split(
    session: Session,
    labeler_ids: Sequence[int],
    actor_id: int | None,
    bulk_ids: Sequence[int] | None = None,
) -> SplitResult:
    """Hand out the unassigned batches so that every labeler ends with about as many images.

    Counts what each labeler holds already; larger batches go first, each to the labeler with the
    fewest images so far (ties: the order given), which leaves the totals at most one batch apart.
    """
    if not labeler_ids:
        raise AssignError("choose at least one labeler")
    users = [_labeler(session, i) for i in dict.fromkeys(labeler_ids)]
    order = [u.id for u in users]
    load = images_per_labeler(session, order)  # type: ignore[arg-type]
    pool = sorted(_unassigned_batches(session, bulk_ids), key=lambda b: -b[1])
    new: list[Assignment] = []
    for batch_id, n_items in pool:
        target = min(order, key=lambda i: (load[i], order.index(i)))  # type: ignore[index]
        load[target] += n_items  # type: ignore[index]
        new.append(Assignment(batch_id=batch_id, labeler_id=target))  # type: ignore[arg-type]
    session.add_all(new)
    names = {u.id: u.username for u in users}
    result = SplitResult(len(new), {names[i]: load[i] for i in order})  # type: ignore[index]
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action="even_split",
            target="bulks:" + (",".join(map(str, bulk_ids)) if bulk_ids is not None else "all"),
            detail={"batches": result.batches, "images_per_labeler": result.images_per_labeler},
        )
    )
    session.commit()
    return result


def set_locked(session: Session, batch_id: int, locked: bool, actor_id: int | None) -> str:
    """Lock a finished batch (every labeler done) or unlock one."""
    batch = _batch(session, batch_id)
    if batch.locked == locked:
        return f"{batch.name} is already {'locked' if locked else 'unlocked'}"
    if locked:
        current = _assignments(session, batch_id)
        if not current or any(a.status != AssignmentStatus.done for a in current):
            raise AssignError(f"{batch.name} is not finished; only finished batches can be locked")
    batch.locked = locked
    session.add(batch)
    _audit(session, actor_id, "lock_batch" if locked else "unlock_batch", batch)
    session.commit()
    return f"{batch.name} {'locked' if locked else 'unlocked'}"
