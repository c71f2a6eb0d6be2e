"""An admin reviews a labeler's work read only, from the dashboard and the assignments page."""

from __future__ import annotations

import re

from sqlmodel import select

from backend.models import Annotation, Assignment, Review
from tests.utils.factories import PASSWORD, make_batch, make_user


def _assignment(session, batch_id: int, labeler_id: int) -> Assignment:  # type: ignore[no-untyped-def]
    return session.exec(
        select(Assignment).where(
            Assignment.batch_id == batch_id, Assignment.labeler_id == labeler_id
        )
    ).one()


def test_review_page_is_the_workspace_read_only_and_marked(client, admin, session):
    ana = make_user(session, "labeler2")
    fixture = make_batch(session, ana, n_items=2)
    assignment = _assignment(session, fixture.batch.id, ana.id)
    page = client.get(f"/admin/assignments/{assignment.id}/review")
    assert page.status_code == 200
    assert 'data-read-only="true"' in page.text
    assert f'data-items-url="/api/v1/assignments/{assignment.id}/work"' in page.text
    banner = re.search(r'<p id="review-banner"[^>]*>(.*?)</p>', page.text, re.S)
    assert banner and "Reviewing labeler2's work — read only" in " ".join(banner.group(1).split())


def test_review_is_linked_from_the_dashboard_and_the_assignments_page(client, admin, session):
    ana = make_user(session, "ana")
    fixture = make_batch(session, ana, n_items=1)
    link = f'href="/admin/assignments/{_assignment(session, fixture.batch.id, ana.id).id}/review"'
    assert link in client.get("/admin/dashboard").text
    assert link in client.get("/admin/assignments").text
    assert link in client.get("/batches").text


def test_an_admin_opening_a_labelers_batch_url_is_sent_to_the_review(client, admin, session):
    """Not an editable empty copy of the admin's own: the labeler's work, read only."""
    ana = make_user(session, "ana")
    fixture = make_batch(session, ana, n_items=1)
    response = client.get(f"/batches/{fixture.batch.id}", follow_redirects=False)
    assert response.status_code == 303
    assignment = _assignment(session, fixture.batch.id, ana.id)
    assert response.headers["location"] == f"/admin/assignments/{assignment.id}/review"
    # Nothing was written for the admin on the way.
    assert session.exec(select(Review)).all() == [] and session.exec(select(Annotation)).all() == []


def test_a_batch_with_several_labelers_offers_each_review(client, admin, session):
    ana, ben = make_user(session, "ana"), make_user(session, "ben")
    fixture = make_batch(session, ana, n_items=1)
    session.add(Assignment(batch_id=fixture.batch.id, labeler_id=ben.id))
    session.commit()
    page = client.get(f"/batches/{fixture.batch.id}")
    assert page.status_code == 200
    for user in (ana, ben):
        assignment = _assignment(session, fixture.batch.id, user.id)
        assert f"/admin/assignments/{assignment.id}/review" in page.text
        assert f"Review {user.username}'s work" in page.text


def test_an_unassigned_batch_says_there_is_nothing_to_review(client, admin, session):
    fixture = make_batch(session, None, n_items=1)
    page = client.get(f"/batches/{fixture.batch.id}")
    assert page.status_code == 200 and 'id="review-none"' in page.text


def test_review_is_for_admins_and_bad_ids_are_pages(client, admin, session):
    from fastapi.testclient import TestClient

    ana = make_user(session, "ana")
    fixture = make_batch(session, ana, n_items=1)
    url = f"/admin/assignments/{_assignment(session, fixture.batch.id, ana.id).id}/review"
    missing = client.get("/admin/assignments/999999/review")
    assert missing.status_code == 404 and "No such assignment." in missing.text
    assert client.get("/admin/assignments/abc/review").status_code == 422
    with TestClient(client.app) as labeler:
        labeler.post("/login", data={"username": "ana", "password": PASSWORD})
        assert labeler.get(url).status_code == 403
