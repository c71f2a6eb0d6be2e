"""Assignment page: even split, single batches, refusals shown on the page."""

from __future__ import annotations

from sqlmodel import select

from backend.models import Annotation, Assignment, AssignmentStatus, Batch, BatchItem
from tests.services.helpers import fake_study
from tests.utils.factories import make_user
from tests.views.admin.conftest import squash, without_csrf


def test_even_split_and_single_batches(client, admin, session):
    fake_study(session, n_sources=20, batch_size=8)
    ana, ben = make_user(session, "ana"), make_user(session, "ben")
    page = client.get("/admin/assignments").text
    assert page.count('data-status="unassigned"') == 20
    response = client.post(
        "/admin/assignments/split",
        data={"labeler_ids": [str(ana.id), str(ben.id)]},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "images+per+labeler+now+ana%3A+80%2C+ben%3A+80" in response.headers["location"]
    shown = squash(client.get(response.headers["location"]).text)
    assert "images per labeler now ana: 80, ben: 80" in shown
    batch = session.exec(select(Batch).order_by(Batch.id)).first()
    moved = client.post(
        f"/admin/assignments/batch/{batch.id}",
        data={"labeler_id": str(ben.id), "return_bulk": str(batch.bulk_id)},
        follow_redirects=False,
    )
    assert moved.headers["location"].startswith(f"/admin/assignments?bulk={batch.bulk_id}&msg=")
    session.expire_all()
    row = session.exec(select(Assignment).where(Assignment.batch_id == batch.id)).one()
    assert row.labeler_id in (ana.id, ben.id)


def test_refusals_are_shown_and_change_nothing(client, admin, session):
    fake_study(session, n_sources=20, batch_size=8)
    ana, ben = make_user(session, "ana"), make_user(session, "ben")
    batch = session.exec(select(Batch).order_by(Batch.id)).first()
    client.post(f"/admin/assignments/batch/{batch.id}", data={"labeler_id": str(ana.id)})
    item = session.exec(select(BatchItem).where(BatchItem.batch_id == batch.id)).first()
    session.add(
        Annotation(reconstruction_id=item.reconstruction_id, labeler_id=ana.id, x=0, y=0, w=3, h=3)
    )
    session.commit()
    refused = client.post(f"/admin/assignments/batch/{batch.id}", data={"labeler_id": str(ben.id)})
    assert refused.status_code == 409 and "was started by ana" in refused.text
    lock = client.post(f"/admin/assignments/batch/{batch.id}/lock")
    assert lock.status_code == 409 and "not finished" in lock.text
    bad = client.post(f"/admin/assignments/batch/{batch.id}", data={"labeler_id": "abc"})
    assert bad.status_code == 422 and "whole number" in bad.text
    nobody = client.post("/admin/assignments/split", data={})
    assert nobody.status_code == 409 and "at least one labeler" in nobody.text
    huge = client.post("/admin/assignments/split", data={"labeler_ids": ["9" * 40]})
    assert huge.status_code == 422 and "between 1 and" in huge.text
    session.expire_all()
    assert [a.labeler_id for a in session.exec(select(Assignment)).all()] == [ana.id]


def test_lock_a_finished_batch_from_the_page(client, admin, session):
    fake_study(session, n_sources=20, batch_size=8)
    ana = make_user(session, "ana")
    batch = session.exec(select(Batch).order_by(Batch.id)).first()
    client.post(f"/admin/assignments/batch/{batch.id}", data={"labeler_id": str(ana.id)})
    row = session.exec(select(Assignment)).one()
    row.status = AssignmentStatus.done
    session.add(row)
    session.commit()
    assert f"/admin/assignments/batch/{batch.id}/lock" in client.get("/admin/assignments").text
    client.post(f"/admin/assignments/batch/{batch.id}/lock")
    session.expire_all()
    assert session.get(Batch, batch.id).locked
    page = client.get("/admin/assignments").text
    assert f"/admin/assignments/batch/{batch.id}/unlock" in page
    without_csrf(client)
    assert client.post(f"/admin/assignments/batch/{batch.id}/unlock").status_code == 403
    session.expire_all()
    assert session.get(Batch, batch.id).locked
