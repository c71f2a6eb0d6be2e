"""Assignments: even split by images, reassigning only unstarted batches, locking finished ones."""

from __future__ import annotations

import pytest
from sqlmodel import select

from backend.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    AuditEntry,
    Batch,
    BatchItem,
    Bulk,
    Reconstruction,
    Review,
    Role,
    User,
)
from backend.services import access, assignments
from tests.services.helpers import fake_study
from tests.utils.factories import make_user


@pytest.fixture()
def study(session):
    fake_study(session, n_sources=20, batch_size=8)
    people = [make_user(session, name) for name in ("ana", "ben", "cai")]
    batches = session.exec(select(Batch).order_by(Batch.id)).all()
    return people, batches


def holder(session, batch_id):
    session.expire_all()
    rows = session.exec(select(Assignment).where(Assignment.batch_id == batch_id)).all()
    return [r.labeler_id for r in rows]


def test_even_split_balances_images(session, study):
    people, batches = study
    assert len(batches) == 20
    result = assignments.even_split(session, [u.id for u in people], None)
    assert result.batches == 20
    loads = sorted(result.images_per_labeler.values())
    assert sum(loads) == 160 and loads[-1] - loads[0] <= 8
    assert len(session.exec(select(Assignment)).all()) == 20
    again = assignments.even_split(session, [u.id for u in people], None)
    assert again.batches == 0  # nothing left to hand out


def test_even_split_counts_what_labelers_hold_and_can_be_limited_to_bulks(session, study):
    people, batches = study
    ana, ben, _ = people
    for batch in batches[:4]:
        assignments.assign(session, batch.id, ana.id, None)
    first_bulk = session.exec(select(Bulk).order_by(Bulk.number)).first()
    result = assignments.even_split(session, [ana.id, ben.id], None, bulk_ids=[first_bulk.id])
    assert result.images_per_labeler == {"ana": 40, "ben": 40}
    left = [b for b in batches if not holder(session, b.id)]
    assert left and all(b.bulk_id != first_bulk.id for b in left)


def test_reassign_only_while_unstarted(session, study):
    people, batches = study
    ana, ben, cai = people
    batch = batches[0]
    assert "assigned to ana" in assignments.assign(session, batch.id, ana.id, None)
    assert "moved to ben" in assignments.assign(session, batch.id, ben.id, None)
    assert holder(session, batch.id) == [ben.id]
    item = session.exec(select(BatchItem).where(BatchItem.batch_id == batch.id)).first()
    session.add(
        Annotation(
            reconstruction_id=item.reconstruction_id,
            labeler_id=ben.id,
            x=1,
            y=1,
            w=5,
            h=5,
            deleted=True,
        )
    )
    session.commit()
    with pytest.raises(assignments.AssignError, match="started by ben"):
        assignments.assign(session, batch.id, cai.id, None)
    with pytest.raises(assignments.AssignError, match="started"):
        assignments.unassign(session, batch.id, None)
    assert holder(session, batch.id) == [ben.id]
    other = batches[1]
    assignments.assign(session, other.id, ana.id, None)
    item = session.exec(select(BatchItem).where(BatchItem.batch_id == other.id)).first()
    session.add(Review(labeler_id=ana.id, reconstruction_id=item.reconstruction_id, done=True))
    session.commit()
    assert assignments.is_started(session, other.id)
    third = batches[2]
    assignments.assign(session, third.id, ana.id, None)
    assert assignments.unassign(session, third.id, None).endswith("unassigned")
    assert holder(session, third.id) == []
    actions = session.exec(select(AuditEntry.action)).all()
    assert {"assign_batch", "reassign_batch", "unassign_batch"} <= set(actions)


def test_only_labelers_receive_batches(session, study):
    _, batches = study
    boss = make_user(session, "boss", Role.admin)
    with pytest.raises(assignments.AssignError, match="labeler"):
        assignments.assign(session, batches[0].id, boss.id, None)
    with pytest.raises(assignments.AssignError, match="no batch"):
        assignments.assign(session, 999_999, boss.id, None)


def test_lock_finished_batches_only_and_locked_ones_stay_put(session, study):
    people, batches = study
    ana, ben, _ = people
    batch = batches[0]
    with pytest.raises(assignments.AssignError, match="not finished"):
        assignments.set_locked(session, batch.id, True, None)
    assignments.assign(session, batch.id, ana.id, None)
    item = session.exec(select(BatchItem).where(BatchItem.batch_id == batch.id)).first()
    blind_name = session.get(Reconstruction, item.reconstruction_id).blind_name

    def writable(user: User) -> bool:
        found = access.item_for_user(session, user, blind_name)
        return found is not None and found.writable

    assert writable(ana)
    row = session.exec(select(Assignment).where(Assignment.batch_id == batch.id)).one()
    row.status = AssignmentStatus.done
    session.add(row)
    session.commit()
    assert assignments.set_locked(session, batch.id, True, None).endswith("locked")
    assert not writable(ana)
    assert not writable(ben)
    with pytest.raises(assignments.AssignError, match="locked"):
        assignments.assign(session, batch.id, ben.id, None)
    assignments.set_locked(session, batch.id, False, None)
    assert writable(ana)


def test_assign_bulk_takes_only_unassigned_batches(session, study):
    people, batches = study
    ana, ben, _ = people
    bulk_id = batches[0].bulk_id
    assignments.assign(session, batches[0].id, ben.id, None)
    n = assignments.assign_bulk(session, bulk_id, ana.id, None)
    in_bulk = [b for b in batches if b.bulk_id == bulk_id]
    assert n == len(in_bulk) - 1
    assert holder(session, batches[0].id) == [ben.id]
