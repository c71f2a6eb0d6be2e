"""Prescreening pages: the card, ratings by htmx or plain form, agreement, bad input."""

from __future__ import annotations

from sqlmodel import select

from backend.models import PrescreenVote, Role, SourceImage, SourceStatus
from tests.services.helpers import fake_sources
from tests.utils.factories import login, make_user
from tests.views.admin.conftest import without_csrf

HX = {"HX-Request": "true"}


def test_card_shows_image_criteria_and_keys(client, admin, session):
    ids = fake_sources(session, 3)
    page = client.get("/admin/prescreen").text
    image = session.get(SourceImage, ids[0])
    assert f"/iiif/3/{image.prepared_sha1}/full/" in page
    for words in (
        "humans or depictions of humans",
        "symbols and signs",
        "vehicles",
        "buildings",
        "reflections and shadows",
        "large, close objects without any small details",
    ):
        assert words in page
    assert 'data-key="1 i"' in page and 'data-key="3 e"' in page
    assert "/static/js/admin/prescreen.js" in page
    second = session.get(SourceImage, ids[1])
    assert f'rel="prefetch" href="/iiif/3/{second.prepared_sha1}' in page


def test_htmx_rating_returns_the_next_card(client, admin, session):
    ids = fake_sources(session, 2)
    fragment = client.post(f"/admin/prescreen/{ids[0]}", data={"rating": "exclude"}, headers=HX)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="prescreen-card"')
    assert f'data-source-id="{ids[1]}"' in fragment.text
    last = client.post(f"/admin/prescreen/{ids[1]}", data={"rating": "include"}, headers=HX)
    assert 'id="prescreen-done"' in last.text
    votes = session.exec(select(PrescreenVote.rating).order_by(PrescreenVote.id)).all()
    assert [v.value for v in votes] == ["exclude", "include"]


def test_plain_form_post_redirects_to_the_next_image(client, admin, session):
    [source_id] = fake_sources(session, 1)
    response = client.post(
        f"/admin/prescreen/{source_id}", data={"rating": "borderline"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/admin/prescreen"
    again = client.get(f"/admin/prescreen?source={source_id}").text
    assert "Your rating: borderline" in again and 'aria-pressed="true"' in again


def test_two_raters_remove_an_image_and_see_their_agreement(client, admin, session):
    ids = fake_sources(session, 4)
    for source_id, rating in zip(ids, ["exclude", "borderline", "include", "include"], strict=True):
        client.post(f"/admin/prescreen/{source_id}", data={"rating": rating}, headers=HX)
    make_user(session, "rui", Role.researcher)
    login(client, "rui")
    for source_id, rating in zip(ids, ["borderline", "include", "include", "exclude"], strict=True):
        client.post(f"/admin/prescreen/{source_id}", data={"rating": rating}, headers=HX)
    session.expire_all()
    statuses = [session.get(SourceImage, i).status for i in ids]
    assert statuses == [SourceStatus.excluded] + [SourceStatus.prepared] * 3
    page = client.get("/admin/prescreen/agreement").text
    assert "boss – rui" in page and "Cohen" in page and "Fleiss" in page
    assert "4 images rated by all 2 raters" in page


def test_bad_ratings_and_unknown_images_change_nothing(client, admin, session):
    [source_id] = fake_sources(session, 1)
    for rating in ("", "maybe", "INCLUDE", "1" * 30):
        response = client.post(f"/admin/prescreen/{source_id}", data={"rating": rating})
        assert response.status_code == 422, rating
    assert client.post("/admin/prescreen/999999", data={"rating": "include"}).status_code == 404
    assert client.post("/admin/prescreen/abc", data={"rating": "include"}).status_code == 422
    assert client.get("/admin/prescreen?source=-4").status_code == 422
    assert client.get("/admin/prescreen?source=999999").status_code == 404
    without_csrf(client)
    refused = client.post(f"/admin/prescreen/{source_id}", data={"rating": "include"})
    assert refused.status_code == 403
    assert session.exec(select(PrescreenVote)).all() == []
