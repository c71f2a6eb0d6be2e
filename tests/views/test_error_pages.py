"""Errors of HTML pages are pages of the site; the JSON API keeps JSON errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.utils.factories import PASSWORD, make_batch, make_user


def is_site_page(response) -> bool:  # type: ignore[no-untyped-def]
    """An HTML page built on the base layout (its header), not a bare JSON body."""
    return response.headers["content-type"].startswith("text/html") and (
        'class="site-header"' in response.text
    )


@pytest.fixture()
def ana(client, session):  # type: ignore[no-untyped-def]
    user = make_user(session, "ana")
    client.post("/login", data={"username": "ana", "password": PASSWORD})
    return user


def test_a_bad_id_in_a_page_address_is_an_html_422(client, ana):
    response = client.get("/batches/abc")
    assert response.status_code == 422 and is_site_page(response)
    assert 'data-status="422"' in response.text and "batch_id" in response.text
    assert 'id="user-name">ana<' in response.text  # still signed in, header and all


def test_a_missing_batch_and_an_unknown_page_are_html_404(client, ana, session):
    theirs = make_batch(session, make_user(session, "bob"), n_items=1)
    for path in ("/batches/987654", f"/batches/{theirs.batch.id}", "/no/such/page"):
        response = client.get(path)
        assert response.status_code == 404 and is_site_page(response), path
    assert "No such batch." in client.get("/batches/987654").text


def test_admin_pages_answer_bad_ids_with_html(client, session):
    from backend.models import Role

    make_user(session, "boss", Role.admin)
    client.post("/login", data={"username": "boss", "password": PASSWORD})
    response = client.get("/admin/dashboard?bulk=abc")
    assert response.status_code == 422 and is_site_page(response)
    assert "bulk" in response.text


def test_the_api_keeps_json_errors(client, ana):
    response = client.get("/api/v1/batches/abc/items")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"][0]["loc"] == ["path", "batch_id"]
    missing = client.get("/api/v1/batches/987654/items")
    assert missing.status_code == 404 and missing.json() == {"detail": "no such batch"}
    assert client.get("/api/v1/no-such-endpoint").json() == {"detail": "Not Found"}


def test_a_server_error_is_a_page_for_people_and_json_for_the_api(app, data_dir):
    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    app.add_api_route("/api/v1/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/boom")
        assert page.status_code == 500 and is_site_page(page)
        assert "a bug" not in page.text  # nothing internal leaks onto the page
        api = client.get("/api/v1/boom")
        assert api.status_code == 500 and api.json() == {"detail": "internal error"}
