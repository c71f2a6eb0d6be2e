"""The labeler's HTML pages: login, my batches, the workspace."""

import re

from tests.utils.factories import PASSWORD, make_batch, make_user


def form_login(client, username, password=PASSWORD, next_path=""):
    return client.post(
        "/login",
        data={"username": username, "password": password, "next": next_path},
        follow_redirects=False,
    )


def test_login_page_and_form(client, session):
    make_user(session, "ana")
    page = client.get("/login")
    assert page.status_code == 200 and "<form" in page.text and 'name="password"' in page.text
    wrong = form_login(client, "ana", "nope")
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    right = form_login(client, "ana", next_path="/batches")
    assert right.status_code == 303 and right.headers["location"] == "/batches"
    offsite = form_login(client, "ana", next_path="//evil.example/")
    assert offsite.headers["location"] == "/"


def test_pages_need_login(client, session):
    for path in ("/batches", "/batches/1"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_my_batches_show_progress(client, session):
    ana = make_user(session, "ana")
    fixture = make_batch(session, ana, n_items=3, name="Batch seven")
    form_login(client, "ana")
    page = client.get("/batches")
    assert page.status_code == 200
    assert "Batch seven" in page.text and f"/batches/{fixture.batch.id}" in page.text
    assert re.search(r"0\s*/\s*3", page.text)
    fragment = client.get("/batches", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "Batch seven" in fragment.text


def test_workspace_page(client, session):
    ana = make_user(session, "ana")
    fixture = make_batch(session, ana, n_items=2)
    form_login(client, "ana")
    page = client.get(f"/batches/{fixture.batch.id}")
    assert page.status_code == 200
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert token and len(token.group(1)) >= 32
    for secret in ("secret-original-name", "test-set", "codec"):
        assert secret not in page.text.lower()


def test_workspace_of_another_labeler_is_404(client, session):
    make_user(session, "ana")
    theirs = make_batch(session, make_user(session, "bob"), n_items=1)
    form_login(client, "ana")
    assert client.get(f"/batches/{theirs.batch.id}").status_code == 404
    assert client.get("/batches/not-a-number").status_code in (404, 422)


def test_logout_form(client, session):
    make_user(session, "ana")
    form_login(client, "ana")
    page = client.get("/batches")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/batches", follow_redirects=False).status_code == 303
