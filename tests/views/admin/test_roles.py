"""Who may open the admin pages: admins everything, researchers prescreening, nobody else."""

from __future__ import annotations

from sqlmodel import select

from backend.models import Plan, PrescreenVote, Role
from tests.services.helpers import fake_sources
from tests.utils.factories import login, make_user

ADMIN_ONLY = [
    "/admin",
    "/admin/ingest",
    "/admin/plans",
    "/admin/compression",
    "/admin/assignments",
    "/admin/dashboard",
    "/admin/dashboard.csv",
    "/admin/sources",
]
STAFF = ["/admin/prescreen", "/admin/prescreen/agreement"]
POSTS = [
    "/admin/plans",
    "/admin/plans/preview",
    "/admin/ingest/folder",
    "/admin/ingest/upload",
    "/admin/compression",
    "/admin/assignments/split",
    "/admin/sources/1/anonymise",
]


def test_anonymous_visitors_are_sent_to_login(client):
    for path in ADMIN_ONLY + STAFF:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == f"/login?next={path}"
    for path in POSTS:
        assert client.post(path, data={}, follow_redirects=False).status_code == 303, path


def test_htmx_requests_of_anonymous_visitors_redirect_the_whole_page(client):
    response = client.get("/admin/compression", headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"] == "/login?next=/admin/compression"


def test_labelers_get_403_everywhere(client, session):
    make_user(session, "ana", Role.labeler)
    login(client, "ana")
    for path in ADMIN_ONLY + STAFF:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 403, path
        assert "only" in response.text and "<html" in response.text
    for path in POSTS:
        assert client.post(path, data={"seed": "1"}).status_code == 403, path
    assert session.exec(select(Plan)).all() == []


def test_researchers_prescreen_but_nothing_else(client, session):
    make_user(session, "rui", Role.researcher)
    [source_id] = fake_sources(session, 1)
    login(client, "rui")
    for path in ADMIN_ONLY:
        assert client.get(path).status_code == 403, path
    for path in STAFF:
        assert client.get(path).status_code == 200, path
    for path in POSTS:
        assert client.post(path, data={}).status_code == 403, path
    voted = client.post(f"/admin/prescreen/{source_id}", data={"rating": "include"})
    assert voted.status_code == 200  # followed to the next card
    assert len(session.exec(select(PrescreenVote)).all()) == 1


def test_admins_open_every_page(client, admin):
    for path in ADMIN_ONLY + STAFF:
        response = client.get(path)
        assert response.status_code == 200, path
    page = client.get("/admin").text
    for link in (
        "/admin/ingest",
        "/admin/prescreen",
        "/admin/plans",
        "/admin/compression",
        "/admin/assignments",
        "/admin/dashboard",
        "/admin/agreement",
        "/admin/sources",
    ):
        assert f'href="{link}"' in page
