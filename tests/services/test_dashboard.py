"""Progress per bulk, batch and labeler from grouped queries, and the progress file."""

from __future__ import annotations

import csv
import io

from sqlmodel import select

from backend.models import Annotation, Assignment, AssignmentStatus, Batch, BatchItem, Review, Role
from backend.services import assignments, dashboard
from tests.services.helpers import fake_study
from tests.utils.factories import make_user


def test_counts_per_batch_bulk_and_labeler(session):
    fake_study(session, n_sources=20, batch_size=8)
    ana, ben = make_user(session, "ana"), make_user(session, "ben")
    boss = make_user(session, "boss", Role.admin)
    batches = session.exec(select(Batch).order_by(Batch.id)).all()
    assignments.assign(session, batches[0].id, ana.id, None)
    assignments.assign(session, batches[1].id, ben.id, None)
    items = session.exec(
        select(BatchItem.reconstruction_id).where(BatchItem.batch_id == batches[0].id)
    ).all()
    boxes = [
        Annotation(reconstruction_id=r, labeler_id=ana.id, x=0, y=0, w=4, h=4) for r in items[:3]
    ]
    boxes.append(Annotation(reconstruction_id=items[0], labeler_id=ana.id, x=9, y=9, w=4, h=4))
    boxes.append(
        Annotation(reconstruction_id=items[1], labeler_id=ana.id, x=1, y=1, w=2, h=2, deleted=True)
    )
    boxes.append(Annotation(reconstruction_id=items[1], labeler_id=boss.id, x=1, y=1, w=2, h=2))
    session.add_all(boxes)
    session.add_all(Review(labeler_id=ana.id, reconstruction_id=r, done=True) for r in items[:5])
    session.add(Review(labeler_id=ana.id, reconstruction_id=items[5], multi=True))
    row = session.exec(select(Assignment).where(Assignment.labeler_id == ana.id)).one()
    row.status, row.active_seconds = AssignmentStatus.in_progress, 5400.0
    session.add(row)
    session.commit()

    board = dashboard.dashboard(session)
    by_batch = {r.batch_id: r for r in board.rows}
    first = by_batch[batches[0].id]
    assert (first.labeler, first.status, first.items) == ("ana", "in_progress", 8)
    assert (first.annotations, first.images_done, first.multi) == (4, 5, 1)
    assert first.active_seconds == 5400.0 and first.started
    assert by_batch[batches[1].id].status == "assigned"
    assert by_batch[batches[2].id].status == "unassigned"
    assert board.total.batches == 20 and board.total.images == 160
    assert board.total.by_status == {"unassigned": 18, "assigned": 1, "in_progress": 1, "done": 0}
    assert [t.key for t in board.bulks] == ["Bulk 1", "Bulk 2"]
    assert [(t.key, t.annotations, t.images_done) for t in board.labelers] == [
        ("ana", 4, 5),
        ("ben", 0, 0),
    ]
    one_bulk = dashboard.dashboard(session, batches[0].bulk_id)
    assert {r.bulk_id for r in one_bulk.rows} == {batches[0].bulk_id}
    assert one_bulk.rows[0].annotations == 4

    lines = list(csv.DictReader(io.StringIO(dashboard.progress_csv(board.rows))))
    assert len(lines) == 20 and list(lines[0]) == list(dashboard.CSV_COLUMNS)
    first_line = next(x for x in lines if x["batch_id"] == str(batches[0].id))
    assert first_line["labeler"] == "ana" and first_line["annotations"] == "4"
    assert first_line["active_minutes"] == "90.0" and first_line["locked"] == "no"
